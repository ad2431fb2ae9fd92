package vanilla

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
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
		ts, _ := NewTee[int](2)
		fill(t, ts, 1)
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

func TestHubPanic(t *testing.T) {
	errInner := errors.New("inner")
	tests := []struct {
		name  string
		value any
	}{
		{"string", "kaboom"},
		{"error", errInner},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Hub
			ran := make(chan struct{})
			h.Go(context.Background(), func(context.Context) error { panic(tt.value) })
			h.Go(context.Background(), func(context.Context) error { close(ran); return nil })
			err := h.Wait()
			var pe *PanicError
			if !errors.As(err, &pe) {
				t.Fatalf("Wait() = %v, want a *PanicError", err)
			}
			if pe.Value != tt.value {
				t.Fatalf("PanicError.Value = %v, want %v", pe.Value, tt.value)
			}
			if len(pe.Stack) == 0 {
				t.Fatalf("PanicError.Stack is empty")
			}
			if e, ok := tt.value.(error); ok && !errors.Is(err, e) {
				t.Fatalf("errors.Is(Wait(), %v) = false, want true", e)
			}
			<-ran // the other goroutine was not affected
			if err2 := h.Stop(); !errors.As(err2, &pe) {
				t.Fatalf("Stop() = %v, want the *PanicError too", err2)
			}
		})
	}
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
	var pe *PanicError
	if errors.As(err, &pe) {
		t.Fatalf("Stop() = %v, want no *PanicError", err)
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
