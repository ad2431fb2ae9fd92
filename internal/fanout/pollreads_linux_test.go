package fanout

// pollerIdle reports whether p watches n sockets, every one armed: no
// step runs.
func pollerIdle(p *poller, n int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	idle := len(p.reads) == n
	for _, r := range p.reads {
		idle = idle && r.armed.Load()
	}
	return idle
}
