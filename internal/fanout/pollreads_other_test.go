//go:build !linux

package fanout

// pollerIdle is never called where there is no poller (pollerHere).
func pollerIdle(*poller, int) bool { return false }
