package vanilla

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
)

// routerSenders returns the sender of a Router and n-1 clones of it.
func routerSenders(t *testing.T, s *Sender[int], n int) []*Sender[int] {
	t.Helper()
	ss := []*Sender[int]{s}
	for len(ss) < n {
		c, err := s.Clone()
		if err != nil {
			t.Fatalf("Clone() = %v, want nil", err)
		}
		ss = append(ss, c)
	}
	return ss
}

// TestRouterWaitingSendersFIFO parks senders in a known order and checks
// that the recver gets their items in that order.
func TestRouterWaitingSendersFIFO(t *testing.T) {
	tests := []struct {
		name   string
		clones bool
		order  []int
	}{
		{"clones_in_order", true, []int{0, 1, 2}},
		{"clones_reversed", true, []int{2, 1, 0}},
		{"same_handle", false, []int{1, 0, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				s, r := NewRouter[int]()
				ss := []*Sender[int]{s, s, s}
				if tt.clones {
					ss = routerSenders(t, s, 3)
				}
				var sends []<-chan error
				for _, idx := range tt.order {
					sends = append(sends, goSend(ctx, ss[idx], 10+idx))
					synctest.Wait()
				}
				for i, idx := range tt.order {
					mustRecv(t, r, 10+idx)
					if err := <-sends[i]; err != nil {
						t.Fatalf("Send(%d) = %v, want nil", 10+idx, err)
					}
				}
			})
		})
	}
}

// TestRouterEndsWhenEveryCloneClosed closes the clones one at a time: the
// parked recver wakes only after the last, with the first error.
func TestRouterEndsWhenEveryCloneClosed(t *testing.T) {
	errA, errB := errors.New("a"), errors.New("b")
	tests := []struct {
		name string
		errs []error // close error of each participant, in closing order
		want error
	}{
		{"all_plain", []error{nil, nil, nil}, ErrClosed},
		{"first_error_wins", []error{nil, errA, errB}, errA},
		{"first_closer_error", []error{errB, nil, errA}, errB},
		{"last_closer_error", []error{nil, nil, errA}, errA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				s, r := NewRouter[int]()
				ss := routerSenders(t, s, len(tt.errs))
				c := goRecv(ctx, r)
				for i, err := range tt.errs {
					synctest.Wait()
					assertParked(t, "Recv", c)
					ss[i].CloseWithError(err)
				}
				if res := <-c; res.err != tt.want {
					t.Fatalf("Recv() = %v, %v, want 0, %v", res.v, res.err, tt.want)
				}
				if _, err := r.Recv(ctx); err != tt.want {
					t.Fatalf("Recv() again = %v, want %v", err, tt.want)
				}
			})
		})
	}
}

func TestRouterManyWaitersClose(t *testing.T) {
	t.Run("recver_close_abandons_all", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			s, r := NewRouter[int]()
			var sends []<-chan error
			for i, sc := range routerSenders(t, s, 3) {
				sends = append(sends, goSend(ctx, sc, i), goSend(ctx, sc, 10+i))
			}
			synctest.Wait()
			r.Close()
			for i, c := range sends {
				if err := <-c; err != ErrAbandoned {
					t.Errorf("Send %d = %v, want ErrAbandoned", i, err)
				}
			}
		})
	})
	t.Run("clone_close_wakes_its_own", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			s, r := NewRouter[int]()
			ss := routerSenders(t, s, 3)
			sends := make([]<-chan error, 3)
			for i, sc := range ss {
				sends[i] = goSend(ctx, sc, i)
				synctest.Wait()
			}
			ss[1].Close()
			if err := <-sends[1]; err != ErrClosed {
				t.Fatalf("Send on closed clone = %v, want ErrClosed", err)
			}
			synctest.Wait()
			assertParked(t, "Send on clone 0", sends[0])
			assertParked(t, "Send on clone 2", sends[2])
			mustRecv(t, r, 0)
			mustRecv(t, r, 2) // 1 was withdrawn
			for _, i := range []int{0, 2} {
				if err := <-sends[i]; err != nil {
					t.Fatalf("Send on clone %d = %v, want nil", i, err)
				}
			}
			mustWouldBlock(t, r)
		})
	})
}

// TestRouterConcurrentSenders fans in from many clones: each sender's items
// arrive in its order, all of them, then ErrClosed.
func TestRouterConcurrentSenders(t *testing.T) {
	ctx := context.Background()
	s, r := NewRouter[int]()
	const senders, per = 4, 500
	ss := routerSenders(t, s, senders)
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
	next := make([]int, senders)
	for range senders * per {
		v, err := r.Recv(ctx)
		if err != nil {
			t.Fatalf("Recv() = %v, %v, want an item", v, err)
		}
		i, j := v/per, v%per
		if j != next[i] {
			t.Fatalf("Recv() = %v: item %d of sender %d, want item %d", v, j, i, next[i])
		}
		next[i]++
	}
	if _, err := r.Recv(ctx); err != ErrClosed {
		t.Fatalf("Recv() after all = %v, want ErrClosed", err)
	}
	wg.Wait()
}
