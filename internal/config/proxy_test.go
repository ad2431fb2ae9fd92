package config_test

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/tickerd/tickerd/internal/config"
)

func TestParseTrustedProxies(t *testing.T) {
	pfx := netip.MustParsePrefix
	tests := []struct {
		name string
		data string
		want []netip.Prefix
		max  int
	}{
		{"default", "history: 3\n", nil, 0},
		{"empty", "websocket: {trusted_proxies: []}\n", nil, 0},
		{"mixed", "websocket:\n  max_clients_per_ip: 20\n  trusted_proxies: [10.0.0.7, 10.1.2.3/8, \"::1\", \"fd00::/8\", \"::ffff:192.0.2.1\", \"::ffff:192.0.2.0/120\"]\n",
			[]netip.Prefix{pfx("10.0.0.7/32"), pfx("10.0.0.0/8"), pfx("::1/128"), pfx("fd00::/8"), pfx("192.0.2.1/32"), pfx("192.0.2.0/24")}, 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Parse("t.yaml", []byte(tc.data))
			if err != nil {
				t.Fatalf("Parse(%q) = %v", tc.data, err)
			}
			if !reflect.DeepEqual(cfg.Websocket.TrustedProxies, tc.want) || cfg.Websocket.MaxClientsPerIP != tc.max {
				t.Errorf("Parse(%q): trusted_proxies %v, max_clients_per_ip %d; want %v, %d", tc.data, cfg.Websocket.TrustedProxies, cfg.Websocket.MaxClientsPerIP, tc.want, tc.max)
			}
		})
	}

	bad := []struct {
		name string
		data string
		line int
		key  string
	}{
		{"hostname", "websocket:\n  trusted_proxies:\n    - 10.0.0.1\n    - proxy.internal\n", 4, "websocket.trusted_proxies[1]"},
		{"zone", "websocket:\n  trusted_proxies: [\"fe80::1%eth0\"]\n", 2, "websocket.trusted_proxies[0]"},
		{"bits", "websocket:\n  trusted_proxies: [10.0.0.0/33]\n", 2, "websocket.trusted_proxies[0]"},
		{"mapped_short", "websocket:\n  trusted_proxies: [\"::ffff:0:0/90\"]\n", 2, "websocket.trusted_proxies[0]"},
		{"not_list", "websocket:\n  trusted_proxies: 10.0.0.1\n", 2, "websocket.trusted_proxies"},
		{"too_many", "websocket:\n  trusted_proxies: [" + strings.Repeat("10.0.0.1, ", config.MaxTrustedProxies) + "10.0.0.1]\n", 2, "websocket.trusted_proxies"},
		{"negative_max", "websocket:\n  max_clients_per_ip: -1\n", 2, "websocket.max_clients_per_ip"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("t.yaml", []byte(tc.data))
			var ce *config.Error
			if !errors.As(err, &ce) || ce.Line != tc.line || ce.Key != tc.key {
				t.Fatalf("Parse(%q) = %v, want an error at line %d, key %s", tc.data, err, tc.line, tc.key)
			}
		})
	}
}
