package vanilla

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
)

// TestTeeWhenAllReadyGiveToAll checks the notes' "tee: when all are ready,
// give to all": a send completes only once a recver waits on every output,
// and then every output gets the item.
func TestTeeWhenAllReadyGiveToAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s, rs := NewTee[int](3)
		if len(rs) != 3 {
			t.Fatalf("NewTee(3) returned %d recvers, want 3", len(rs))
		}
		if err := s.TrySend(1); err != ErrWouldBlock {
			t.Fatalf("TrySend(1) with no recver ready = %v, want ErrWouldBlock", err)
		}
		send := goSend(ctx, s, 1)
		var recvs []<-chan result[int]
		for i, r := range rs {
			synctest.Wait()
			assertParked(t, fmt.Sprintf("Send(1) with %d of 3 outputs ready", i), send)
			for j, c := range recvs {
				assertParked(t, fmt.Sprintf("Recv on output %d", j), c)
			}
			if i < len(rs)-1 { // output 2 cannot complete the meeting yet
				if v, err := rs[2].TryRecv(); err != ErrWouldBlock {
					t.Fatalf("TryRecv() on output 2 with %d others ready = %v, %v, want ErrWouldBlock", i, v, err)
				}
			}
			recvs = append(recvs, goRecv(ctx, r))
		}
		if err := <-send; err != nil {
			t.Fatalf("Send(1) = %v, want nil", err)
		}
		for i, c := range recvs {
			if res := <-c; res.v != 1 || res.err != nil {
				t.Fatalf("output %d: Recv() = %v, %v, want 1, nil", i, res.v, res.err)
			}
		}

		// The send may also arrive last: it finds every output waiting.
		for i, r := range rs {
			recvs[i] = goRecv(ctx, r)
		}
		synctest.Wait()
		if err := s.TrySend(2); err != nil {
			t.Fatalf("TrySend(2) with every output waiting = %v, want nil", err)
		}
		for i, c := range recvs {
			if res := <-c; res.v != 2 || res.err != nil {
				t.Fatalf("output %d: Recv() = %v, %v, want 2, nil", i, res.v, res.err)
			}
		}

		// Or a TryRecv: it completes the meeting for the parked others.
		send = goSend(ctx, s, 3)
		r0, r1 := goRecv(ctx, rs[0]), goRecv(ctx, rs[1])
		synctest.Wait()
		mustRecv(t, rs[2], 3)
		if err := <-send; err != nil {
			t.Fatalf("Send(3) = %v, want nil", err)
		}
		for i, c := range []<-chan result[int]{r0, r1} {
			if res := <-c; res.v != 3 || res.err != nil {
				t.Fatalf("output %d: Recv() = %v, %v, want 3, nil", i, res.v, res.err)
			}
		}
	})
}

// TestTeeClosedOutputSkipped closes outputs around a waiting send: the
// meeting no longer waits for a closed output, and the last close abandons
// the sender.
func TestTeeClosedOutputSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s, rs := NewTee[int](3)
		r0 := goRecv(ctx, rs[0])
		send := goSend(ctx, s, 1)
		synctest.Wait()
		assertParked(t, "Send(1) with outputs 1 and 2 not ready", send)
		rs[1].Close()
		synctest.Wait()
		assertParked(t, "Send(1) with output 2 not ready", send)
		rs[2].Close() // the last one the send waited for
		if err := <-send; err != nil {
			t.Fatalf("Send(1) after the slow outputs closed = %v, want nil", err)
		}
		if res := <-r0; res.v != 1 || res.err != nil {
			t.Fatalf("Recv() = %v, %v, want 1, nil", res.v, res.err)
		}
		if err := s.TrySend(2); err != ErrWouldBlock {
			t.Fatalf("TrySend(2) with output 0 not ready = %v, want ErrWouldBlock", err)
		}
		send = goSend(ctx, s, 2)
		synctest.Wait()
		assertParked(t, "Send(2)", send)
		rs[0].Close()
		if err := <-send; err != ErrAbandoned {
			t.Fatalf("Send(2) after every output closed = %v, want ErrAbandoned", err)
		}
		if err := s.Send(ctx, 3); err != ErrAbandoned {
			t.Fatalf("Send(3) = %v, want ErrAbandoned", err)
		}
	})
}

// TestTeeSelectReadyOnlyWhenAll selects on either side of a Tee: a case is
// ready only when the whole meeting is.
func TestTeeSelectReadyOnlyWhenAll(t *testing.T) {
	t.Run("send_case", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			s, rs := NewTee[int](2)
			_, idle := NewPipe[int]()
			var d int
			r0 := goRecv(ctx, rs[0])
			synctest.Wait()
			done, cancel := context.WithCancel(ctx)
			cancel()
			if i, err := Select(done, s.Case(1)); i != -1 || err != context.Canceled {
				t.Fatalf("Select(send) with one of two outputs ready = %d, %v, want -1, context.Canceled", i, err)
			}
			sel := goSelect(ctx, idle.Case(&d), s.Case(1))
			synctest.Wait()
			assertParked(t, "Select(send) with one of two outputs ready", sel)
			assertParked(t, "Recv on output 0", r0)
			r1 := goRecv(ctx, rs[1])
			if res := <-sel; res.i != 1 || res.err != nil {
				t.Fatalf("Select() = %d, %v, want 1, nil", res.i, res.err)
			}
			for i, c := range []<-chan result[int]{r0, r1} {
				if res := <-c; res.v != 1 || res.err != nil {
					t.Fatalf("output %d: Recv() = %v, %v, want 1, nil", i, res.v, res.err)
				}
			}
		})
	})
	t.Run("recv_case", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			s, rs := NewTee[int](2)
			_, idle := NewPipe[int]()
			var d, v int
			send := goSend(ctx, s, 7)
			sel := goSelect(ctx, idle.Case(&d), rs[0].Case(&v))
			synctest.Wait()
			assertParked(t, "Select(recv) with output 1 not ready", sel)
			mustRecv(t, rs[1], 7)
			if res := <-sel; res.i != 1 || res.err != nil || v != 7 {
				t.Fatalf("Select() = %d, %v, v = %d, want 1, nil, 7", res.i, res.err, v)
			}
			if err := <-send; err != nil {
				t.Fatalf("Send(7) = %v, want nil", err)
			}
		})
	})
	t.Run("one_select_fills_one_output", func(t *testing.T) {
		// A Select waiting on both outputs is one recver: it can fill only
		// one of them. When another recver arrives on output 0, the meeting
		// moves the Select to output 1.
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			s, rs := NewTee[int](2)
			var a, b int
			sel := goSelect(ctx, rs[0].Case(&a), rs[1].Case(&b))
			synctest.Wait()
			if err := s.TrySend(1); err != ErrWouldBlock {
				t.Fatalf("TrySend(1) with one Select on both outputs = %v, want ErrWouldBlock", err)
			}
			r0 := goRecv(ctx, rs[0])
			synctest.Wait()
			if err := s.TrySend(1); err != nil {
				t.Fatalf("TrySend(1) = %v, want nil", err)
			}
			if res := <-r0; res.v != 1 || res.err != nil {
				t.Fatalf("output 0: Recv() = %v, %v, want 1, nil", res.v, res.err)
			}
			if res := <-sel; res.i != 1 || res.err != nil || b != 1 || a != 0 {
				t.Fatalf("Select() = %d, %v, a, b = %d, %d, want 1, nil, 0, 1", res.i, res.err, a, b)
			}
		})
	})
}

// TestTeeMeetingIsAtomic races two Tees for the same two Selects, each
// waiting on one output of each Tee: every meeting must give one Tee's item
// to both Selects, never one item of each.
func TestTeeMeetingIsAtomic(t *testing.T) {
	ctx := context.Background()
	for i := range 300 {
		sa, ra := NewTee[int](2)
		sb, rb := NewTee[int](2)
		var wg sync.WaitGroup
		got := make([]int, 2)
		for j := range 2 {
			wg.Go(func() {
				var x, y int
				switch k, err := Select(ctx, ra[j].Case(&x), rb[j].Case(&y)); {
				case err != nil:
					t.Errorf("round %d: Select() = %d, %v, want no error", i, k, err)
				case k == 0:
					got[j] = x
				default:
					got[j] = y
				}
			})
		}
		errs := make(chan error, 2)
		go func() { errs <- sa.Send(ctx, 1) }()
		go func() { errs <- sb.Send(ctx, 2) }()
		wg.Wait()
		if got[0] != got[1] {
			t.Fatalf("round %d: the Selects got %v, want the same Tee's item", i, got)
		}
		loser := sb
		if got[0] == 2 {
			loser = sa
		}
		if err := <-errs; err != nil {
			t.Fatalf("round %d: the winning Send() = %v, want nil", i, err)
		}
		loser.Close() // the other Send still waits: release it
		if err := <-errs; err != ErrClosed {
			t.Fatalf("round %d: the losing Send() = %v, want ErrClosed", i, err)
		}
	}
}

// TestTeeParkedOnBothEnds has a send parked (output 1 not ready) and
// recvers parked on output 0 at the same time, then closes one end.
func TestTeeParkedOnBothEnds(t *testing.T) {
	setup := func(t *testing.T) (*Sender[int], []*Recver[int], <-chan error, []<-chan result[int]) {
		ctx := context.Background()
		s, rs := NewTee[int](2)
		send := goSend(ctx, s, 2)
		recvs := []<-chan result[int]{goRecv(ctx, rs[0]), goRecv(ctx, rs[0])}
		synctest.Wait()
		assertParked(t, "Send", send)
		for _, c := range recvs {
			assertParked(t, "Recv", c)
		}
		return s, rs, send, recvs
	}
	t.Run("close_sender", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s, rs, send, recvs := setup(t)
			s.CloseWithError(errBoom)
			if err := <-send; err != ErrClosed {
				t.Fatalf("Send() = %v, want ErrClosed", err)
			}
			for _, c := range recvs {
				if res := <-c; res.err != errBoom {
					t.Fatalf("Recv() = %v, %v, want 0, errBoom", res.v, res.err)
				}
			}
			if _, err := rs[1].TryRecv(); err != errBoom {
				t.Fatalf("TryRecv() = %v, want errBoom", err)
			}
		})
	})
	t.Run("close_parked_output", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s, rs, send, recvs := setup(t)
			rs[0].Close()
			for _, c := range recvs {
				if res := <-c; res.err != ErrClosed {
					t.Fatalf("Recv() = %v, %v, want 0, ErrClosed", res.v, res.err)
				}
			}
			synctest.Wait()
			assertParked(t, "Send while output 1 is not ready", send)
			mustRecv(t, rs[1], 2)
			if err := <-send; err != nil {
				t.Fatalf("Send() = %v, want nil", err)
			}
			s.Close()
			if _, err := rs[1].TryRecv(); err != ErrClosed {
				t.Fatalf("TryRecv() = %v, want ErrClosed", err)
			}
		})
	})
}

func TestTeeAtLeastOneOutput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, n := range []int{0, -3} {
			s, rs := NewTee[int](n)
			if len(rs) != 1 {
				t.Fatalf("NewTee(%d) returned %d recvers, want 1", n, len(rs))
			}
			c := goRecv(context.Background(), rs[0])
			synctest.Wait()
			if err := s.TrySend(1); err != nil {
				t.Fatalf("TrySend(1) = %v, want nil", err)
			}
			if res := <-c; res.v != 1 || res.err != nil {
				t.Fatalf("Recv() = %v, %v, want 1, nil", res.v, res.err)
			}
		}
	})
}
