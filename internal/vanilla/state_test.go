package vanilla

import (
	"context"
	"testing"
	"testing/synctest"
)

func TestStateOverwrites(t *testing.T) {
	s, r := NewState[int]()
	for i := 1; i <= 5; i++ {
		if err := s.TrySend(i); err != nil {
			t.Fatalf("TrySend(%d) = %v, want nil (State never blocks)", i, err)
		}
	}
	if n := r.Dropped(); n != 4 {
		t.Fatalf("Dropped() = %d, want 4", n)
	}
	mustRecv(t, r, 5)
	mustWouldBlock(t, r) // taken: nothing newer
	if err := s.Send(context.Background(), 6); err != nil {
		t.Fatalf("Send(6) = %v, want nil", err)
	}
	mustRecv(t, r, 6)
	if n := r.Dropped(); n != 4 {
		t.Fatalf("Dropped() after taking = %d, want 4", n)
	}
}

func TestStateRecvWaitsForSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s, r := NewState[int]()
		c := goRecv(ctx, r)
		synctest.Wait()
		assertParked(t, "Recv", c)
		if err := s.Send(ctx, 1); err != nil {
			t.Fatalf("Send(1) = %v, want nil", err)
		}
		if res := <-c; res.v != 1 || res.err != nil {
			t.Fatalf("Recv() = %v, %v, want 1, nil", res.v, res.err)
		}
		if err := s.Send(ctx, 2); err != nil { // nobody waits: stored
			t.Fatalf("Send(2) = %v, want nil", err)
		}
		if n := r.Dropped(); n != 0 {
			t.Fatalf("Dropped() = %d, want 0", n)
		}
		mustRecv(t, r, 2)
	})
}

func TestStateCloseKeepsLatest(t *testing.T) {
	ctx := context.Background()
	s, r := NewState[string]()
	s.TrySend("old")
	s.TrySend("new")
	s.CloseWithError(errBoom)
	if v, err := r.Recv(ctx); v != "new" || err != nil {
		t.Fatalf("Recv() = %q, %v, want \"new\", nil", v, err)
	}
	if _, err := r.Recv(ctx); err != errBoom {
		t.Fatalf("Recv() = %v, want errBoom", err)
	}
}
