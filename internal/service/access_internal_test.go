package service

import (
	"net"
	"testing"
)

func TestExposed(t *testing.T) {
	tests := []struct {
		name string
		addr net.Addr
		want bool
	}{
		{"loopback_v4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}, false},
		{"loopback_v4_other", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 8080}, false},
		{"loopback_v6", &net.TCPAddr{IP: net.IPv6loopback, Port: 8080}, false},
		{"unspecified_v4", &net.TCPAddr{IP: net.IPv4zero, Port: 8080}, true},
		{"unspecified_v6", &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, true},
		{"private", &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 8080}, true},
		{"unix", &net.UnixAddr{Name: "/run/tickerd.sock", Net: "unix"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := exposed(tc.addr); got != tc.want {
				t.Errorf("exposed(%v) = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
}

func TestDashboardPath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/", true},
		{"/index.html", true},
		{"/app.js", true},
		{"/favicon.ico", true},
		{"/api", false},
		{"/api/quotes", false},
		{"/ws", false},
		{"/metrics", false},
		{"/healthz", false},
		{"/readyz", false},
		{"/debug", false},
		{"/static/app.js", false},
		{"/./app.js", false},
		{"//app.js", false},
		{"", false},
		{"app.js", false},
	}
	for _, tc := range tests {
		if got := dashboardPath(tc.path); got != tc.want {
			t.Errorf("dashboardPath(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestOriginAllowed(t *testing.T) {
	patterns := []string{"dash.example", "https://*.ops.example", "LOCALHOST:*"}
	tests := []struct {
		origin string
		want   bool
	}{
		{"https://dash.example", true},
		{"http://dash.example", true},
		{"https://DASH.example", true},
		{"https://dash.example:8443", false},
		{"https://a.ops.example", true},
		{"http://a.ops.example", false},
		{"http://localhost:3000", true},
		{"https://evil.example", false},
		{"null", false},
		{"", false},
		{"::", false},
	}
	for _, tc := range tests {
		if got := originAllowed(patterns, tc.origin); got != tc.want {
			t.Errorf("originAllowed(%q, %q) = %v, want %v", patterns, tc.origin, got, tc.want)
		}
	}
}
