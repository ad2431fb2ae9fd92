package vanilla

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
)

// TestSelectOneSendFires parks a Select on two sends; a recver takes one and
// the other is withdrawn: it is never delivered.
func TestSelectOneSendFires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s1, r1 := NewPipe[int]()
		s2, r2 := NewPipe[int]()
		sel := goSelect(ctx, s1.Case(1), s2.Case(2))
		synctest.Wait()
		assertParked(t, "Select", sel)
		if v, err := r2.Recv(ctx); v != 2 || err != nil {
			t.Fatalf("Recv() = %v, %v, want 2, nil", v, err)
		}
		if res := <-sel; res.i != 1 || res.err != nil {
			t.Fatalf("Select() = %d, %v, want 1, nil", res.i, res.err)
		}
		mustWouldBlock(t, r1) // the send of 1 was withdrawn
		c := goRecv(ctx, r1)
		synctest.Wait()
		assertParked(t, "Recv on withdrawn send", c)
		s1.Close()
		if res := <-c; res.err != ErrClosed {
			t.Fatalf("Recv() = %v, %v, want 0, ErrClosed", res.v, res.err)
		}
	})
}

// TestSelectOneRecvFires parks a Select on two recvs; a send completes one
// and the other does not take anything.
func TestSelectOneRecvFires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s1, r1 := NewPipe[int]()
		s2, r2 := NewPipe[int]()
		a, b := -1, -1
		sel := goSelect(ctx, r1.Case(&a), r2.Case(&b))
		synctest.Wait()
		if err := s2.Send(ctx, 5); err != nil {
			t.Fatalf("Send(5) = %v, want nil", err)
		}
		if res := <-sel; res.i != 1 || res.err != nil || b != 5 || a != -1 {
			t.Fatalf("Select() = %d, %v with a = %d, b = %d, want 1, nil, -1, 5", res.i, res.err, a, b)
		}
		if err := s1.TrySend(6); err != ErrWouldBlock { // nobody waits on r1 any more
			t.Fatalf("TrySend(6) = %v, want ErrWouldBlock", err)
		}
	})
}

// TestSelectReadySendsOnlyOne offers to two queues with room: one item is
// sent, not two.
func TestSelectReadySendsOnlyOne(t *testing.T) {
	s1, r1 := NewQueue[int](1)
	s2, r2 := NewQueue[int](1)
	if i, err := Select(context.Background(), s1.Case(1), s2.Case(2)); i != 0 || err != nil {
		t.Fatalf("Select() = %d, %v, want 0, nil", i, err)
	}
	mustRecv(t, r1, 1)
	mustWouldBlock(t, r2)
}

func TestSelectFirstReadyWins(t *testing.T) {
	tests := []struct {
		name  string
		ready []bool
		want  int
	}{
		{"all", []bool{true, true, true}, 0},
		{"second_and_third", []bool{false, true, true}, 1},
		{"first_and_third", []bool{true, false, true}, 0},
		{"only_third", []bool{false, false, true}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ss []*Sender[int]
			var rs []*Recver[int]
			for _, ready := range tt.ready {
				s, r := NewQueue[int](1)
				if ready {
					fill(t, s, 1)
				}
				ss, rs = append(ss, s), append(rs, r)
			}
			dst := make([]int, len(rs))
			for round := range 3 { // the order is stable, not random
				cases := make([]Case, len(rs))
				for i, r := range rs {
					cases[i] = r.Case(&dst[i])
				}
				i, err := Select(context.Background(), cases...)
				if i != tt.want || err != nil || dst[i] != 1 {
					t.Fatalf("round %d: Select() = %d, %v, dst = %v, want %d, nil, 1", round, i, err, dst, tt.want)
				}
				dst[i] = 0
				fill(t, ss[i], 1) // ready again
			}
			for i, ready := range tt.ready { // the others kept their items
				if ready {
					mustRecv(t, rs[i], 1)
				}
			}
		})
	}
}

// TestSelectNoSelfMatch selects over a send and a recv of the same
// primitive: it parks, and a counterpart completes exactly one of them.
func TestSelectNoSelfMatch(t *testing.T) {
	for _, k := range blockingKits[int]() {
		if k.buffered > 0 {
			continue
		}
		t.Run(k.name+"/other_recvs", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				s, r := k.new()
				v := -1
				sel := goSelect(ctx, s.Case(1), r.Case(&v))
				synctest.Wait()
				assertParked(t, "Select", sel)
				if x, err := r.Recv(ctx); x != 1 || err != nil {
					t.Fatalf("Recv() = %v, %v, want 1, nil", x, err)
				}
				if res := <-sel; res.i != 0 || res.err != nil || v != -1 {
					t.Fatalf("Select() = %d, %v, v = %d, want 0, nil, -1", res.i, res.err, v)
				}
			})
		})
		t.Run(k.name+"/other_sends", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				s, r := k.new()
				v := -1
				sel := goSelect(ctx, s.Case(1), r.Case(&v))
				synctest.Wait()
				if err := s.Send(ctx, 7); err != nil {
					t.Fatalf("Send(7) = %v, want nil", err)
				}
				if res := <-sel; res.i != 1 || res.err != nil || v != 7 {
					t.Fatalf("Select() = %d, %v, v = %d, want 1, nil, 7", res.i, res.err, v)
				}
				mustWouldBlock(t, r) // the Select's 1 was withdrawn
			})
		})
	}
}

// TestSelectClosedCaseReady puts a case that never fires first and a closed
// one second: the closed one is ready, with its error.
func TestSelectClosedCaseReady(t *testing.T) {
	tests := []struct {
		name string
		c    func() Case
		want error
	}{
		{"recv_own_end_closed", func() Case {
			_, r := NewPipe[int]()
			r.Close()
			var v int
			return r.Case(&v)
		}, ErrClosed},
		{"recv_sender_closed_with_error", func() Case {
			s, r := NewQueue[int](1)
			s.CloseWithError(errBoom)
			var v int
			return r.Case(&v)
		}, errBoom},
		{"send_own_end_closed", func() Case {
			s, _ := NewPipe[int]()
			s.Close()
			return s.Case(1)
		}, ErrClosed},
		{"send_abandoned", func() Case {
			s, r := NewDealer[int]()
			r.Close()
			return s.Case(1)
		}, ErrAbandoned},
		{"value_closed", func() Case {
			v := NewValue[int]()
			v.Close(errBoom)
			var x int
			return v.Case(&x)
		}, errBoom},
		{"tee_all_outputs_closed", func() Case {
			s, rs := NewTee[int](2)
			rs[0].Close()
			rs[1].Close()
			return s.Case(1)
		}, ErrAbandoned},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, idle := NewPipe[int]()
			var d int
			i, err := Select(context.Background(), idle.Case(&d), tt.c())
			if i != 1 || err != tt.want || !errors.Is(err, tt.want) {
				t.Fatalf("Select() = %d, %v, want 1, %v", i, err, tt.want)
			}
		})
	}
}

func TestSelectCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s1, r1 := NewPipe[int]()
		s2, r2 := NewQueue[int](1)
		fill(t, s2, 1) // the send case below cannot proceed
		ctx, cancel := context.WithCancelCause(context.Background())
		var v int
		sel := goSelect(ctx, r1.Case(&v), s2.Case(9))
		synctest.Wait()
		assertParked(t, "Select", sel)
		cancel(errCause)
		if res := <-sel; res.i != -1 || res.err != errCause {
			t.Fatalf("Select() = %d, %v, want -1, errCause", res.i, res.err)
		}
		if err := s1.TrySend(1); err != ErrWouldBlock { // the recv was withdrawn
			t.Fatalf("TrySend() = %v, want ErrWouldBlock", err)
		}
		mustRecv(t, r2, 1)
		mustWouldBlock(t, r2) // 9 was not sent
		if i, err := Select(ctx, r1.Case(&v)); i != -1 || err != errCause {
			t.Fatalf("Select() with done ctx = %d, %v, want -1, errCause", i, err)
		}
	})
}

// TestSelectMixed selects over six kinds of recv case at once and makes each
// one ready in turn.
func TestSelectMixed(t *testing.T) {
	type world struct {
		pipe   *Sender[int]
		queue  *Sender[int]
		value  *Value[int]
		bcast  *Broadcast[int]
		tee    *Sender[int]
		tee1   *Recver[int] // the Tee's other output
		state  *Sender[int]
		cases  []Case
		dst    []int
		closer func()
	}
	build := func() *world {
		w := &world{dst: make([]int, 6)}
		var pr, qr, tr, sr *Recver[int]
		w.pipe, pr = NewPipe[int]()
		w.queue, qr = NewQueue[int](2)
		w.value = NewValue[int]()
		w.bcast = NewBroadcast[int]()
		sub := w.bcast.Subscribe(nil)
		var trs []*Recver[int]
		w.tee, trs = NewTee[int](2)
		tr, w.tee1 = trs[0], trs[1]
		w.state, sr = NewState[int]()
		w.cases = []Case{pr.Case(&w.dst[0]), qr.Case(&w.dst[1]), w.value.Case(&w.dst[2]), sub.Case(&w.dst[3]), tr.Case(&w.dst[4]), sr.Case(&w.dst[5])}
		w.closer = func() { sub.Close(); trs[1].Close() }
		return w
	}
	ready := []struct {
		name string
		make func(ctx context.Context, w *world) error
	}{
		{"pipe", func(ctx context.Context, w *world) error { return w.pipe.Send(ctx, 100) }},
		{"queue", func(ctx context.Context, w *world) error { return w.queue.Send(ctx, 101) }},
		{"value", func(ctx context.Context, w *world) error { w.value.Set(102); return nil }},
		{"broadcast", func(ctx context.Context, w *world) error {
			if n := w.bcast.Send(103); n != 1 {
				return errors.New("broadcast not delivered")
			}
			return nil
		}},
		{"tee", func(ctx context.Context, w *world) error {
			// The Select waits on output 0; the send completes once output
			// 1 is ready too.
			r1 := goRecv(ctx, w.tee1)
			if err := w.tee.Send(ctx, 104); err != nil {
				return err
			}
			if res := <-r1; res.v != 104 || res.err != nil {
				return fmt.Errorf("output 1: Recv() = %v, %v, want 104, nil", res.v, res.err)
			}
			return nil
		}},
		{"state", func(ctx context.Context, w *world) error { return w.state.Send(ctx, 105) }},
	}
	for want, rd := range ready {
		t.Run(rd.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				w := build()
				defer w.closer()
				sel := goSelect(ctx, w.cases...)
				synctest.Wait()
				assertParked(t, "Select", sel)
				if err := rd.make(ctx, w); err != nil {
					t.Fatalf("making %s ready: %v", rd.name, err)
				}
				res := <-sel
				if res.i != want || res.err != nil || w.dst[want] != 100+want {
					t.Fatalf("Select() = %d, %v, dst = %v, want %d, nil, %d", res.i, res.err, w.dst, want, 100+want)
				}
				for i, d := range w.dst {
					if i != want && d != 0 {
						t.Fatalf("case %d wrote dst = %d, want 0", i, d)
					}
				}
			})
		})
	}
}

// TestSelectValueWatcher selects over a watcher: a Set fires it, and the
// next Select does not see the same version again.
func TestSelectValueWatcher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		v := NewValue[int]()
		w := v.Watch()
		defer w.Close()
		_, idle := NewPipe[int]()
		var x, d int
		sel := goSelect(ctx, idle.Case(&d), w.Case(&x))
		synctest.Wait()
		v.Set(3)
		if res := <-sel; res.i != 1 || res.err != nil || x != 3 {
			t.Fatalf("Select() = %d, %v, x = %d, want 1, nil, 3", res.i, res.err, x)
		}
		sel = goSelect(ctx, idle.Case(&d), w.Case(&x))
		synctest.Wait()
		assertParked(t, "Select on a watcher that has seen the current version", sel)
		v.Set(4)
		if res := <-sel; res.i != 1 || res.err != nil || x != 4 {
			t.Fatalf("Select() = %d, %v, x = %d, want 1, nil, 4", res.i, res.err, x)
		}
	})
}
