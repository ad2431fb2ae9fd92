package vanilla

import (
	"context"
	"testing"
	"testing/synctest"
)

func TestQueueFIFO(t *testing.T) {
	for _, size := range []int{1, 3, 16} {
		s, r := NewQueue[int](size)
		for round := range 3 { // wraps around the ring
			for i := range size {
				if err := s.TrySend(round*100 + i); err != nil {
					t.Fatalf("size %d: TrySend() = %v, want nil", size, err)
				}
			}
			for i := range size {
				mustRecv(t, r, round*100+i)
			}
		}
	}
}

func TestQueueFullBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s, r := NewQueue[int](2)
		fill(t, s, 2)
		c3 := goSend(ctx, s, 3)
		synctest.Wait()
		assertParked(t, "Send(3)", c3)
		c4 := goSend(ctx, s, 4) // parked after 3
		synctest.Wait()
		assertParked(t, "Send(4)", c4)
		mustRecv(t, r, 1) // makes room for 3 only
		if err := <-c3; err != nil {
			t.Fatalf("Send(3) = %v, want nil", err)
		}
		synctest.Wait()
		assertParked(t, "Send(4)", c4)
		mustRecv(t, r, 2)
		if err := <-c4; err != nil {
			t.Fatalf("Send(4) = %v, want nil", err)
		}
		mustRecv(t, r, 3)
		mustRecv(t, r, 4)
		mustWouldBlock(t, r)
	})
}

func TestQueueDrainAfterClose(t *testing.T) {
	ctx := context.Background()
	s, r := NewQueue[int](4)
	fill(t, s, 3)
	s.Close()
	for i := 1; i <= 3; i++ {
		if v, err := r.Recv(ctx); v != i || err != nil {
			t.Fatalf("Recv() = %v, %v, want %v, nil", v, err, i)
		}
	}
	if _, err := r.Recv(ctx); err != ErrClosed {
		t.Fatalf("Recv() = %v, want ErrClosed", err)
	}
}

func TestQueueNonPositiveSizeIsPipe(t *testing.T) {
	for _, size := range []int{0, -1} {
		s, r := NewQueue[int](size)
		if err := s.TrySend(1); err != ErrWouldBlock {
			t.Fatalf("NewQueue(%d): TrySend() = %v, want ErrWouldBlock", size, err)
		}
		mustWouldBlock(t, r)
	}
}
