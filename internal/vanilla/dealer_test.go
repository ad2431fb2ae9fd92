package vanilla

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
)

// dealerRecvers returns the recver of a Dealer and n-1 clones of it.
func dealerRecvers(t *testing.T, r *Recver[int], n int) []*Recver[int] {
	t.Helper()
	rs := []*Recver[int]{r}
	for len(rs) < n {
		c, err := r.Clone()
		if err != nil {
			t.Fatalf("Clone() = %v, want nil", err)
		}
		rs = append(rs, c)
	}
	return rs
}

// TestDealerLongestWaitingFirst parks recvers in a known order and checks
// that items 1, 2, 3 go to them in that order.
func TestDealerLongestWaitingFirst(t *testing.T) {
	tests := []struct {
		name   string
		clones bool // each waiter on its own clone, else all on one handle
		order  []int
	}{
		{"clones_in_order", true, []int{0, 1, 2}},
		{"clones_reversed", true, []int{2, 1, 0}},
		{"clones_mixed", true, []int{1, 2, 0}},
		{"same_handle", false, []int{0, 1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				s, r := NewDealer[int]()
				rs := []*Recver[int]{r, r, r}
				if tt.clones {
					rs = dealerRecvers(t, r, 3)
				}
				got := make([]<-chan result[int], 3)
				for i, idx := range tt.order {
					got[i] = goRecv(ctx, rs[idx])
					synctest.Wait() // parked before the next one starts
				}
				for v := 1; v <= 3; v++ {
					if err := s.TrySend(v); err != nil {
						t.Fatalf("TrySend(%d) = %v, want nil", v, err)
					}
				}
				for i := range got {
					if res := <-got[i]; res.v != i+1 || res.err != nil {
						t.Errorf("recver parked %d-th: Recv() = %v, %v, want %v, nil", i, res.v, res.err, i+1)
					}
				}
			})
		})
	}
}

// TestDealerEachItemOnce deals many items to concurrent recvers on several
// clones: every item goes to exactly one of them.
func TestDealerEachItemOnce(t *testing.T) {
	ctx := context.Background()
	s, r := NewDealer[int]()
	rs := dealerRecvers(t, r, 4)
	const n = 2000
	var mu sync.Mutex
	seen := make(map[int]int)
	var wg sync.WaitGroup
	for _, rc := range rs {
		for range 2 { // two goroutines share each clone
			wg.Go(func() {
				for {
					v, err := rc.Recv(ctx)
					if err != nil {
						if err != ErrClosed {
							t.Errorf("Recv() = %v, want ErrClosed at the end", err)
						}
						return
					}
					mu.Lock()
					seen[v]++
					mu.Unlock()
				}
			})
		}
	}
	for i := range n {
		if err := s.Send(ctx, i); err != nil {
			t.Fatalf("Send(%d) = %v, want nil", i, err)
		}
	}
	s.Close()
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("received %d distinct items, want %d", len(seen), n)
	}
	for v, c := range seen {
		if c != 1 {
			t.Fatalf("item %d received %d times, want 1", v, c)
		}
	}
}

// TestDealerManyWaitersClose parks two goroutines on each of three clones
// and closes ends one at a time.
func TestDealerManyWaitersClose(t *testing.T) {
	t.Run("sender_close_wakes_all", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			s, r := NewDealer[int]()
			var waits []<-chan result[int]
			for _, rc := range dealerRecvers(t, r, 3) {
				waits = append(waits, goRecv(ctx, rc), goRecv(ctx, rc))
			}
			synctest.Wait()
			s.CloseWithError(errBoom)
			for i, c := range waits {
				if res := <-c; res.err != errBoom || !errors.Is(res.err, errBoom) {
					t.Errorf("waiter %d: Recv() = %v, %v, want 0, errBoom", i, res.v, res.err)
				}
			}
		})
	})
	t.Run("recver_close_wakes_its_own", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			s, r := NewDealer[int]()
			rs := dealerRecvers(t, r, 3)
			waits := make([][]<-chan result[int], 3)
			for i, rc := range rs {
				waits[i] = []<-chan result[int]{goRecv(ctx, rc)}
				synctest.Wait()
				waits[i] = append(waits[i], goRecv(ctx, rc))
				synctest.Wait()
			}
			rs[1].Close()
			for j, c := range waits[1] {
				if res := <-c; res.err != ErrClosed {
					t.Errorf("closed clone, waiter %d: Recv() = %v, %v, want 0, ErrClosed", j, res.v, res.err)
				}
			}
			synctest.Wait()
			for _, i := range []int{0, 2} {
				for _, c := range waits[i] {
					assertParked(t, "Recv on open clone", c)
				}
			}
			// The open clones still get items, longest waiting first.
			want := [][2]int{{0, 0}, {0, 1}, {2, 0}, {2, 1}}
			for v, w := range want {
				if err := s.Send(ctx, v+1); err != nil {
					t.Fatalf("Send(%d) = %v, want nil", v+1, err)
				}
				if res := <-waits[w[0]][w[1]]; res.v != v+1 || res.err != nil {
					t.Errorf("clone %d waiter %d: Recv() = %v, %v, want %v, nil", w[0], w[1], res.v, res.err, v+1)
				}
			}
		})
	})
	t.Run("last_recver_close_abandons", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			s, r := NewDealer[int]()
			rs := dealerRecvers(t, r, 3)
			sends := []<-chan error{goSend(ctx, s, 1), goSend(ctx, s, 2), goSend(ctx, s, 3)}
			for _, rc := range rs[:2] {
				rc.Close()
				synctest.Wait()
				for _, c := range sends {
					assertParked(t, "Send", c)
				}
			}
			rs[2].Close()
			for i, c := range sends {
				if err := <-c; err != ErrAbandoned {
					t.Errorf("Send %d = %v, want ErrAbandoned", i, err)
				}
			}
		})
	})
}
