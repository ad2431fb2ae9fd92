package service_test

import (
	"context"
	"net/http"
	"net/netip"
	"testing"

	"github.com/coder/websocket"

	"github.com/tickerd/tickerd/internal/config"
)

// dialStatus dials /ws with header and returns the upgrade's status, and
// the connection when it was upgraded (closed by the test's cleanup).
func dialStatus(t *testing.T, base string, header http.Header) (int, *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	conn, resp, err := websocket.Dial(ctx, wsURL(base, ""), &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}, HTTPHeader: header})
	if resp == nil {
		t.Fatalf("websocket.Dial = %v and no response", err)
	}
	if err == nil {
		t.Cleanup(func() { conn.CloseNow() })
	}
	return resp.StatusCode, conn
}

// TestPerIPLimit: past websocket.max_clients_per_ip connections from one
// client, upgrades get 429 until one of them closes. Behind a trusted
// proxy the client is the one X-Forwarded-For names; from anyone else
// the header is ignored.
func TestPerIPLimit(t *testing.T) {
	xff := func(a string) http.Header { return http.Header{"X-Forwarded-For": {a}} }
	tests := []struct {
		name    string
		trusted []netip.Prefix
		fill    http.Header // the two connections that fill the cap
		other   http.Header // a third, from another client or not
		otherOK bool
	}{
		{"direct", nil, nil, nil, false},
		{"untrusted_xff_ignored", nil, xff("192.0.2.1"), xff("192.0.2.2"), false},
		{"trusted_proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, xff("192.0.2.1"), xff("192.0.2.2"), true},
		{"trusted_proxy_same_client", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, xff("192.0.2.1"), xff("203.0.113.5, 192.0.2.1"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(config.KindSim, "", neverInTest, []string{"AAPL"})
			cfg.Websocket.MaxClientsPerIP = 2
			cfg.Websocket.TrustedProxies = tc.trusted
			r := start(t, cfg, nil)
			var conns []*websocket.Conn
			for i := range 2 {
				code, c := dialStatus(t, r.url, tc.fill)
				if code != http.StatusSwitchingProtocols {
					t.Fatalf("upgrade %d of 2 = %d, want 101", i+1, code)
				}
				conns = append(conns, c)
			}
			if code, _ := dialStatus(t, r.url, tc.fill); code != http.StatusTooManyRequests {
				t.Fatalf("third upgrade from the same client = %d, want 429", code)
			}
			want := http.StatusTooManyRequests
			if tc.otherOK {
				want = http.StatusSwitchingProtocols
			}
			if code, _ := dialStatus(t, r.url, tc.other); code != want {
				t.Fatalf("upgrade with %v = %d, want %d", tc.other, code, want)
			}
			if v, _ := r.metric(t, "tickerd_ws_per_ip_rejected_total"); v < 1 {
				t.Errorf("tickerd_ws_per_ip_rejected_total = %v, want at least 1", v)
			}
			// A slot comes back once the server has closed its side.
			conns[0].Close(websocket.StatusNormalClosure, "")
			until(t, "no slot back after a close", func() bool {
				code, c := dialStatus(t, r.url, tc.fill)
				if c != nil {
					c.CloseNow()
				}
				return code == http.StatusSwitchingProtocols
			})
		})
	}
}
