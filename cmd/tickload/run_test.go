package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/service"
)

// TestRunAgainstService runs tickload with 5 clients against an in-process
// tickerd (embedded simulator, a pulse every second) and checks the
// report: every client subscribed, at least one pulse delivered to each
// subscription, no disconnects.
func TestRunAgainstService(t *testing.T) {
	const clients, perClient = 5, 4
	cfg := config.Default()
	cfg.Symbols = []string{"AAPL", "AMZN", "MSFT", "NVDA", "GOOG", "META", "TSLA", "BRK.B", "^GSPC", "V"}
	cfg.Schedule = "@every 1s"
	svc, err := service.New(cfg, nil)
	if err != nil {
		t.Fatalf("service.New() = %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("Listen() = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// Exits when ctx is cancelled below.
	go func() { done <- svc.Run(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("service Run() = %v, want nil", err)
		}
	}()

	var stdout, stderr bytes.Buffer
	// The service is this process: its memory figures are tickload's too,
	// so they are only checked for being read.
	args := []string{"-url", "ws://" + ln.Addr().String() + "/ws", "-n", strconv.Itoa(clients), "-k", strconv.Itoa(perClient),
		"-duration", "3s", "-connect-timeout", "10s", "-server-pid", strconv.Itoa(os.Getpid()), "-json",
		"-slow", "1"} // a client that never reads must not cost the others a quote
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run(%q) = %v; stderr: %s", args, err, stderr.String())
	}
	var res result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("run(%q) printed %q: %v", args, stdout.String(), err)
	}
	if res.Slow != 1 {
		t.Errorf("run() slow clients = %d, want 1", res.Slow)
	}
	if res.Connected != clients || res.ConnectErrors != 0 || res.Unlaunched != 0 {
		t.Errorf("run() connected %d, %d connect errors (%q), %d unlaunched, want %d, 0, 0", res.Connected, res.ConnectErrors, res.FirstError, res.Unlaunched, clients)
	}
	if res.Disconnects != 0 || res.BadMessages != 0 {
		t.Errorf("run() disconnects %d %v, bad messages %d, want 0, 0", res.Disconnects, res.CloseCodes, res.BadMessages)
	}
	// A 3s window holds at least one whole 1s pulse.
	if res.Delivered < clients*perClient {
		t.Errorf("run() delivered %d quotes, want at least %d (one pulse)", res.Delivered, clients*perClient)
	}
	// Without -batch every message is a frame of its own: at least one
	// frame per quote (a client may count one quote of a frame read just
	// before the window opened).
	if res.Frames < res.Delivered-clients {
		t.Errorf("run() frames %d, quotes per frame %v for %d quotes, want a frame per quote", res.Frames, res.QuotesPerFrame, res.Delivered)
	}
	if !(res.P50ms > 0 && res.P50ms <= res.P99ms && res.P99ms <= res.P999ms && res.P999ms <= res.MaxMs) {
		t.Errorf("run() latencies p50 %v, p99 %v, p99.9 %v, max %v ms, want 0 < p50 <= p99 <= p99.9 <= max", res.P50ms, res.P99ms, res.P999ms, res.MaxMs)
	}
	// Each quote's pulse began at or before its collection.
	if !(res.PulseP50ms >= res.P50ms && res.PulseP99ms >= res.P99ms && res.PulseP50ms <= res.PulseP99ms) {
		t.Errorf("run() pulse latencies p50 %v, p99 %v ms for latencies p50 %v, p99 %v, want each at least the latency's", res.PulseP50ms, res.PulseP99ms, res.P50ms, res.P99ms)
	}
	if res.RSSBefore <= 0 || res.RSSAfter <= 0 {
		t.Errorf("run() server RSS before %d, after %d, want both > 0", res.RSSBefore, res.RSSAfter)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want error // nil: accepted
	}{
		{"defaults", nil, nil},
		{"local_addrs", []string{"-local-addrs", "127.0.0.1, 127.0.0.2"}, nil},
		{"zero_clients", []string{"-n", "0"}, errUsage},
		{"zero_symbols", []string{"-k", "0"}, errUsage},
		{"zero_duration", []string{"-duration", "0s"}, errUsage},
		{"not_loopback", []string{"-local-addrs", "10.0.0.1"}, errUsage},
		{"bad_url", []string{"-url", "ftp://127.0.0.1/ws"}, errUsage},
		{"extra_argument", []string{"now"}, errUsage},
		{"unknown_flag", []string{"-x"}, errUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args, io.Discard)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("parseFlags(%q) = %v, want %v", tt.args, err, tt.want)
			}
		})
	}
}

func TestClientSymbols(t *testing.T) {
	syms := []string{"A", "B", "C", "D", "E"}
	tests := []struct {
		name string
		i, k int
		want []string
	}{
		{"first", 0, 2, []string{"A", "B"}},
		{"second", 1, 2, []string{"C", "D"}},
		{"wraps", 2, 2, []string{"E", "A"}},
		{"all", 7, 5, []string{"A", "B", "C", "D", "E"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := clientSymbols(tt.i, tt.k, syms); !slices.Equal(got, tt.want) {
				t.Errorf("clientSymbols(%d, %d) = %v, want %v", tt.i, tt.k, got, tt.want)
			}
		})
	}
	// Spread: 10 clients of 4 over 5 symbols give each symbol 8.
	count := map[string]int{}
	for i := range 10 {
		for _, s := range clientSymbols(i, 4, syms) {
			count[s]++
		}
	}
	for _, s := range syms {
		if count[s] != 8 {
			t.Errorf("subscribers of %s = %d, want 8 (%v)", s, count[s], count)
		}
	}
}
