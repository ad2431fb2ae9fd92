package vanilla

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
)

// TestGatherOnceAllReadyRecvAll checks the notes' "gather: once all are
// ready, recv all": nothing is taken from any input until a send waits on
// every input; then one recv takes one item from each.
func TestGatherOnceAllReadyRecvAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		ins, out := NewGather[int](3)
		if len(ins) != 3 {
			t.Fatalf("NewGather(3) returned %d senders, want 3", len(ins))
		}
		if v, err := out.TryRecv(); err != ErrWouldBlock {
			t.Fatalf("TryRecv() with no input ready = %v, %v, want ErrWouldBlock", v, err)
		}
		var sends []<-chan error
		for i, s := range ins {
			synctest.Wait()
			for j, c := range sends {
				assertParked(t, fmt.Sprintf("Send on input %d", j), c) // not taken
			}
			if v, err := out.TryRecv(); err != ErrWouldBlock {
				t.Fatalf("TryRecv() with %d of 3 inputs ready = %v, %v, want ErrWouldBlock", i, v, err)
			}
			sends = append(sends, goSend(ctx, s, 10*(i+1)))
		}
		synctest.Wait()
		if v, err := out.Recv(ctx); !slices.Equal(v, []int{10, 20, 30}) || err != nil {
			t.Fatalf("Recv() = %v, %v, want [10 20 30], nil", v, err)
		}
		for i, c := range sends {
			if err := <-c; err != nil {
				t.Fatalf("input %d: Send() = %v, want nil", i, err)
			}
		}

		// The recver may arrive first; the last send completes the meeting.
		recv := goRecv(ctx, out)
		s0 := goSend(ctx, ins[0], 1)
		s1 := goSend(ctx, ins[1], 2)
		synctest.Wait()
		assertParked(t, "Recv with input 2 not ready", recv)
		if err := ins[2].TrySend(3); err != nil {
			t.Fatalf("TrySend(3) on the last input = %v, want nil", err)
		}
		if res := <-recv; !slices.Equal(res.v, []int{1, 2, 3}) || res.err != nil {
			t.Fatalf("Recv() = %v, %v, want [1 2 3], nil", res.v, res.err)
		}
		for i, c := range []<-chan error{s0, s1} {
			if err := <-c; err != nil {
				t.Fatalf("input %d: Send() = %v, want nil", i, err)
			}
		}
	})
}

// TestGatherSourceEndsFirst ends one input while the others wait: the
// Gather ends with that input's error, and the waiting sends fail with
// ErrAbandoned: their items were not taken, so nothing is lost.
func TestGatherSourceEndsFirst(t *testing.T) {
	tests := []struct {
		name string
		err  error // the ending input closes with it
		want error // what the recver gets
	}{
		{"close", nil, ErrClosed},
		{"close_with_error", errBoom, errBoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				ins, out := NewGather[string](3)
				a := goSend(ctx, ins[0], "a")
				c := goSend(ctx, ins[2], "c")
				recv := goRecv(ctx, out)
				synctest.Wait()
				ins[1].CloseWithError(tt.err)
				for i, ch := range []<-chan error{a, c} {
					if err := <-ch; err != ErrAbandoned {
						t.Fatalf("waiting Send() %d = %v, want ErrAbandoned (not taken)", i, err)
					}
				}
				if res := <-recv; res.v != nil || res.err != tt.want {
					t.Fatalf("Recv() = %v, %v, want nil, %v", res.v, res.err, tt.want)
				}
				if v, err := out.TryRecv(); v != nil || err != tt.want {
					t.Fatalf("TryRecv() = %v, %v, want nil, %v (sticky)", v, err, tt.want)
				}
				if err := ins[0].Send(ctx, "a"); err != ErrAbandoned {
					t.Fatalf("Send() after the end = %v, want ErrAbandoned", err)
				}
				if err := ins[1].Send(ctx, "b"); err != ErrClosed {
					t.Fatalf("Send() on the closed input = %v, want ErrClosed", err)
				}
			})
		})
	}
	t.Run("recver_closes", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			ins, out := NewGather[int](2)
			a := goSend(ctx, ins[0], 1)
			synctest.Wait()
			out.Close()
			if err := <-a; err != ErrAbandoned {
				t.Fatalf("waiting Send() = %v, want ErrAbandoned", err)
			}
			if err := ins[1].TrySend(2); err != ErrAbandoned {
				t.Fatalf("TrySend() after the recver closed = %v, want ErrAbandoned", err)
			}
			if _, err := out.Recv(ctx); err != ErrClosed {
				t.Fatalf("Recv() on the closed recver = %v, want ErrClosed", err)
			}
		})
	})
}

// TestGatherSelectReadyOnlyWhenAll selects on either side of a Gather.
func TestGatherSelectReadyOnlyWhenAll(t *testing.T) {
	t.Run("recv_case", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			ins, out := NewGather[int](2)
			_, idle := NewPipe[int]()
			var d int
			var v []int
			a := goSend(ctx, ins[0], 1)
			sel := goSelect(ctx, idle.Case(&d), out.Case(&v))
			synctest.Wait()
			assertParked(t, "Select(recv) with input 1 not ready", sel)
			assertParked(t, "Send on input 0", a)
			if err := ins[1].TrySend(2); err != nil {
				t.Fatalf("TrySend(2) = %v, want nil", err)
			}
			if res := <-sel; res.i != 1 || res.err != nil || !slices.Equal(v, []int{1, 2}) {
				t.Fatalf("Select() = %d, %v, v = %v, want 1, nil, [1 2]", res.i, res.err, v)
			}
			if err := <-a; err != nil {
				t.Fatalf("Send(1) = %v, want nil", err)
			}
		})
	})
	t.Run("send_case", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			ins, out := NewGather[int](2)
			_, idle := NewPipe[int]()
			var d int
			recv := goRecv(ctx, out)
			sel := goSelect(ctx, idle.Case(&d), ins[0].Case(1))
			synctest.Wait()
			assertParked(t, "Select(send) with input 1 not ready", sel)
			b := goSend(ctx, ins[1], 2)
			if res := <-sel; res.i != 1 || res.err != nil {
				t.Fatalf("Select() = %d, %v, want 1, nil", res.i, res.err)
			}
			if res := <-recv; !slices.Equal(res.v, []int{1, 2}) || res.err != nil {
				t.Fatalf("Recv() = %v, %v, want [1 2], nil", res.v, res.err)
			}
			if err := <-b; err != nil {
				t.Fatalf("Send(2) = %v, want nil", err)
			}
		})
	})
}

// TestGatherConnected feeds a Gather from buffered queues through Connect:
// the stages pull from the queues only while the Gather's recver waits.
func TestGatherConnected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		var h Hub
		ins, out := NewGather[int](2)
		qs := make([]*Sender[int], 2)
		for i := range ins {
			var qr *Recver[int]
			qs[i], qr = NewQueue[int](1)
			Connect(ctx, &h, qr, ins[i])
		}
		fill(t, qs[0], 1)
		synctest.Wait()
		if err := qs[0].TrySend(2); err != ErrWouldBlock {
			t.Fatalf("TrySend(2) on a full queue nobody asked for = %v, want ErrWouldBlock (the item was pulled)", err)
		}
		recv := goRecv(ctx, out)
		synctest.Wait()
		assertParked(t, "Recv with the second queue empty", recv)
		fill(t, qs[1], 1)
		if res := <-recv; !slices.Equal(res.v, []int{1, 1}) || res.err != nil {
			t.Fatalf("Recv() = %v, %v, want [1 1], nil", res.v, res.err)
		}
		out.Close()
		if err := qs[0].TrySend(3); err != ErrAbandoned {
			t.Fatalf("TrySend() on a source after the Gather's recver closed = %v, want ErrAbandoned", err)
		}
		if err := h.Wait(); err != nil {
			t.Fatalf("Wait() = %v, want nil", err)
		}
	})
}

func TestGatherEnds(t *testing.T) {
	ins, out := NewGather[int](0)
	if len(ins) != 1 {
		t.Fatalf("NewGather(0) returned %d senders, want 1", len(ins))
	}
	for _, c := range []func() error{
		func() error { _, err := ins[0].Clone(); return err },
		func() error { _, err := out.Clone(); return err },
	} {
		if err := c(); err != ErrNotShared {
			t.Fatalf("Clone() = %v, want ErrNotShared", err)
		}
	}
	ins[0].Close()
	ins[0].Close() // idempotent
	if _, err := out.TryRecv(); err != ErrClosed {
		t.Fatalf("TryRecv() = %v, want ErrClosed", err)
	}
	if n := out.Dropped(); n != 0 {
		t.Fatalf("Dropped() = %d, want 0", n)
	}
}
