//go:build !linux

package fanout

// poller is Linux's (epoll). Elsewhere newPoller fails and every client
// keeps a reader goroutine waiting on its socket (Hub.serve), at the cost
// of its stack: about 2.5 KiB more per idle client.
type poller struct{}

func newPoller() (*poller, error)    { return nil, errNoPoller }
func (*poller) add(*pollReads) error { return errNoPoller }
func (*poller) arm(*pollReads) error { return errNoPoller }
func (*poller) remove(*pollReads)    {}
func (*poller) close()               {}
