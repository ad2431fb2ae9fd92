package vanilla

import (
	"context"
	"testing"
	"testing/synctest"
)

func TestBroadcastPolicy(t *testing.T) {
	tests := []struct {
		name    string
		opts    *SubscribeOptions
		want    []int // what a subscriber that reads after sends 1..4 gets
		dropped uint64
	}{
		{"nil_opts", nil, []int{1}, 3},
		{"drop_buffer_2", &SubscribeOptions{Policy: Drop, Buffer: 2}, []int{1, 2}, 2},
		{"latest_buffer_1", &SubscribeOptions{Policy: Latest, Buffer: 1}, []int{4}, 3},
		{"latest_buffer_2", &SubscribeOptions{Policy: Latest, Buffer: 2}, []int{1, 4}, 2},
		{"latest_buffer_0", &SubscribeOptions{Policy: Latest}, []int{4}, 3},
		{"drop_buffer_8", &SubscribeOptions{Policy: Drop, Buffer: 8}, []int{1, 2, 3, 4}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBroadcast[int]()
			sub := b.Subscribe(tt.opts)
			defer sub.Close()
			for i := 1; i <= 4; i++ {
				b.Send(i)
			}
			for _, w := range tt.want {
				mustRecv(t, sub, w)
			}
			mustWouldBlock(t, sub)
			if n := sub.Dropped(); n != tt.dropped {
				t.Fatalf("Recver.Dropped() = %d, want %d", n, tt.dropped)
			}
			if n := b.Dropped(); n != tt.dropped {
				t.Fatalf("Broadcast.Dropped() = %d, want %d", n, tt.dropped)
			}
		})
	}
}

// TestBroadcastNeverBlocks sends many items to subscribers that never read:
// Send returns each time, and the drops are counted per subscriber and in
// total.
func TestBroadcastNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := NewBroadcast[int]()
		drop := b.Subscribe(&SubscribeOptions{Policy: Drop, Buffer: 4})
		latest := b.Subscribe(&SubscribeOptions{Policy: Latest, Buffer: 2})
		defer drop.Close()
		defer latest.Close()
		const n = 1000
		for i := range n {
			want := 0
			if i < 2 {
				want = 2
			} else if i < 4 {
				want = 1
			}
			if got := b.Send(i); got != want {
				t.Fatalf("Send(%d) = %d, want %d", i, got, want)
			}
		}
		if got := drop.Dropped(); got != n-4 {
			t.Fatalf("Drop subscriber Dropped() = %d, want %d", got, n-4)
		}
		if got := latest.Dropped(); got != n-2 {
			t.Fatalf("Latest subscriber Dropped() = %d, want %d", got, n-2)
		}
		if got := b.Dropped(); got != 2*n-6 {
			t.Fatalf("Broadcast.Dropped() = %d, want %d", got, 2*n-6)
		}
		for i := range 4 {
			mustRecv(t, drop, i)
		}
		mustRecv(t, latest, 0)
		mustRecv(t, latest, n-1)
	})
}

func TestBroadcastParkedSubscriber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		b := NewBroadcast[string]()
		subs := []*Recver[string]{b.Subscribe(nil), b.Subscribe(&SubscribeOptions{Policy: Latest})}
		var cs []<-chan result[string]
		for _, s := range subs {
			cs = append(cs, goRecv(ctx, s))
		}
		synctest.Wait()
		if n := b.Send("q"); n != 2 {
			t.Fatalf("Send() = %d, want 2", n)
		}
		for _, c := range cs {
			if res := <-c; res.v != "q" || res.err != nil {
				t.Fatalf("Recv() = %q, %v, want \"q\", nil", res.v, res.err)
			}
		}
		for _, s := range subs {
			s.Close()
		}
	})
}

// TestBroadcastClosedSubscriberRemoved closes one subscription: the next
// Send removes it, and its drops stay in the total.
func TestBroadcastClosedSubscriberRemoved(t *testing.T) {
	b := NewBroadcast[int]()
	a := b.Subscribe(nil)
	c := b.Subscribe(nil)
	defer c.Close()
	if n := b.Len(); n != 2 {
		t.Fatalf("Len() = %d, want 2", n)
	}
	b.Send(1)
	b.Send(2) // dropped by both
	a.Close()
	if n := b.Len(); n != 2 {
		t.Fatalf("Len() before the next Send = %d, want 2", n)
	}
	if n := b.Send(3); n != 0 { // c is full; a is gone
		t.Fatalf("Send(3) = %d, want 0", n)
	}
	if n := b.Len(); n != 1 {
		t.Fatalf("Len() after Send = %d, want 1", n)
	}
	if n := b.Dropped(); n != 3 {
		t.Fatalf("Dropped() = %d, want 3 (1 by the removed subscriber)", n)
	}
	mustRecv(t, c, 1)
	if n := b.Send(4); n != 1 {
		t.Fatalf("Send(4) = %d, want 1", n)
	}
	mustRecv(t, c, 4)
	if _, err := a.TryRecv(); err != ErrClosed {
		t.Fatalf("TryRecv() on closed subscription = %v, want ErrClosed", err)
	}
}

func TestBroadcastClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		b := NewBroadcast[int]()
		full := b.Subscribe(&SubscribeOptions{Buffer: 2})
		parked := b.Subscribe(nil)
		b.Send(1)
		b.Send(2)
		mustRecv(t, parked, 1)
		c := goRecv(ctx, parked)
		synctest.Wait()
		assertParked(t, "Recv", c)
		b.Close(errBoom)
		b.Close(nil) // idempotent
		if res := <-c; res.err != errBoom {
			t.Fatalf("parked Recv() = %v, %v, want 0, errBoom", res.v, res.err)
		}
		mustRecv(t, full, 1) // drains, then the error
		mustRecv(t, full, 2)
		if _, err := full.Recv(ctx); err != errBoom {
			t.Fatalf("Recv() after drain = %v, want errBoom", err)
		}
		if n := b.Send(3); n != 0 {
			t.Fatalf("Send() after Close = %d, want 0", n)
		}
		late := b.Subscribe(nil)
		if _, err := late.Recv(ctx); err != errBoom {
			t.Fatalf("Recv() on subscription made after Close = %v, want errBoom", err)
		}
	})
}

func TestBroadcastCloseNil(t *testing.T) {
	b := NewBroadcast[int]()
	s := b.Subscribe(nil)
	b.Close(nil)
	if _, err := s.Recv(context.Background()); err != ErrClosed {
		t.Fatalf("Recv() = %v, want ErrClosed", err)
	}
	if _, err := b.Subscribe(nil).Recv(context.Background()); err != ErrClosed {
		t.Fatalf("Recv() on late subscription = %v, want ErrClosed", err)
	}
}
