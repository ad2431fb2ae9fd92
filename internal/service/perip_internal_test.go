package service

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct", "192.0.2.1:5000", nil, "192.0.2.1"},
		{"direct_ignores_xff", "192.0.2.1:5000", []string{"198.51.100.7"}, "192.0.2.1"},
		{"proxy", "10.0.0.2:5000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"proxy_chain", "10.0.0.2:5000", []string{"203.0.113.9, 198.51.100.7, 10.1.1.1"}, "198.51.100.7"},
		{"proxy_headers_joined", "10.0.0.2:5000", []string{"203.0.113.9", "198.51.100.7"}, "198.51.100.7"},
		{"proxy_spoof_left", "10.0.0.2:5000", []string{"10.9.9.9, 198.51.100.7"}, "198.51.100.7"},
		{"proxy_no_header", "10.0.0.2:5000", nil, "10.0.0.2"},
		{"proxy_all_trusted", "10.0.0.2:5000", []string{"10.3.3.3"}, "10.3.3.3"},
		{"proxy_garbage", "10.0.0.2:5000", []string{"198.51.100.7, bogus"}, "10.0.0.2"},
		{"proxy_empty_entries", "10.0.0.2:5000", []string{"198.51.100.7,, "}, "198.51.100.7"},
		{"proxy_v6", "[::1]:5000", []string{"2001:db8::5"}, "2001:db8::5"},
		{"proxy_hop_with_port", "10.0.0.2:5000", []string{"198.51.100.7:4711"}, "198.51.100.7"},
		{"proxy_v6_hop_with_port", "10.0.0.2:5000", []string{"[2001:db8::1]:4711"}, "2001:db8::1"},
		{"proxy_v6_hop_in_brackets", "10.0.0.2:5000", []string{"[2001:db8::1]"}, "2001:db8::1"},
		{"proxy_unknown_hop", "10.0.0.2:5000", []string{"unknown"}, "10.0.0.2"},
		{"mapped", "[::ffff:192.0.2.1]:5000", nil, "192.0.2.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got, ok := clientAddr(r, trusted)
			if !ok || got.String() != tc.want {
				t.Errorf("clientAddr(%s, %q) = %v, %v; want %s", tc.remote, tc.xff, got, ok, tc.want)
			}
		})
	}
	if _, ok := clientAddr(&http.Request{RemoteAddr: "pipe"}, trusted); ok {
		t.Errorf("clientAddr(pipe) ok, want not")
	}
}

func TestClientKey(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"192.0.2.1:1", "192.0.2.1/32"},
		{"[2001:db8:1:2:3:4:5:6]:1", "2001:db8:1:2::/64"},
	}
	for _, tc := range tests {
		if got, ok := clientKey(&http.Request{RemoteAddr: tc.remote}, nil); !ok || got.String() != tc.want {
			t.Errorf("clientKey(%s) = %v, %v; want %s", tc.remote, got, ok, tc.want)
		}
	}
}

// TestLimitConnSocket: a limitConn passes the socket through, so that the
// websocket hub can bound its send buffer, and runs afterClose hooks
// once, on the first Close or at once after it.
func TestLimitConnSocket(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := newLimitListener(inner, 1)
	defer ln.Close()
	client, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatalf("accepted %T, want a syscall.Conn", c)
	}
	if _, err := sc.SyscallConn(); err != nil {
		t.Errorf("SyscallConn() = %v", err)
	}
	if err := c.(interface{ SetWriteBuffer(int) error }).SetWriteBuffer(32 << 10); err != nil {
		t.Errorf("SetWriteBuffer() = %v", err)
	}
	lc := c.(*limitConn)
	calls := 0
	lc.afterClose(func() { calls++ })
	c.Close()
	c.Close()
	if calls != 1 {
		t.Errorf("afterClose hook ran %d times after two Closes, want 1", calls)
	}
	lc.afterClose(func() { calls++ })
	if calls != 2 {
		t.Errorf("afterClose after Close ran %d hooks in all, want 2 (the late one at once)", calls)
	}
}

// FuzzClientAddr: whatever the peer and X-Forwarded-For say, clientAddr
// answers without panicking, and its answer is the peer or one of the
// header's addresses; a peer that is no trusted proxy is the client.
func FuzzClientAddr(f *testing.F) {
	f.Add("10.0.0.2:5000", "203.0.113.9, 198.51.100.7, 10.1.1.1")
	f.Add("10.0.0.2:5000", "198.51.100.7, bogus")
	f.Add("[::1]:1", "2001:db8::5,,")
	f.Add("192.0.2.1:5000", "10.0.0.1")
	f.Add("[fe80::1%eth0]:80", "fe80::2%eth1")
	f.Add("pipe", "")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {xff}}}
		got, ok := clientAddr(r, trusted)
		peer, err := netip.ParseAddrPort(remote)
		if err != nil {
			if ok {
				t.Fatalf("clientAddr(%q, %q) = %v, ok; want not ok for a peer that is no IP", remote, xff, got)
			}
			return
		}
		if !ok || !got.IsValid() || got.Zone() != "" {
			t.Fatalf("clientAddr(%q, %q) = %v, %v; want a valid address without zone", remote, xff, got, ok)
		}
		p := peer.Addr().Unmap().WithZone("")
		if !inPrefixes(trusted, p) {
			if got != p {
				t.Fatalf("clientAddr(%q, %q) = %v, want the untrusted peer %v", remote, xff, got, p)
			}
			return
		}
		if got == p {
			return
		}
		for _, h := range strings.Split(xff, ",") {
			if a, err := parseHop(strings.TrimSpace(h)); err == nil && a.Unmap().WithZone("") == got {
				return
			}
		}
		t.Fatalf("clientAddr(%q, %q) = %v, neither the peer nor an address of the header", remote, xff, got)
	})
}

// TestPerIPPanicReleases: a handler panic (which net/http recovers) does
// not keep the address's slot.
func TestPerIPPanicReleases(t *testing.T) {
	l := newPerIPLimit(1, nil, prometheus.NewRegistry())
	h := l.wrap(func(http.ResponseWriter, *http.Request) { panic("boom") })
	serve := func() (panicked bool) {
		defer func() { panicked = recover() != nil }()
		h(httptest.NewRecorder(), &http.Request{RemoteAddr: "192.0.2.1:5000", Header: http.Header{}})
		return false
	}
	for i := range 2 {
		if !serve() {
			t.Fatalf("request %d: the handler did not run (slot still held?)", i+1)
		}
	}
	if n := len(l.open); n != 0 {
		t.Errorf("open slots after two panicked requests = %v, want none", l.open)
	}
}
