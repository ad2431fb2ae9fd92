package vanilla

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// produceN returns a Produce stage sending from, from+1, ... (n items, or
// forever when n < 0). The error its last Send returned, if any, is
// reported on the returned channel.
func produceN(ctx context.Context, h *Hub, from, n int) (*Recver[int], <-chan error) {
	sendErr := make(chan error, 1)
	r := Produce(ctx, h, func(ctx context.Context, s *Sender[int]) error {
		for i := 0; n < 0 || i < n; i++ {
			if err := s.Send(ctx, from+i); err != nil {
				sendErr <- err
				return err
			}
		}
		return nil
	})
	return r, sendErr
}

// recvAll receives until an error and returns the items and the error.
func recvAll[T any](t *testing.T, r *Recver[T]) ([]T, error) {
	t.Helper()
	var got []T
	for {
		v, err := r.Recv(context.Background())
		if err != nil {
			return got, err
		}
		got = append(got, v)
	}
}

func TestMapFilterEndOfInput(t *testing.T) {
	ctx := context.Background()
	var h Hub
	src, _ := produceN(ctx, &h, 1, 6)
	sq := Map(ctx, &h, src, func(_ context.Context, v int) (int, error) { return v * v, nil })
	even := Filter(ctx, &h, sq, func(v int) bool { return v%2 == 0 })
	got, err := recvAll(t, even)
	if want := []int{4, 16, 36}; !slices.Equal(got, want) || err != ErrClosed {
		t.Fatalf("Recv() = %v then %v, want %v then ErrClosed", got, err, want)
	}
	if err := h.Stop(); err != nil {
		t.Fatalf("Stop() = %v, want nil", err)
	}
}

// TestMapError ends a Map with an error: it reaches the downstream recver,
// the upstream producer is abandoned, and the Hub reports it.
func TestMapError(t *testing.T) {
	ctx := context.Background()
	var h Hub
	src, sendErr := produceN(ctx, &h, 1, -1)
	m := Map(ctx, &h, src, func(_ context.Context, v int) (string, error) {
		if v == 3 {
			return "", errBoom
		}
		return string(rune('a' + v - 1)), nil
	})
	got, err := recvAll(t, m)
	if want := []string{"a", "b"}; !slices.Equal(got, want) || !errors.Is(err, errBoom) {
		t.Fatalf("Recv() = %v then %v, want %v then errBoom", got, err, want)
	}
	if err := <-sendErr; err != ErrAbandoned {
		t.Fatalf("producer Send() = %v, want ErrAbandoned", err)
	}
	if err := h.Stop(); !errors.Is(err, errBoom) {
		t.Fatalf("Stop() = %v, want errBoom", err)
	}
}

func TestStageDownstreamAbandoned(t *testing.T) {
	ctx := context.Background()
	var h Hub
	src, sendErr := produceN(ctx, &h, 1, -1)
	m := Map(ctx, &h, src, func(_ context.Context, v int) (int, error) { return -v, nil })
	f := Filter(ctx, &h, m, func(int) bool { return true })
	for i := 1; i <= 2; i++ {
		if v, err := f.Recv(ctx); v != -i || err != nil {
			t.Fatalf("Recv() = %v, %v, want %v, nil", v, err, -i)
		}
	}
	f.Close()
	if err := <-sendErr; err != ErrAbandoned {
		t.Fatalf("producer Send() = %v, want ErrAbandoned", err)
	}
	if err := h.Stop(); err != nil {
		t.Fatalf("Stop() = %v, want nil", err)
	}
}

// TestStageHubStop stops the Hub under a running pipeline: a recver outside
// the Hub sees ErrStopped.
func TestStageHubStop(t *testing.T) {
	ctx := context.Background()
	var h Hub
	src, _ := produceN(ctx, &h, 1, -1)
	m := Map(ctx, &h, src, func(_ context.Context, v int) (int, error) { return v, nil })
	if v, err := m.Recv(ctx); v != 1 || err != nil {
		t.Fatalf("Recv() = %v, %v, want 1, nil", v, err)
	}
	if err := h.Stop(); err != nil {
		t.Fatalf("Stop() = %v, want nil", err)
	}
	if v, err := m.Recv(ctx); err != ErrStopped {
		t.Fatalf("Recv() after Stop = %v, %v, want 0, ErrStopped", v, err)
	}
}

func TestConsume(t *testing.T) {
	t.Run("all", func(t *testing.T) {
		ctx := context.Background()
		var h Hub
		src, _ := produceN(ctx, &h, 1, 5)
		var got []int
		Consume(ctx, &h, src, func(_ context.Context, v int) error { got = append(got, v); return nil })
		if err := h.Wait(); err != nil {
			t.Fatalf("Wait() = %v, want nil", err)
		}
		if want := []int{1, 2, 3, 4, 5}; !slices.Equal(got, want) {
			t.Fatalf("consumed %v, want %v", got, want)
		}
	})
	t.Run("fn_error", func(t *testing.T) {
		ctx := context.Background()
		var h Hub
		src, sendErr := produceN(ctx, &h, 1, -1)
		var got []int
		Consume(ctx, &h, src, func(_ context.Context, v int) error {
			if v == 3 {
				return errBoom
			}
			got = append(got, v)
			return nil
		})
		if err := <-sendErr; err != ErrAbandoned {
			t.Fatalf("producer Send() = %v, want ErrAbandoned", err)
		}
		if err := h.Stop(); !errors.Is(err, errBoom) {
			t.Fatalf("Stop() = %v, want errBoom", err)
		}
		if want := []int{1, 2}; !slices.Equal(got, want) {
			t.Fatalf("consumed %v, want %v", got, want)
		}
	})
}

func TestProduce(t *testing.T) {
	tests := []struct {
		name string
		ret  error
		want error // downstream, after the items
		hub  error // what the Hub reports
	}{
		{"nil", nil, ErrClosed, nil},
		{"error", errBoom, errBoom, errBoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Hub
			r := Produce(context.Background(), &h, func(ctx context.Context, s *Sender[int]) error {
				if err := s.Send(ctx, 0); err != nil {
					return err
				}
				return tt.ret
			})
			got, err := recvAll(t, r)
			if !slices.Equal(got, []int{0}) || err != tt.want {
				t.Fatalf("Recv() = %v then %v, want [0] then %v", got, err, tt.want)
			}
			if err := h.Stop(); !errors.Is(err, tt.hub) || (tt.hub == nil) != (err == nil) {
				t.Fatalf("Stop() = %v, want %v", err, tt.hub)
			}
		})
	}
}

func TestConnect(t *testing.T) {
	ctx := context.Background()
	var h Hub
	qs, qr := NewQueue[int](4)
	ps, pr := NewPipe[int]()
	Connect(ctx, &h, qr, ps)
	fill(t, qs, 3)
	qs.CloseWithError(errBoom)
	got, err := recvAll(t, pr)
	if want := []int{1, 2, 3}; !slices.Equal(got, want) || err != errBoom {
		t.Fatalf("Recv() = %v then %v, want %v then errBoom", got, err, want)
	}
	if err := h.Stop(); !errors.Is(err, errBoom) {
		t.Fatalf("Stop() = %v, want errBoom (an upstream error is a failure)", err)
	}
}

// TestConnectRouterFanIn connects three producers into one Router through
// clones of its sender: the recver gets every item, each source in order,
// and the end only after every source has ended.
func TestConnectRouterFanIn(t *testing.T) {
	ctx := context.Background()
	var h Hub
	rs, rr := NewRouter[int]()
	const sources, per = 3, 50
	for i := range sources {
		c, err := rs.Clone()
		if err != nil {
			t.Fatalf("Clone() = %v, want nil", err)
		}
		src, _ := produceN(ctx, &h, i*1000, per)
		Connect(ctx, &h, src, c)
	}
	rs.Close() // the clones keep the Router open
	next := make([]int, sources)
	for range sources * per {
		v, err := rr.Recv(ctx)
		if err != nil {
			t.Fatalf("Recv() = %v, %v, want an item", v, err)
		}
		i, j := v/1000, v%1000
		if j != next[i] {
			t.Fatalf("Recv() = %d: item %d of source %d, want item %d", v, j, i, next[i])
		}
		next[i]++
	}
	if _, err := rr.Recv(ctx); err != ErrClosed {
		t.Fatalf("Recv() after all = %v, want ErrClosed", err)
	}
	if err := h.Stop(); err != nil {
		t.Fatalf("Stop() = %v, want nil", err)
	}
}

// TestPulse runs a Pulse on synctest's fake clock.
func TestPulse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		var h Hub
		start := time.Now()
		r := Pulse(ctx, &h, time.Second)
		for i := 1; i <= 3; i++ {
			v, err := r.Recv(ctx)
			want := start.Add(time.Duration(i) * time.Second)
			if err != nil || !v.Equal(want) || !time.Now().Equal(want) {
				t.Fatalf("tick %d: Recv() = %v, %v at %v, want %v, nil at the same time", i, v, err, time.Now(), want)
			}
		}
		if n := r.Dropped(); n != 0 {
			t.Fatalf("Dropped() = %d, want 0", n)
		}
		// A recver busy for 3.5 s of fake time gets only the latest tick.
		<-time.After(3500 * time.Millisecond)
		if v, err := r.Recv(ctx); err != nil || !v.Equal(start.Add(6*time.Second)) {
			t.Fatalf("Recv() after a busy spell = %v, %v, want %v, nil", v, err, start.Add(6*time.Second))
		}
		if n := r.Dropped(); n != 2 {
			t.Fatalf("Dropped() = %d, want 2", n)
		}
		if err := h.Stop(); err != nil {
			t.Fatalf("Stop() = %v, want nil", err)
		}
		if _, err := r.Recv(ctx); err != ErrStopped {
			t.Fatalf("Recv() after Stop = %v, want ErrStopped", err)
		}
	})
}

// TestPulseRecverCloses closes a Pulse's recver between ticks: its
// goroutine exits at once, not at the next tick.
func TestPulseRecverCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		var h Hub
		start := time.Now()
		r := Pulse(ctx, &h, time.Hour)
		if _, err := r.Recv(ctx); err != nil {
			t.Fatalf("Recv() = %v, want a tick", err)
		}
		r.Close()
		if err := h.Wait(); err != nil {
			t.Fatalf("Wait() = %v, want nil", err)
		}
		if d := time.Since(start); d != time.Hour {
			t.Fatalf("the Pulse goroutine exited %v after the start, want at once after the first tick (1h)", d)
		}
	})
}

func TestPulseBadInterval(t *testing.T) {
	for _, every := range []time.Duration{0, -time.Second} {
		var h Hub
		r := Pulse(context.Background(), &h, every)
		if _, err := r.Recv(context.Background()); err != ErrBadInterval {
			t.Fatalf("Pulse(%v): Recv() = %v, want ErrBadInterval", every, err)
		}
		if err := h.Stop(); err != nil {
			t.Fatalf("Stop() = %v, want nil", err)
		}
	}
}

// TestStageOnStoppedHub starts stages on a Hub that has already stopped:
// their functions do not run, but their ends are closed as if the Hub had
// stopped them, so nobody waits forever.
func TestStageOnStoppedHub(t *testing.T) {
	tests := []struct {
		name  string
		stage func(ctx context.Context, h *Hub, src *Recver[int]) *Recver[int]
	}{
		{"map", func(ctx context.Context, h *Hub, src *Recver[int]) *Recver[int] {
			return Map(ctx, h, src, func(_ context.Context, v int) (int, error) { return v, nil })
		}},
		{"filter", func(ctx context.Context, h *Hub, src *Recver[int]) *Recver[int] {
			return Filter(ctx, h, src, func(int) bool { return true })
		}},
		{"connect", func(ctx context.Context, h *Hub, src *Recver[int]) *Recver[int] {
			s, r := NewPipe[int]()
			Connect(ctx, h, src, s)
			return r
		}},
		{"consume", func(ctx context.Context, h *Hub, src *Recver[int]) *Recver[int] {
			Consume(ctx, h, src, func(context.Context, int) error { return nil })
			return nil // no output: only the upstream is checked
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				var h Hub
				if err := h.Stop(); err != nil {
					t.Fatalf("Stop() = %v, want nil", err)
				}
				s, src := NewPipe[int]()
				if out := tt.stage(ctx, &h, src); out != nil {
					if _, err := out.Recv(ctx); err != ErrStopped {
						t.Fatalf("Recv() = %v, want ErrStopped", err)
					}
				}
				if err := s.Send(ctx, 1); err != ErrAbandoned {
					t.Fatalf("upstream Send() = %v, want ErrAbandoned", err)
				}
			})
		})
	}
	t.Run("produce_and_pulse", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			var h Hub
			if err := h.Stop(); err != nil {
				t.Fatalf("Stop() = %v, want nil", err)
			}
			p := Produce(ctx, &h, func(context.Context, *Sender[int]) error { return nil })
			if _, err := p.Recv(ctx); err != ErrStopped {
				t.Fatalf("Produce: Recv() = %v, want ErrStopped", err)
			}
			tick := Pulse(ctx, &h, time.Second)
			if _, err := tick.Recv(ctx); err != ErrStopped {
				t.Fatalf("Pulse: Recv() = %v, want ErrStopped", err)
			}
		})
	})
}

// demandStages are the stages with a downstream, each built on src and
// returning the recver at the end of it, with what it makes of item 1.
func demandStages() []struct {
	name  string
	stage func(ctx context.Context, h *Hub, src *Recver[int]) *Recver[int]
	want  int
} {
	double := func(_ context.Context, v int) (int, error) { return 2 * v, nil }
	return []struct {
		name  string
		stage func(ctx context.Context, h *Hub, src *Recver[int]) *Recver[int]
		want  int
	}{
		{"map", func(ctx context.Context, h *Hub, src *Recver[int]) *Recver[int] {
			return Map(ctx, h, src, double)
		}, 2},
		{"filter", func(ctx context.Context, h *Hub, src *Recver[int]) *Recver[int] {
			return Filter(ctx, h, src, func(v int) bool { return v > 0 })
		}, 1},
		{"connect", func(ctx context.Context, h *Hub, src *Recver[int]) *Recver[int] {
			s, r := NewPipe[int]()
			Connect(ctx, h, src, s)
			return r
		}, 1},
		{"connect_tee", func(ctx context.Context, h *Hub, src *Recver[int]) *Recver[int] {
			s, rs := NewTee[int](1)
			Connect(ctx, h, src, s)
			return rs[0]
		}, 1},
		{"connect_gather_input", func(ctx context.Context, h *Hub, src *Recver[int]) *Recver[int] {
			ins, r := NewGather[int](1)
			Connect(ctx, h, src, ins[0])
			return Map(ctx, h, r, func(_ context.Context, v []int) (int, error) { return v[0], nil })
		}, 1},
		{"map_filter_chain", func(ctx context.Context, h *Hub, src *Recver[int]) *Recver[int] {
			return Filter(ctx, h, Map(ctx, h, src, double), func(v int) bool { return v > 0 })
		}, 2},
	}
}

// TestStagesPullOnDemand checks the notes' "only want to activate a section
// of code if its outputs are available": a stage takes nothing from its
// upstream until a recver waits on its output, and stops pulling when that
// recver gives up.
func TestStagesPullOnDemand(t *testing.T) {
	for _, tt := range demandStages() {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				var h Hub
				ps, pr := NewPipe[int]()
				out := tt.stage(ctx, &h, pr)
				synctest.Wait()
				if err := ps.TrySend(1); err != ErrWouldBlock {
					t.Fatalf("TrySend() upstream before anyone asked = %v, want ErrWouldBlock (the stage pulled)", err)
				}

				rctx, cancel := context.WithCancel(ctx)
				gave := goRecv(rctx, out)
				synctest.Wait()
				cancel()
				if res := <-gave; res.err != context.Canceled {
					t.Fatalf("Recv() = %v, %v, want context.Canceled", res.v, res.err)
				}
				synctest.Wait()
				if err := ps.TrySend(1); err != ErrWouldBlock {
					t.Fatalf("TrySend() upstream after the recver gave up = %v, want ErrWouldBlock (the stage pulled)", err)
				}

				c := goRecv(ctx, out)
				synctest.Wait()
				if err := ps.TrySend(1); err != nil {
					t.Fatalf("TrySend() upstream with a recver waiting = %v, want nil", err)
				}
				if res := <-c; res.v != tt.want || res.err != nil {
					t.Fatalf("Recv() = %v, %v, want %v, nil", res.v, res.err, tt.want)
				}
				synctest.Wait()
				if err := ps.TrySend(2); err != ErrWouldBlock {
					t.Fatalf("TrySend() upstream after the item was taken = %v, want ErrWouldBlock (the stage pulled)", err)
				}
				if err := h.Stop(); err != nil {
					t.Fatalf("Stop() = %v, want nil", err)
				}
			})
		})
	}
}

// TestStageConsumerCloseReachesProducer closes the consumer's end of a
// stage (the notes' "what happens when something else wants the pipe to
// stop"): the producer's very next Send returns ErrAbandoned, and the stage
// goroutine exits on its own, whatever it was doing at the close.
func TestStageConsumerCloseReachesProducer(t *testing.T) {
	// Each moment leaves the stage in one state, then closes out.
	moments := []struct {
		name string
		set  func(t *testing.T, ctx context.Context, ps *Sender[int], out *Recver[int])
	}{
		{"idle", func(t *testing.T, ctx context.Context, ps *Sender[int], out *Recver[int]) {
			c := goRecv(ctx, out)
			if err := ps.Send(ctx, 1); err != nil {
				t.Fatalf("Send(1) = %v, want nil", err)
			}
			if res := <-c; res.err != nil {
				t.Fatalf("Recv() = %v, %v, want nil error", res.v, res.err)
			}
			synctest.Wait()
			out.Close()
		}},
		{"pulling", func(t *testing.T, ctx context.Context, ps *Sender[int], out *Recver[int]) {
			c := goRecv(ctx, out)
			synctest.Wait() // every stage waits on its upstream for our recver
			out.Close()
			if res := <-c; res.err != ErrClosed {
				t.Fatalf("Recv() parked during Close = %v, %v, want ErrClosed", res.v, res.err)
			}
		}},
	}
	for _, tt := range demandStages() {
		for _, m := range moments {
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					ctx := context.Background()
					var h Hub
					ps, pr := NewPipe[int]()
					out := tt.stage(ctx, &h, pr)
					m.set(t, ctx, ps, out)
					if err := ps.TrySend(2); err != ErrAbandoned {
						t.Fatalf("first TrySend() after the consumer closed = %v, want ErrAbandoned", err)
					}
					if err := ps.Send(ctx, 3); err != ErrAbandoned {
						t.Fatalf("Send() after the consumer closed = %v, want ErrAbandoned", err)
					}
					assertHubIdle(t, &h)
				})
			})
		}
	}
	t.Run("map/holding_an_item", func(t *testing.T) {
		// The recver leaves while fn runs: the stage holds the result,
		// waiting for a recver, when the consumer closes.
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			var h Hub
			ps, pr := NewPipe[int]()
			release := make(chan struct{})
			out := Map(ctx, &h, pr, func(_ context.Context, v int) (int, error) { <-release; return v, nil })
			rctx, cancel := context.WithCancel(ctx)
			c := goRecv(rctx, out)
			synctest.Wait()
			if err := ps.TrySend(1); err != nil {
				t.Fatalf("TrySend(1) = %v, want nil", err)
			}
			cancel()
			<-c
			close(release)
			synctest.Wait()
			out.Close()
			if err := ps.TrySend(2); err != ErrAbandoned {
				t.Fatalf("first TrySend() after the consumer closed = %v, want ErrAbandoned", err)
			}
			assertHubIdle(t, &h)
		})
	})
	t.Run("connect_router_clone", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx := context.Background()
			var h Hub
			rs, rr := NewRouter[int]()
			var srcs []*Sender[int]
			for range 2 {
				c, err := rs.Clone()
				if err != nil {
					t.Fatalf("Clone() = %v, want nil", err)
				}
				ps, pr := NewPipe[int]()
				Connect(ctx, &h, pr, c)
				srcs = append(srcs, ps)
			}
			rs.Close()
			synctest.Wait()
			rr.Close()
			for i, ps := range srcs {
				if err := ps.TrySend(1); err != ErrAbandoned {
					t.Fatalf("source %d: first TrySend() after the Router's recver closed = %v, want ErrAbandoned", i, err)
				}
			}
			assertHubIdle(t, &h)
		})
	})
}

// assertHubIdle checks, inside a synctest bubble, that every goroutine of h
// has exited on its own: Wait returns without a Stop.
func assertHubIdle(t *testing.T, h *Hub) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- h.Wait() }()
	synctest.Wait()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Wait() = %v, want nil", err)
		}
	default:
		h.Stop()
		t.Fatalf("a stage goroutine is still running after its consumer closed")
	}
}
