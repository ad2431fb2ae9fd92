package vanilla

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestHubStopWakesParked parks goroutines of a Hub in every kind of blocking
// operation, stops the Hub and checks that each returned ErrStopped and had
// exited by the time Stop returned.
func TestHubStopWakesParked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		_, pr := NewPipe[int]()
		ps, _ := NewPipe[int]()
		_, dr := NewDealer[int]()
		qs, _ := NewQueue[int](1)
		fill(t, qs, 1)
		ts, _ := NewTee[int](2) // no output ready: a send parks
		gs, _ := NewGather[int](2)
		v := NewValue[int]()
		w := v.Watch()
		ops := []struct {
			name string
			op   func(ctx context.Context) error
		}{
			{"pipe_recv", func(ctx context.Context) error { _, err := pr.Recv(ctx); return err }},
			{"pipe_send", func(ctx context.Context) error { return ps.Send(ctx, 1) }},
			{"dealer_recv_1", func(ctx context.Context) error { _, err := dr.Recv(ctx); return err }},
			{"dealer_recv_2", func(ctx context.Context) error { _, err := dr.Recv(ctx); return err }},
			{"queue_send", func(ctx context.Context) error { return qs.Send(ctx, 2) }},
			{"tee_send", func(ctx context.Context) error { return ts.Send(ctx, 2) }},
			{"gather_send", func(ctx context.Context) error { return gs[0].Send(ctx, 2) }},
			{"value_get", func(ctx context.Context) error { _, err := v.Get(ctx); return err }},
			{"value_watch", func(ctx context.Context) error { _, err := w.Recv(ctx); return err }},
			{"select", func(ctx context.Context) error {
				var d int
				i, err := Select(ctx, pr.Case(&d), ps.Case(3))
				if i != -1 {
					return errors.New("a case fired")
				}
				return err
			}},
		}
		var h Hub
		done := make([]chan struct{}, len(ops))
		errs := make([]error, len(ops))
		for i, op := range ops {
			done[i] = make(chan struct{})
			h.Go(ctx, func(ctx context.Context) error {
				defer close(done[i])
				errs[i] = op.op(ctx)
				return errs[i]
			})
		}
		synctest.Wait() // every one is parked
		for i := range ops {
			assertParked(t, ops[i].name, done[i])
		}
		if err := h.Stop(); err != nil {
			t.Fatalf("Stop() = %v, want nil (stop-caused errors are not failures)", err)
		}
		for i, op := range ops {
			select {
			case <-done[i]:
			default:
				t.Fatalf("%s: goroutine still running after Stop returned", op.name)
			}
			if errs[i] != ErrStopped {
				t.Errorf("%s = %v, want ErrStopped", op.name, errs[i])
			}
		}
		if err := h.Stop(); err != nil {
			t.Fatalf("second Stop() = %v, want nil", err)
		}
	})
}

func TestHubErrorsJoined(t *testing.T) {
	errA, errB := errors.New("a"), errors.New("b")
	var h Hub
	for _, err := range []error{errA, nil, errB} {
		h.Go(context.Background(), func(context.Context) error { return err })
	}
	err := h.Stop()
	if !errors.Is(err, errA) || !errors.Is(err, errB) {
		t.Fatalf("Stop() = %v, want errA and errB joined", err)
	}
}

func TestHubGoAfterStop(t *testing.T) {
	var h Hub
	if err := h.Stop(); err != nil {
		t.Fatalf("Stop() on a zero Hub = %v, want nil", err)
	}
	ran := make(chan struct{})
	h.Go(context.Background(), func(context.Context) error { close(ran); return errBoom })
	if err := h.Wait(); err != nil {
		t.Fatalf("Wait() = %v, want nil", err)
	}
	select {
	case <-ran:
		t.Fatalf("Go after Stop ran its function")
	default:
	}
}

// TestHubParentCancel cancels the context a goroutine was started with: its
// operations return that cause, which is not a stop and is recorded.
func TestHubParentCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		_, r := NewPipe[int]()
		var h Hub
		h.Go(ctx, func(ctx context.Context) error { _, err := r.Recv(ctx); return err })
		synctest.Wait()
		cancel(errCause)
		if err := h.Wait(); !errors.Is(err, errCause) {
			t.Fatalf("Wait() = %v, want errCause", err)
		}
		if err := h.Stop(); !errors.Is(err, errCause) {
			t.Fatalf("Stop() = %v, want errCause", err)
		}
	})
}

// TestHubStopCauseOnly checks that ErrStopped returned by a goroutine is not
// a failure when the Hub stopped it, and that other errors returned after
// the stop still are.
func TestHubStopCauseOnly(t *testing.T) {
	var h Hub
	started := make(chan struct{}, 2)
	h.Go(context.Background(), func(ctx context.Context) error {
		started <- struct{}{}
		<-ctx.Done()
		return context.Cause(ctx)
	})
	h.Go(context.Background(), func(ctx context.Context) error {
		started <- struct{}{}
		<-ctx.Done()
		return errBoom
	})
	<-started
	<-started
	err := h.Stop()
	if !errors.Is(err, errBoom) || errors.Is(err, ErrStopped) {
		t.Fatalf("Stop() = %v, want errBoom only", err)
	}
}

// TestHubGoConcurrentWithWait calls Go while Wait is in progress (the Hub
// is documented safe for concurrent use). A Hub built on a WaitGroup fails
// here under -race: a Go that takes the count from zero while a Wait is
// blocked is the WaitGroup misuse "Add called concurrently with Wait".
func TestHubGoConcurrentWithWait(t *testing.T) {
	ctx := context.Background()
	t.Run("go_from_zero_during_wait", func(t *testing.T) {
		for range 100 {
			var h Hub
			release := make(chan struct{})
			h.Go(ctx, func(context.Context) error { <-release; return nil })
			waited := make(chan error, 1)
			go func() { waited <- h.Wait() }()
			// Give the Wait above a chance to block before the goroutine
			// exits. This only makes the misuse likely to show; the test
			// holds whatever the interleaving. (A synctest.Wait would
			// order the two goroutines and hide it from the race
			// detector.)
			for range 50 {
				runtime.Gosched()
			}
			close(release)
			if err := h.Wait(); err != nil {
				t.Fatalf("Wait() = %v, want nil", err)
			}
			ran := make(chan struct{})
			h.Go(ctx, func(context.Context) error { close(ran); return nil })
			if err := <-waited; err != nil {
				t.Fatalf("concurrent Wait() = %v, want nil", err)
			}
			if err := h.Wait(); err != nil {
				t.Fatalf("Wait() = %v, want nil", err)
			}
			select {
			case <-ran:
			default:
				t.Fatalf("Wait() returned before a goroutine started earlier had exited")
			}
		}
	})
	t.Run("many", func(t *testing.T) {
		var h Hub
		var started, exited atomic.Int64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for range 2 {
			wg.Go(func() { // exits when stop is closed
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := h.Wait(); err != nil {
						t.Errorf("Wait() = %v, want nil", err)
						return
					}
				}
			})
		}
		var spawners sync.WaitGroup
		for range 4 {
			spawners.Go(func() {
				for range 500 {
					started.Add(1)
					h.Go(ctx, func(context.Context) error { exited.Add(1); return nil })
				}
			})
		}
		spawners.Wait()
		close(stop)
		wg.Wait()
		if err := h.Wait(); err != nil {
			t.Fatalf("Wait() = %v, want nil", err)
		}
		if s, e := started.Load(), exited.Load(); s != e {
			t.Fatalf("after Wait: %d goroutines started, %d exited, want all exited", s, e)
		}
	})
}

// TestHubWaitWaitsForLateGo starts a goroutine while a Wait is in progress:
// Wait returns only once the new goroutine has exited too.
func TestHubWaitWaitsForLateGo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		var h Hub
		first, second := make(chan struct{}), make(chan struct{})
		h.Go(ctx, func(context.Context) error { <-first; return nil })
		done := make(chan error, 1)
		go func() { done <- h.Wait() }()
		synctest.Wait()
		h.Go(ctx, func(context.Context) error { <-second; return errBoom })
		close(first)
		synctest.Wait()
		assertParked(t, "Wait with the second goroutine running", done)
		close(second)
		if err := <-done; !errors.Is(err, errBoom) {
			t.Fatalf("Wait() = %v, want errBoom", err)
		}
	})
}

// hubPanicEnv names the scenario TestHubPanicCrashesProcess runs when it is
// the re-executed child.
const hubPanicEnv = "VANILLA_TEST_HUB_PANIC"

// TestHubPanicCrashesProcess checks the panic policy: a panic in a Hub
// goroutine is not recovered, and crashes the process with the panic on
// stderr, before Wait can return. It re-runs this test binary in a child
// process that panics in a Hub goroutine (or in a stage's function) and
// checks how the child died.
func TestHubPanicCrashesProcess(t *testing.T) {
	scenarios := map[string]struct {
		msg string // the panic value
		run func(h *Hub, msg string)
	}{
		"go": {"vanilla-test-panic in Hub.Go", func(h *Hub, msg string) {
			h.Go(context.Background(), func(context.Context) error { panic(msg) })
		}},
		"map": {"vanilla-test-panic in Map", func(h *Hub, msg string) {
			ctx := context.Background()
			s, r := NewPipe[int]()
			out := Map(ctx, h, r, func(context.Context, int) (int, error) { panic(msg) })
			go func() { s.Send(ctx, 1) }() // exits when the process does
			out.Recv(ctx)
		}},
	}
	if name := os.Getenv(hubPanicEnv); name != "" {
		var h Hub
		sc := scenarios[name]
		sc.run(&h, sc.msg)
		err := h.Wait()
		fmt.Printf("Wait returned %v\n", err) // the parent checks this never prints
		t.Fatalf("Wait() returned %v: the panic was recovered", err)
	}
	for name, sc := range scenarios {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHubPanicCrashesProcess$", "-test.count=1", "-test.timeout=1m")
			cmd.Env = append(os.Environ(), hubPanicEnv+"="+name)
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
			if strings.Contains(stdout.String(), "Wait returned") {
				t.Fatalf("child's Wait returned before the crash\nstdout:\n%s", stdout.String())
			}
		})
	}
}
