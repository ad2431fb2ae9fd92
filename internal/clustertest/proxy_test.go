//go:build cluster && unix

package clustertest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// upstreamRequest is one request a tickerd sent to the upstream.
type upstreamRequest struct {
	inst   string    // instance whose proxy it came through
	conn   int       // connection number, unique across proxies
	symbol string    // from /api/quote/{symbol}/info
	at     time.Time // when its head had been read
}

// requestLog is the upstream requests of every proxy, in the order their
// heads were read. It is safe for concurrent use.
type requestLog struct {
	mu    sync.Mutex
	reqs  []upstreamRequest
	conns map[string]int // connections accepted, by instance
	next  int            // last connection number given
}

func newRequestLog() *requestLog { return &requestLog{conns: make(map[string]int)} }

func (l *requestLog) newConn(inst string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conns[inst]++
	l.next++
	return l.next
}

func (l *requestLog) add(r upstreamRequest) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, r)
}

// since returns a copy of the requests read at or after t.
func (l *requestLog) since(t time.Time) []upstreamRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []upstreamRequest
	for _, r := range l.reqs {
		if !r.at.Before(t) {
			out = append(out, r)
		}
	}
	return out
}

// wait returns the time of the first request from inst read at or after
// t, waiting for one until ctx ends (polling: the time is the one
// recorded, whatever the poll's delay).
func (l *requestLog) wait(ctx context.Context, t time.Time, inst string) (time.Time, error) {
	for {
		for _, r := range l.since(t) {
			if r.inst == inst {
				return r.at, nil
			}
		}
		if !sleepCtx(ctx, 5*time.Millisecond) {
			return time.Time{}, fmt.Errorf("no upstream request from %s since %s: %w", inst, t.Format("15:04:05.000"), ctx.Err())
		}
	}
}

// connsAccepted returns how many connections inst's proxy accepted.
func (l *requestLog) connsAccepted(inst string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns[inst]
}

// proxy is a TCP proxy on 127.0.0.1 in front of the upstream for one
// tickerd instance: it forwards bytes unchanged both ways and parses the
// client's side as HTTP/1.1 requests (pipelined or not) to record each in
// a requestLog. close stops it and waits for its goroutines.
type proxy struct {
	inst     string
	upstream string
	log      *requestLog
	ln       net.Listener

	wg    sync.WaitGroup
	mu    sync.Mutex
	open  map[net.Conn]struct{}
	close func()
}

// startProxy listens on a free 127.0.0.1 port; it is closed at cleanup.
func startProxy(t *testing.T, inst, upstream string, log *requestLog) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen = %v", err)
	}
	p := &proxy{inst: inst, upstream: upstream, log: log, ln: ln, open: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	// Exits when ln is closed.
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !p.track(c) {
				c.Close()
				return
			}
			p.wg.Add(1)
			// Exits when either side of the connection closes.
			go func() {
				defer p.wg.Done()
				defer p.untrack(c)
				p.serve(c)
			}()
		}
	}()
	var once sync.Once
	p.close = func() {
		once.Do(func() {
			ln.Close()
			p.mu.Lock()
			for c := range p.open {
				c.Close()
			}
			p.open = nil
			p.mu.Unlock()
			p.wg.Wait()
		})
	}
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

// track adds c to the open connections, or reports false once closed.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open == nil {
		return false
	}
	p.open[c] = struct{}{}
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open != nil {
		delete(p.open, c)
	}
	c.Close()
}

// serve forwards c to a new upstream connection until either side ends.
func (p *proxy) serve(c net.Conn) {
	id := p.log.newConn(p.inst)
	up, err := net.DialTimeout("tcp", p.upstream, 2*time.Second)
	if err != nil {
		return
	}
	if !p.track(up) {
		up.Close()
		return
	}
	defer p.untrack(up)
	done := make(chan struct{})
	// Exits when up's reads fail: up closed by the upstream, or by this
	// function returning.
	go func() {
		defer close(done)
		_, _ = io.Copy(c, up)
		c.Close()
	}()
	// Every byte read from c goes on to up as read; the parser sees the
	// same bytes, so the recorded requests are exactly the forwarded ones.
	br := bufio.NewReader(io.TeeReader(c, up))
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			break
		}
		p.log.add(upstreamRequest{inst: p.inst, conn: id, symbol: symbolOfPath(req.URL.Path), at: time.Now()})
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			break
		}
	}
	up.Close()
	<-done
}

// symbolOfPath returns SYM of /api/quote/SYM/info, or the path itself.
func symbolOfPath(path string) string {
	s, ok := strings.CutPrefix(path, "/api/quote/")
	if !ok {
		return path
	}
	s, _ = strings.CutSuffix(s, "/info")
	return strings.ToUpper(s)
}
