//go:build cluster && unix

package clustertest

import (
	"net"
	"sync"
	"testing"
	"time"
)

// faultProxy is a TCP proxy on 127.0.0.1 that forwards bytes unchanged
// until told to cut (close every connection and every new one at once)
// or to black-hole (hold every byte, both ways, keeping the connections
// open, as a partition that drops packets does); heal forwards again,
// held bytes first. It is safe for concurrent use; close stops it and
// waits for its goroutines.
type faultProxy struct {
	target string
	ln     net.Listener
	wg     sync.WaitGroup

	mu     sync.Mutex
	mode   faultMode
	gate   chan struct{} // closed when mode leaves faultHole (or at close)
	open   map[net.Conn]struct{}
	closed bool
}

type faultMode int

const (
	faultNone faultMode = iota
	faultCut
	faultHole
)

// startFaultProxy listens on a free 127.0.0.1 port in front of target; it
// is closed at cleanup.
func startFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen = %v", err)
	}
	p := &faultProxy{target: target, ln: ln, gate: make(chan struct{}), open: make(map[net.Conn]struct{})}
	close(p.gate)
	p.wg.Add(1)
	// Exits when ln is closed.
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			// Exits when either side closes or the proxy cuts.
			go func() {
				defer p.wg.Done()
				p.serve(c)
			}()
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *faultProxy) addr() string { return p.ln.Addr().String() }

// set switches to mode m.
func (p *faultProxy) set(m faultMode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.mode == m {
		return
	}
	if m == faultHole {
		p.gate = make(chan struct{})
	} else if p.mode == faultHole {
		close(p.gate)
	}
	p.mode = m
	if m == faultCut {
		for c := range p.open {
			c.Close()
		}
	}
}

func (p *faultProxy) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	if p.mode == faultHole {
		close(p.gate)
	}
	p.mode = faultNone
	for c := range p.open {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

// track adds c to the open connections, or reports false when cut or
// closed.
func (p *faultProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.mode == faultCut {
		return false
	}
	p.open[c] = struct{}{}
	return true
}

func (p *faultProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.open, c)
	p.mu.Unlock()
	c.Close()
}

func (p *faultProxy) serve(c net.Conn) {
	if !p.track(c) {
		c.Close()
		return
	}
	defer p.untrack(c)
	up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		return
	}
	if !p.track(up) {
		up.Close()
		return
	}
	defer p.untrack(up)
	done := make(chan struct{})
	// Exits when a read from up or a write to c fails.
	go func() {
		defer close(done)
		p.pipe(c, up)
		c.Close()
	}()
	p.pipe(up, c)
	up.Close()
	<-done
}

// pipe copies src to dst, holding each chunk while the proxy black-holes,
// until a read or write fails.
func (p *faultProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			gate := p.gate
			p.mu.Unlock()
			<-gate
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
