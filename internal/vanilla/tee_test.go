package vanilla

import (
	"context"
	"testing"
	"testing/synctest"
)

func TestTeeLockStep(t *testing.T) {
	s, rs := NewTee[int](2)
	if len(rs) != 2 {
		t.Fatalf("NewTee(2) returned %d recvers, want 2", len(rs))
	}
	if err := s.TrySend(1); err != nil {
		t.Fatalf("TrySend(1) = %v, want nil", err)
	}
	if err := s.TrySend(2); err != ErrWouldBlock {
		t.Fatalf("TrySend(2) before anyone took 1 = %v, want ErrWouldBlock", err)
	}
	mustRecv(t, rs[0], 1)
	mustWouldBlock(t, rs[0]) // each output gets each item once
	if err := s.TrySend(2); err != ErrWouldBlock {
		t.Fatalf("TrySend(2) before output 1 took 1 = %v, want ErrWouldBlock", err)
	}
	mustRecv(t, rs[1], 1)
	if err := s.TrySend(2); err != nil {
		t.Fatalf("TrySend(2) after all took 1 = %v, want nil", err)
	}
	mustRecv(t, rs[1], 2)
	mustRecv(t, rs[0], 2)
}

func TestTeeSendWaitsForAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s, rs := NewTee[int](3)
		r0 := goRecv(ctx, rs[0]) // parked recvers get the item directly
		synctest.Wait()
		if err := s.Send(ctx, 1); err != nil {
			t.Fatalf("Send(1) = %v, want nil", err)
		}
		if res := <-r0; res.v != 1 || res.err != nil {
			t.Fatalf("Recv() = %v, %v, want 1, nil", res.v, res.err)
		}
		c := goSend(ctx, s, 2)
		mustRecv(t, rs[1], 1)
		synctest.Wait()
		assertParked(t, "Send(2) while output 2 holds 1", c)
		mustRecv(t, rs[2], 1)
		if err := <-c; err != nil {
			t.Fatalf("Send(2) = %v, want nil", err)
		}
		for _, r := range rs {
			mustRecv(t, r, 2)
		}
	})
}

func TestTeeClosedOutputSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s, rs := NewTee[int](3)
		fill(t, s, 1)
		mustRecv(t, rs[0], 1)
		c := goSend(ctx, s, 2)
		synctest.Wait()
		assertParked(t, "Send(2)", c)
		rs[1].Close() // was holding the send back, with 1 untaken
		synctest.Wait()
		assertParked(t, "Send(2) while output 2 holds 1", c)
		rs[2].Close()
		if err := <-c; err != nil {
			t.Fatalf("Send(2) after slow outputs closed = %v, want nil", err)
		}
		mustRecv(t, rs[0], 2)
		if err := s.TrySend(3); err != nil {
			t.Fatalf("TrySend(3) = %v, want nil", err)
		}
		c = goSend(ctx, s, 4) // output 0 holds 3
		synctest.Wait()
		assertParked(t, "Send(4)", c)
		rs[0].Close()
		if err := <-c; err != ErrAbandoned {
			t.Fatalf("Send(4) after every output closed = %v, want ErrAbandoned", err)
		}
		if err := s.Send(ctx, 5); err != ErrAbandoned {
			t.Fatalf("Send(5) = %v, want ErrAbandoned", err)
		}
	})
}

// TestTeeParkedOnBothEnds has a sender parked (output 1 holds an item) and
// recvers parked on output 0 at the same time, then closes one end.
func TestTeeParkedOnBothEnds(t *testing.T) {
	setup := func(t *testing.T) (*Sender[int], []*Recver[int], <-chan error, []<-chan result[int]) {
		ctx := context.Background()
		s, rs := NewTee[int](2)
		fill(t, s, 1)
		mustRecv(t, rs[0], 1)
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
			mustRecv(t, rs[1], 1) // what it was given, then the error
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
			assertParked(t, "Send while output 1 holds 1", send)
			mustRecv(t, rs[1], 1)
			if err := <-send; err != nil {
				t.Fatalf("Send() = %v, want nil", err)
			}
			mustRecv(t, rs[1], 2)
			s.Close()
			if _, err := rs[1].TryRecv(); err != ErrClosed {
				t.Fatalf("TryRecv() = %v, want ErrClosed", err)
			}
		})
	})
}

func TestTeeAtLeastOneOutput(t *testing.T) {
	for _, n := range []int{0, -3} {
		s, rs := NewTee[int](n)
		if len(rs) != 1 {
			t.Fatalf("NewTee(%d) returned %d recvers, want 1", n, len(rs))
		}
		fill(t, s, 1)
		mustRecv(t, rs[0], 1)
	}
}
