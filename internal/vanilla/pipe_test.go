package vanilla

import (
	"context"
	"testing"
	"testing/synctest"
)

func TestPipeSendBlocksUntilRecv(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s, r := NewPipe[int]()
		c := goSend(ctx, s, 1)
		synctest.Wait()
		assertParked(t, "Send", c)
		if v, err := r.Recv(ctx); v != 1 || err != nil {
			t.Fatalf("Recv() = %v, %v, want 1, nil", v, err)
		}
		if err := <-c; err != nil {
			t.Fatalf("Send() = %v, want nil", err)
		}
	})
}

func TestPipeRecvBlocksUntilSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s, r := NewPipe[string]()
		c := goRecv(ctx, r)
		synctest.Wait()
		assertParked(t, "Recv", c)
		if err := s.Send(ctx, "x"); err != nil {
			t.Fatalf("Send() = %v, want nil", err)
		}
		if res := <-c; res.v != "x" || res.err != nil {
			t.Fatalf("Recv() = %q, %v, want \"x\", nil", res.v, res.err)
		}
	})
}

func TestPipeNoBuffer(t *testing.T) {
	s, r := NewPipe[int]()
	if err := s.TrySend(1); err != ErrWouldBlock {
		t.Fatalf("TrySend() = %v, want ErrWouldBlock", err)
	}
	mustWouldBlock(t, r)
}

// TestPipeOrder streams items through a pipe and checks that they arrive in
// order, followed by the close error.
func TestPipeOrder(t *testing.T) {
	ctx := context.Background()
	s, r := NewPipe[int]()
	const n = 1000
	errc := make(chan error, 1)
	go func() {
		defer s.Close()
		for i := range n {
			if err := s.Send(ctx, i); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for i := range n {
		if v, err := r.Recv(ctx); v != i || err != nil {
			t.Fatalf("Recv() = %v, %v, want %v, nil", v, err, i)
		}
	}
	if _, err := r.Recv(ctx); err != ErrClosed {
		t.Fatalf("Recv() after last = %v, want ErrClosed", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Send() = %v, want nil", err)
	}
}
