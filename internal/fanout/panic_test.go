package fanout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tickerd/tickerd/internal/board"
)

// panicEnv names the scenario TestPanicCrashesProcess runs when it is the
// re-executed child.
const panicEnv = "FANOUT_TEST_PANIC"

// panicBoard is a real board whose Symbols panics once armed.
type panicBoard struct {
	*board.Board
	armed atomic.Bool
	msg   string
}

func (b *panicBoard) Symbols() board.Symbols {
	if b.armed.Load() {
		panic(b.msg)
	}
	return b.Board.Symbols()
}

// panicDemand is a Demand whose Add panics.
type panicDemand struct{ msg string }

func (d panicDemand) Add(string) bool { panic(d.msg) }
func (d panicDemand) Remove(string)   {}

// panicLog is a slog handler that panics on one message.
type panicLog struct{ on, msg string }

func (l panicLog) Enabled(context.Context, slog.Level) bool { return true }
func (l panicLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l panicLog) WithGroup(string) slog.Handler            { return l }
func (l panicLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == l.on {
		panic(l.msg)
	}
	return nil
}

// TestPanicCrashesProcess checks the panic policy (see the package doc): a
// panic in a fan-out goroutine is not recovered; it crashes the process at
// once, with the panic and the goroutines' stacks on stderr, rather than
// leaving the Hub's lock held and Run waiting for ever. The child process
// (this test binary, re-run) panics in one of the Hub's goroutines, most
// of them with Hub.mu held, then stops Run; the parent checks that the
// child died of the panic and that Run never returned.
func TestPanicCrashesProcess(t *testing.T) {
	scenarios := map[string]struct {
		msg string // the panic value
		run func(t *testing.T, msg string)
	}{
		// The reader's op goroutine, with Hub.mu held (subscribe).
		"normalize_symbol": {"fanout-test-panic in NormalizeSymbol", func(t *testing.T, msg string) {
			src := newFakeSource("AAPL")
			norm := func(s string) (string, error) {
				if s == "BOOM" {
					panic(msg)
				}
				return s, nil
			}
			childServe(t, src, nil, &Options{NormalizeSymbol: norm}, func(c *websocket.Conn) {
				_ = c.Write(context.Background(), websocket.MessageText, []byte(`{"op":"subscribe","symbols":["BOOM"]}`))
			}, nil)
		}},
		// The same goroutine, in the Demand, with Hub.mu held.
		"demand_add": {"fanout-test-panic in Demand.Add", func(t *testing.T, msg string) {
			src := newFakeSource("AAPL")
			childServe(t, src, panicDemand{msg}, &Options{DynamicSymbols: true}, func(c *websocket.Conn) {
				_ = c.Write(context.Background(), websocket.MessageText, []byte(`{"op":"subscribe","symbols":["ZZZ"]}`))
			}, nil)
		}},
		// Run's symbol-set watcher, with Hub.mu held (reconcile).
		"board_symbols": {"fanout-test-panic in Board.Symbols", func(t *testing.T, msg string) {
			src := newFakeSource("AAPL")
			pb := &panicBoard{Board: src.Board, msg: msg}
			childServe(t, src, nil, nil, func(*websocket.Conn) {
				pb.armed.Store(true)
				src.setSymbols("AAPL", "MSFT") // wakes the watcher
			}, pb)
		}},
		// The connection's serve goroutine.
		"serve_log": {"fanout-test-panic in the connection's log", func(t *testing.T, msg string) {
			src := newFakeSource("AAPL")
			childServe(t, src, nil, &Options{Logger: slog.New(panicLog{"websocket client connected", msg})}, func(*websocket.Conn) {}, nil)
		}},
	}
	if name := os.Getenv(panicEnv); name != "" {
		sc, ok := scenarios[name]
		if !ok {
			t.Fatalf("%s=%q: no such scenario", panicEnv, name)
		}
		sc.run(t, sc.msg)
		return
	}
	for name, sc := range scenarios {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			// The child's own timeout is short: a panic recovered with the
			// lock held would hang it, and the timeout's panic is not ours.
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestPanicCrashesProcess$", "-test.count=1", "-test.timeout=30s")
			cmd.Env = append(os.Environ(), panicEnv+"="+name)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() == 0 {
				t.Fatalf("child Run() = %v, want a non-zero exit\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			if want := "panic: " + sc.msg; !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "goroutine ") {
				t.Fatalf("child stderr lacks %q and a goroutine trace\nstderr:\n%s", want, stderr.String())
			}
			if strings.Contains(stdout.String(), "Run returned") {
				t.Fatalf("child's Run returned before the crash\nstdout:\n%s", stdout.String())
			}
		})
	}
}

// childServe runs a Hub over src (or over b, when not nil) with dem and
// opts behind a real HTTP server, connects a client, calls trigger with
// it, and then stops the Hub, printing "Run returned" if Run does: with
// the panic policy it never gets there. It runs in the child process only.
func childServe(t *testing.T, src *fakeSource, dem Demand, opts *Options, trigger func(*websocket.Conn), b Board) {
	if b == nil {
		b = src
	}
	hub := New(b, dem, opts)
	srv := httptest.NewServer(hub)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }() // exits when ctx ends, or never: the process crashes
	dctx, dcancel := context.WithTimeout(context.Background(), waitLimit)
	defer dcancel()
	c, _, err := websocket.Dial(dctx, "ws://"+srv.Listener.Addr().String()+"/ws", nil)
	if err != nil {
		t.Fatalf("Dial() = %v", err)
	}
	trigger(c)
	// Give the panic the time to happen; if it were recovered, the stop
	// below would hang on the lock or the goroutine, or return.
	_, _, _ = c.Read(dctx)
	cancel()
	err = <-done
	fmt.Printf("Run returned %v\n", err) // the parent checks this never prints
	t.Fatalf("Run() returned %v: the panic was recovered", err)
}
