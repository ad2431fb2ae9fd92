package service

import (
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// chanListener is a net.Listener whose Accept hands out the conns sent on
// it: in-memory, so that synctest sees Accept block.
type chanListener struct {
	conns  chan net.Conn
	closed chan struct{}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}
func (l *chanListener) Close() error   { close(l.closed); return nil }
func (l *chanListener) Addr() net.Addr { return &net.TCPAddr{} }

func TestLimitListener(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := &chanListener{conns: make(chan net.Conn), closed: make(chan struct{})}
		ln := newLimitListener(inner, 2)
		var accepted atomic.Int32
		conns := make(chan net.Conn, 10)
		done := make(chan struct{})
		// Exits when ln is closed at the end of the test.
		go func() {
			defer close(done)
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				conns <- c
			}
		}()
		var peers []net.Conn
		offer := func() {
			a, b := net.Pipe()
			peers = append(peers, b)
			// Exits once Accept takes the conn or the listener is closed.
			go func() {
				select {
				case inner.conns <- a:
				case <-inner.closed:
					a.Close()
				}
			}()
		}
		for range 3 {
			offer()
		}
		synctest.Wait()
		if n := accepted.Load(); n != 2 {
			t.Fatalf("accepted %d connections with limit 2, want 2", n)
		}
		first := <-conns
		<-conns
		first.Close()
		first.Close() // a second Close gives back nothing more
		synctest.Wait()
		if n := accepted.Load(); n != 3 {
			t.Fatalf("accepted %d connections after one of 2 closed, want 3", n)
		}
		offer()
		synctest.Wait()
		if n := accepted.Load(); n != 3 {
			t.Fatalf("accepted %d connections after a double Close, want still 3", n)
		}
		// Close wakes the Accept waiting for a slot.
		ln.Close()
		<-done
		for _, p := range peers {
			p.Close()
		}
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
}
