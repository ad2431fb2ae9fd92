package vanilla

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
)

// Tests of what every end shares: close, cancel, zero values, Clone and the
// Try forms, as tables over the primitives.

func TestCloseWithErrorDrainsThenError(t *testing.T) {
	closes := []struct {
		name string
		err  error // passed to CloseWithError
		want error // what the recver gets after draining
	}{
		{"close_with_error", errBoom, errBoom},
		{"close_nil", nil, ErrClosed},
	}
	for _, k := range kits[int]() {
		for _, c := range closes {
			t.Run(k.name+"/"+c.name, func(t *testing.T) {
				ctx := context.Background()
				s, r := k.new()
				fill(t, s, k.buffered)
				s.CloseWithError(c.err)
				if err := s.Send(ctx, 9); err != ErrClosed {
					t.Fatalf("Send() after close = %v, want ErrClosed", err)
				}
				if err := s.TrySend(9); err != ErrClosed {
					t.Fatalf("TrySend() after close = %v, want ErrClosed", err)
				}
				for i := 1; i <= k.buffered; i++ {
					if v, err := r.Recv(ctx); v != i || err != nil {
						t.Fatalf("Recv() = %v, %v, want %v, nil", v, err, i)
					}
				}
				for range 2 { // the error is sticky
					if v, err := r.Recv(ctx); err != c.want || !errors.Is(err, c.want) || v != 0 {
						t.Fatalf("Recv() = %v, %v, want 0, %v", v, err, c.want)
					}
					if _, err := r.TryRecv(); err != c.want {
						t.Fatalf("TryRecv() = %v, want %v", err, c.want)
					}
				}
				s.Close() // idempotent: the first error stays
				if _, err := r.Recv(ctx); err != c.want {
					t.Fatalf("Recv() after second close = %v, want %v", err, c.want)
				}
			})
		}
	}
}

func TestRecverCloseDiscardsAndAbandons(t *testing.T) {
	for _, k := range kits[int]() {
		t.Run(k.name, func(t *testing.T) {
			ctx := context.Background()
			s, r := k.new()
			fill(t, s, k.buffered)
			r.Close()
			r.Close() // idempotent
			if err := s.Send(ctx, 1); err != ErrAbandoned {
				t.Fatalf("Send() = %v, want ErrAbandoned", err)
			}
			if err := s.TrySend(1); err != ErrAbandoned {
				t.Fatalf("TrySend() = %v, want ErrAbandoned", err)
			}
			if _, err := r.Recv(ctx); err != ErrClosed {
				t.Fatalf("Recv() on closed recver = %v, want ErrClosed", err)
			}
			if _, err := r.TryRecv(); err != ErrClosed {
				t.Fatalf("TryRecv() on closed recver = %v, want ErrClosed", err)
			}
		})
	}
}

// TestCloseWakesParked closes one end while several goroutines are parked on
// the same end (sharing one handle), plus one parked in a Select, and checks
// that every one of them returns with the right error and that nothing they
// offered was delivered.
func TestCloseWakesParked(t *testing.T) {
	scenarios := []struct {
		name        string
		parkSenders bool // else recvers are parked
		closeSender bool // else the recver closes
	}{
		{"senders_parked_close_sender", true, true},
		{"senders_parked_close_recver", true, false},
		{"recvers_parked_close_sender", false, true},
		{"recvers_parked_close_recver", false, false},
	}
	for _, k := range kits[int]() {
		for _, sc := range scenarios {
			if sc.parkSenders && k.coalesces {
				continue // State's Send never parks
			}
			t.Run(k.name+"/"+sc.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					ctx := context.Background()
					s, r := k.new()
					_, idle := NewPipe[int]() // a case that never fires
					var dst, idleDst int
					var ops []<-chan error
					var sel <-chan selResult
					if sc.parkSenders {
						fill(t, s, k.buffered)
						for i := range 3 {
							ops = append(ops, goSend(ctx, s, 100+i))
						}
						sel = goSelect(ctx, idle.Case(&idleDst), s.Case(200))
					} else {
						for range 3 {
							c := make(chan error, 1)
							go func() {
								_, err := r.Recv(ctx)
								if err == nil {
									err = errors.New("received an item")
								}
								c <- err
							}()
							ops = append(ops, c)
						}
						sel = goSelect(ctx, idle.Case(&idleDst), r.Case(&dst))
					}
					synctest.Wait()
					for _, c := range ops {
						assertParked(t, "operation", c)
					}
					assertParked(t, "Select", sel)

					var want error
					switch {
					case sc.closeSender && sc.parkSenders:
						s.CloseWithError(errBoom)
						want = ErrClosed // parked on the end being closed
					case sc.closeSender:
						s.CloseWithError(errBoom)
						want = errBoom
					case sc.parkSenders:
						r.Close()
						want = ErrAbandoned
					default:
						r.Close()
						want = ErrClosed // parked on the end being closed
					}
					for i, c := range ops {
						if err := <-c; err != want {
							t.Errorf("parked op %d = %v, want %v", i, err, want)
						}
					}
					if res := <-sel; res.i != 1 || res.err != want {
						t.Errorf("Select() = %d, %v, want 1, %v", res.i, res.err, want)
					}
					if dst != 0 || idleDst != 0 {
						t.Errorf("Select wrote dst = %d, idle = %d, want 0, 0", dst, idleDst)
					}

					switch {
					case sc.closeSender:
						// Only what was buffered before the close arrives:
						// the parked items were not sent.
						if sc.parkSenders {
							drain(t, r, k.buffered)
						}
						if _, err := r.Recv(ctx); err != errBoom {
							t.Errorf("Recv() after drain = %v, want errBoom", err)
						}
					default:
						if err := s.Send(ctx, 1); err != ErrAbandoned {
							t.Errorf("Send() after recver close = %v, want ErrAbandoned", err)
						}
						if _, err := r.Recv(ctx); err != ErrClosed {
							t.Errorf("Recv() on closed recver = %v, want ErrClosed", err)
						}
					}
				})
			})
		}
	}
}

// TestCloseWakesSelectOnBothEnds parks one Select on a send and a recv of the
// same unbuffered primitive (it cannot match itself, so it is parked on both
// ends) and closes one end.
func TestCloseWakesSelectOnBothEnds(t *testing.T) {
	for _, k := range blockingKits[int]() {
		if k.buffered > 0 {
			continue // the send case would be ready at once
		}
		for _, closeSender := range []bool{true, false} {
			name := k.name + "/close_recver"
			// want[i] is what case i returns when it is the one woken.
			want := [2]error{ErrAbandoned, ErrClosed}
			if closeSender {
				name = k.name + "/close_sender"
				want = [2]error{ErrClosed, errBoom}
			}
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					s, r := k.new()
					var v int
					sel := goSelect(context.Background(), s.Case(1), r.Case(&v))
					synctest.Wait()
					assertParked(t, "Select", sel)
					if closeSender {
						s.CloseWithError(errBoom)
					} else {
						r.Close()
					}
					res := <-sel
					if res.i < 0 || res.i > 1 || res.err != want[res.i] {
						t.Fatalf("Select() = %d, %v, want 0, %v or 1, %v", res.i, res.err, want[0], want[1])
					}
					if v != 0 {
						t.Fatalf("Select wrote v = %d, want 0", v)
					}
				})
			})
		}
	}
}

// TestCancelWithdraws cancels the context of a parked operation: it returns
// the cause, and the operation did not happen, now or later.
func TestCancelWithdraws(t *testing.T) {
	for _, k := range kits[int]() {
		t.Run(k.name+"/send", func(t *testing.T) {
			if k.coalesces {
				t.Skip("Send never parks")
			}
			synctest.Test(t, func(t *testing.T) {
				s, r := k.new()
				fill(t, s, k.buffered)
				ctx, cancel := context.WithCancelCause(context.Background())
				c := goSend(ctx, s, 99)
				synctest.Wait()
				assertParked(t, "Send", c)
				cancel(errCause)
				if err := <-c; err != errCause || !errors.Is(err, errCause) {
					t.Fatalf("Send() = %v, want errCause", err)
				}
				drain(t, r, k.buffered)
				mustWouldBlock(t, r) // 99 was not sent
				s.Close()
				if v, err := r.Recv(context.Background()); err != ErrClosed {
					t.Fatalf("Recv() = %v, %v, want 0, ErrClosed", v, err)
				}
			})
		})
		t.Run(k.name+"/recv", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s, r := k.new()
				ctx, cancel := context.WithCancelCause(context.Background())
				c := goRecv(ctx, r)
				synctest.Wait()
				assertParked(t, "Recv", c)
				cancel(errCause)
				if res := <-c; res.err != errCause || res.v != 0 {
					t.Fatalf("Recv() = %v, %v, want 0, errCause", res.v, res.err)
				}
				// The withdrawn Recv takes nothing: with no buffer, nobody
				// is waiting; with one, the item stays for the next Recv.
				err := s.TrySend(7)
				if k.buffered == 0 {
					if err != ErrWouldBlock {
						t.Fatalf("TrySend() = %v, want ErrWouldBlock", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("TrySend() = %v, want nil", err)
				}
				mustRecv(t, r, 7)
			})
		})
		t.Run(k.name+"/already_done", func(t *testing.T) {
			_, r := k.new()
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(errCause)
			if _, err := r.Recv(ctx); err != errCause {
				t.Fatalf("Recv() = %v, want errCause", err)
			}
		})
	}
}

// TestCancelWithdrawsValueAndBroadcast does the same for the recvers that
// are not built from a Sender: Value.Get, a watcher and a subscription.
func TestCancelWithdrawsValueAndBroadcast(t *testing.T) {
	tests := []struct {
		name string
		// setup returns the recver to park on and a func that makes
		// item 1 available afterwards.
		setup func() (*Recver[int], func())
	}{
		{"value_get", func() (*Recver[int], func()) {
			v := NewValue[int]()
			return v.getter, func() { v.Set(1) }
		}},
		{"value_watch", func() (*Recver[int], func()) {
			v := NewValue[int]()
			return v.Watch(), func() { v.Set(1) }
		}},
		{"broadcast_sub", func() (*Recver[int], func()) {
			b := NewBroadcast[int]()
			return b.Subscribe(nil), func() { b.Send(1) }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r, makeReady := tt.setup()
				ctx, cancel := context.WithCancelCause(context.Background())
				c := goRecv(ctx, r)
				sel := goSelect(ctx, r.Case(new(int)))
				synctest.Wait()
				assertParked(t, "Recv", c)
				assertParked(t, "Select", sel)
				cancel(errCause)
				if res := <-c; res.err != errCause {
					t.Fatalf("Recv() = %v, %v, want 0, errCause", res.v, res.err)
				}
				if res := <-sel; res.i != -1 || res.err != errCause {
					t.Fatalf("Select() = %d, %v, want -1, errCause", res.i, res.err)
				}
				makeReady()
				mustRecv(t, r, 1) // the withdrawn operations took nothing
				r.Close()
			})
		})
	}
}

// TestZeroValuesDelivered checks that 0, "", a nil pointer and a nil error
// are items, on every primitive.
func TestZeroValuesDelivered(t *testing.T) {
	t.Run("int", func(t *testing.T) { zeroRoundTrip[int](t) })
	t.Run("string", func(t *testing.T) { zeroRoundTrip[string](t) })
	t.Run("pointer", func(t *testing.T) { zeroRoundTrip[*int](t) })
	t.Run("error", func(t *testing.T) { zeroRoundTrip[error](t) })
}

func zeroRoundTrip[T comparable](t *testing.T) {
	var zero T
	for _, k := range kits[T]() {
		t.Run(k.name, func(t *testing.T) {
			ctx := context.Background()
			s, r := k.new()
			c := goSend(ctx, s, zero)
			if v, err := r.Recv(ctx); v != zero || err != nil {
				t.Fatalf("Recv() = %v, %v, want %v, nil", v, err, zero)
			}
			if err := <-c; err != nil {
				t.Fatalf("Send(zero) = %v, want nil", err)
			}
			s.Close()
			if _, err := r.Recv(ctx); err != ErrClosed {
				t.Fatalf("Recv() after close = %v, want ErrClosed", err)
			}
		})
	}
	t.Run("value", func(t *testing.T) {
		v := NewValue[T]()
		if _, _, ok := v.Load(); ok {
			t.Fatalf("Load() ok = true before Set, want false")
		}
		v.Set(zero)
		if x, ver, ok := v.Load(); x != zero || ver != 1 || !ok {
			t.Fatalf("Load() = %v, %d, %v, want %v, 1, true", x, ver, ok, zero)
		}
		if x, err := v.Get(context.Background()); x != zero || err != nil {
			t.Fatalf("Get() = %v, %v, want %v, nil", x, err, zero)
		}
		w := v.Watch()
		defer w.Close()
		mustRecv(t, w, zero)
	})
	t.Run("broadcast", func(t *testing.T) {
		b := NewBroadcast[T]()
		sub := b.Subscribe(nil)
		defer sub.Close()
		if n := b.Send(zero); n != 1 {
			t.Fatalf("Send(zero) = %d, want 1", n)
		}
		mustRecv(t, sub, zero)
	})
}

func TestClone(t *testing.T) {
	type ends struct {
		s *Sender[int]
		r *Recver[int]
	}
	tests := []struct {
		name       string
		new        func() ends
		sendErr    error // Clone of the sender
		recvErr    error // Clone of the recver
		closedSend error // Clone of a closed sender
		closedRecv error // Clone of a closed recver
	}{
		{"pipe", func() ends { s, r := NewPipe[int](); return ends{s, r} }, ErrNotShared, ErrNotShared, ErrNotShared, ErrNotShared},
		{"queue", func() ends { s, r := NewQueue[int](1); return ends{s, r} }, ErrNotShared, ErrNotShared, ErrNotShared, ErrNotShared},
		{"dealer", func() ends { s, r := NewDealer[int](); return ends{s, r} }, ErrNotShared, nil, ErrNotShared, ErrClosed},
		{"router", func() ends { s, r := NewRouter[int](); return ends{s, r} }, nil, ErrNotShared, ErrClosed, ErrNotShared},
		{"channel", func() ends { s, r := NewChannel[int](1); return ends{s, r} }, nil, nil, ErrClosed, ErrClosed},
		{"state", func() ends { s, r := NewState[int](); return ends{s, r} }, ErrNotShared, ErrNotShared, ErrNotShared, ErrNotShared},
		{"tee", func() ends { s, rs := NewTee[int](2); return ends{s, rs[1]} }, ErrNotShared, ErrNotShared, ErrNotShared, ErrNotShared},
		{"value_watch", func() ends { return ends{r: NewValue[int]().Watch()} }, nil, ErrNotShared, nil, ErrNotShared},
		{"broadcast_sub", func() ends { return ends{r: NewBroadcast[int]().Subscribe(nil)} }, nil, ErrNotShared, nil, ErrNotShared},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/send", func(t *testing.T) {
			e := tt.new()
			if e.s == nil {
				t.Skip("no sender")
			}
			c, err := e.s.Clone()
			if err != tt.sendErr || (err == nil) != (c != nil) {
				t.Fatalf("Clone() = %v, %v, want a clone iff %v is nil", c, err, tt.sendErr)
			}
			e.s.Close()
			if c, err := e.s.Clone(); err != tt.closedSend || c != nil {
				t.Fatalf("Clone() of closed sender = %v, %v, want nil, %v", c, err, tt.closedSend)
			}
		})
		t.Run(tt.name+"/recv", func(t *testing.T) {
			e := tt.new()
			c, err := e.r.Clone()
			if err != tt.recvErr || (err == nil) != (c != nil) {
				t.Fatalf("Clone() = %v, %v, want a clone iff %v is nil", c, err, tt.recvErr)
			}
			e.r.Close()
			if c, err := e.r.Clone(); err != tt.closedRecv || c != nil {
				t.Fatalf("Clone() of closed recver = %v, %v, want nil, %v", c, err, tt.closedRecv)
			}
		})
	}
}

// TestCloneIsParticipant checks that a clone keeps the primitive open after
// the original closes, and that the primitive ends when the clone closes.
func TestCloneIsParticipant(t *testing.T) {
	for _, k := range kits[int]() {
		if k.multiSend {
			t.Run(k.name+"/send", func(t *testing.T) {
				ctx := context.Background()
				s, r := k.new()
				c, err := s.Clone()
				if err != nil {
					t.Fatalf("Clone() = %v, want nil", err)
				}
				s.Close()
				if err := s.Send(ctx, 1); err != ErrClosed {
					t.Fatalf("Send() on closed original = %v, want ErrClosed", err)
				}
				done := goSend(ctx, c, 2)
				if v, err := r.Recv(ctx); v != 2 || err != nil {
					t.Fatalf("Recv() = %v, %v, want 2, nil", v, err)
				}
				if err := <-done; err != nil {
					t.Fatalf("Send() on clone = %v, want nil", err)
				}
				c.CloseWithError(errBoom)
				if _, err := r.Recv(ctx); err != errBoom {
					t.Fatalf("Recv() = %v, want errBoom", err)
				}
			})
		}
		if k.multiRecv {
			t.Run(k.name+"/recv", func(t *testing.T) {
				ctx := context.Background()
				s, r := k.new()
				c, err := r.Clone()
				if err != nil {
					t.Fatalf("Clone() = %v, want nil", err)
				}
				r.Close()
				if _, err := r.Recv(ctx); err != ErrClosed {
					t.Fatalf("Recv() on closed original = %v, want ErrClosed", err)
				}
				done := goSend(ctx, s, 3)
				if v, err := c.Recv(ctx); v != 3 || err != nil {
					t.Fatalf("Recv() on clone = %v, %v, want 3, nil", v, err)
				}
				if err := <-done; err != nil {
					t.Fatalf("Send() = %v, want nil", err)
				}
				c.Close()
				if err := s.Send(ctx, 4); err != ErrAbandoned {
					t.Fatalf("Send() = %v, want ErrAbandoned", err)
				}
			})
		}
	}
}

func TestTryForms(t *testing.T) {
	for _, k := range kits[int]() {
		t.Run(k.name+"/buffer", func(t *testing.T) {
			s, r := k.new()
			mustWouldBlock(t, r)
			fill(t, s, k.buffered)
			if err := s.TrySend(100); k.coalesces {
				if err != nil {
					t.Fatalf("TrySend() = %v, want nil (State overwrites)", err)
				}
				mustRecv(t, r, 100)
				return
			} else if err != ErrWouldBlock {
				t.Fatalf("TrySend() on full = %v, want ErrWouldBlock", err)
			}
			drain(t, r, k.buffered)
			mustWouldBlock(t, r)
		})
		t.Run(k.name+"/counterpart_parked", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				s, r := k.new()
				rc := goRecv(ctx, r)
				synctest.Wait()
				if err := s.TrySend(5); err != nil {
					t.Fatalf("TrySend() with a parked recver = %v, want nil", err)
				}
				if res := <-rc; res.v != 5 || res.err != nil {
					t.Fatalf("Recv() = %v, %v, want 5, nil", res.v, res.err)
				}
				if k.coalesces {
					return
				}
				fill(t, s, k.buffered)
				sc := goSend(ctx, s, 6)
				synctest.Wait()
				assertParked(t, "Send", sc)
				drain(t, r, k.buffered)
				mustRecv(t, r, 6)
				if err := <-sc; err != nil {
					t.Fatalf("Send() = %v, want nil", err)
				}
			})
		})
	}
}
