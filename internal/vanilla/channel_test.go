package vanilla

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
)

// TestChannelManySendersManyRecvers runs sender and recver clones
// concurrently over buffered and unbuffered Channels: every item arrives
// once, each recver sees each sender's items in order, and every recver gets
// ErrClosed once all senders have closed.
func TestChannelManySendersManyRecvers(t *testing.T) {
	for _, size := range []int{0, 1, 8} {
		t.Run(map[int]string{0: "unbuffered", 1: "buffer_1", 8: "buffer_8"}[size], func(t *testing.T) {
			ctx := context.Background()
			s, r := NewChannel[int](size)
			const senders, recvers, per = 4, 3, 300
			ss := []*Sender[int]{s}
			rs := []*Recver[int]{r}
			for len(ss) < senders {
				c, err := s.Clone()
				if err != nil {
					t.Fatalf("Sender.Clone() = %v, want nil", err)
				}
				ss = append(ss, c)
			}
			for len(rs) < recvers {
				c, err := r.Clone()
				if err != nil {
					t.Fatalf("Recver.Clone() = %v, want nil", err)
				}
				rs = append(rs, c)
			}
			var wg sync.WaitGroup
			for i, sc := range ss {
				wg.Go(func() {
					defer sc.Close()
					for j := range per {
						if err := sc.Send(ctx, i*per+j); err != nil {
							t.Errorf("Send() = %v, want nil", err)
							return
						}
					}
				})
			}
			got := make([][]int, recvers)
			for k, rc := range rs {
				wg.Go(func() {
					defer rc.Close()
					last := []int{-1, -1, -1, -1}
					for {
						v, err := rc.Recv(ctx)
						if err != nil {
							if err != ErrClosed {
								t.Errorf("Recv() = %v, want ErrClosed at the end", err)
							}
							return
						}
						if i, j := v/per, v%per; j <= last[i] {
							t.Errorf("recver %d got item %d of sender %d after item %d", k, j, i, last[i])
						} else {
							last[i] = j
						}
						got[k] = append(got[k], v)
					}
				})
			}
			wg.Wait()
			seen := make(map[int]bool)
			for _, g := range got {
				for _, v := range g {
					if seen[v] {
						t.Fatalf("item %d received twice", v)
					}
					seen[v] = true
				}
			}
			if len(seen) != senders*per {
				t.Fatalf("received %d items, want %d", len(seen), senders*per)
			}
		})
	}
}

// TestChannelBufferThenBlock fills the buffer from two sender clones, parks
// a third send and checks that recvers on two clones take them in order.
func TestChannelBufferThenBlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		s, r := NewChannel[int](2)
		s2, err := s.Clone()
		if err != nil {
			t.Fatalf("Clone() = %v, want nil", err)
		}
		r2, err := r.Clone()
		if err != nil {
			t.Fatalf("Clone() = %v, want nil", err)
		}
		if err := s.TrySend(1); err != nil {
			t.Fatalf("TrySend(1) = %v, want nil", err)
		}
		if err := s2.TrySend(2); err != nil {
			t.Fatalf("TrySend(2) = %v, want nil", err)
		}
		c := goSend(ctx, s, 3)
		synctest.Wait()
		assertParked(t, "Send(3)", c)
		mustRecv(t, r2, 1)
		if err := <-c; err != nil {
			t.Fatalf("Send(3) = %v, want nil", err)
		}
		mustRecv(t, r, 2)
		s.Close()
		mustRecv(t, r2, 3) // s2 is still open
		mustWouldBlock(t, r)
		s2.Close()
		if _, err := r.Recv(ctx); err != ErrClosed {
			t.Fatalf("Recv() = %v, want ErrClosed", err)
		}
		if _, err := r2.Recv(ctx); err != ErrClosed {
			t.Fatalf("Recv() on clone = %v, want ErrClosed", err)
		}
	})
}
