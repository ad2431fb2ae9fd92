package fanout

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestWriterPoolPop checks the pool's queue: first in, first out, each
// client only once it is due, and how long until the next one is.
func TestWriterPoolPop(t *testing.T) {
	const delay = 10 * time.Millisecond
	p := newWriterPool(delay)
	a, b, c := &client{remote: "a"}, &client{remote: "b"}, &client{remote: "c"}
	if got, wait, more := p.pop(time.Now()); got != nil || wait >= 0 || more {
		t.Fatalf("pop() on an empty pool = %v, %v, %v, want nil, a negative wait, false", got, wait, more)
	}
	p.push(a, b)
	p.push(c)
	due := p.q[p.head].due
	tests := []struct {
		name     string
		now      time.Time
		want     *client
		wantWait time.Duration
		wantMore bool
	}{
		{"not_due", due.Add(-4 * time.Millisecond), nil, 4 * time.Millisecond, true},
		{"first", due, a, 0, true},
		{"second", due, b, 0, true},
		{"third_later", p.q[p.head+2].due, c, 0, false},
		{"empty", due.Add(time.Hour), nil, -1, false},
	}
	for _, tt := range tests {
		got, wait, more := p.pop(tt.now)
		if got != tt.want || (wait < 0) != (tt.wantWait < 0) || (tt.wantWait >= 0 && wait != tt.wantWait) || more != tt.wantMore {
			t.Fatalf("%s: pop() = %v, %v, %v, want %v, %v, %v", tt.name, got, wait, more, tt.want, tt.wantWait, tt.wantMore)
		}
	}
	if len(p.q) != 0 || p.head != 0 {
		t.Fatalf("emptied pool holds %d entries from %d, want its queue reset", len(p.q), p.head)
	}
}

// TestWriterPoolCompacts checks that a long-running queue lets go of what
// it has sent instead of growing.
func TestWriterPoolCompacts(t *testing.T) {
	p := newWriterPool(0)
	c := &client{}
	late := time.Now().Add(time.Hour)
	for range 5000 {
		p.push(c)
		p.push(c)
		if got, _, _ := p.pop(late); got != c {
			t.Fatalf("pop() = %v, want the client", got)
		}
	}
	if n := len(p.q) - p.head; n != 5000 {
		t.Fatalf("pool holds %d clients, want 5000", n)
	}
	if len(p.q) > 2*5000 {
		t.Fatalf("pool queue is %d long for 5000 clients, want it compacted", len(p.q))
	}
}

// TestBatchDelayOption checks how New reads Options.BatchDelay: zero (or
// no options) is the default, a negative value no delay at all, anything
// else as given.
func TestBatchDelayOption(t *testing.T) {
	tests := []struct {
		name string
		opts *Options
		want time.Duration
	}{
		{"nil_options", nil, defaultBatchDelay},
		{"zero", &Options{}, defaultBatchDelay},
		{"negative", &Options{BatchDelay: -1}, 0},
		{"given", &Options{BatchDelay: 300 * time.Millisecond}, 300 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New(newFakeSource("AAPL"), nil, tt.opts)
			if got := h.pool.delay; got != tt.want {
				t.Errorf("New(%+v) writer pool delay = %v, want %v", tt.opts, got, tt.want)
			}
		})
	}
}

// TestWriterPoolPushNow checks the pool's express queue: a client queued
// with pushNow is taken before those queued with push that are not due,
// after those due before it was pushed, and wakes a writer waiting for
// the head of the queue to be due.
func TestWriterPoolPushNow(t *testing.T) {
	p := newWriterPool(time.Hour)
	a, b, c := &client{remote: "a"}, &client{remote: "b"}, &client{remote: "c"}
	p.push(a)
	p.pushNow(b)
	p.pushNow(c)
	select {
	case <-p.kick:
	default:
		t.Fatalf("pushNow() left no kick for a waiting writer")
	}
	now := time.Now()
	for _, want := range []*client{b, c} {
		if got, wait, more := p.pop(now); got != want || wait != 0 || !more {
			t.Fatalf("pop() = %v, %v, %v, want %v, 0, true", got, wait, more, want.remote)
		}
	}
	if got, wait, more := p.pop(now); got != nil || wait <= 0 || !more {
		t.Fatalf("pop() after the express clients = %v, %v, %v, want nil, a wait for a, true", got, wait, more)
	}
	if got, _, more := p.pop(now.Add(2 * time.Hour)); got != a || more {
		t.Fatalf("pop() once a is due = %v, %v, want a, false", got, more)
	}

	// A client whose BatchDelay is over goes before one pushed later with
	// pushNow: in order of due time.
	q := newWriterPool(0)
	q.push(a)
	q.pushNow(b)
	q.push(c)
	// Due times a millisecond apart, whatever the clock's resolution.
	q.q[q.head].due = q.x[q.xhead].due.Add(-time.Millisecond)
	q.q[q.head+1].due = q.x[q.xhead].due.Add(time.Millisecond)
	later := time.Now().Add(time.Second)
	for _, want := range []*client{a, b, c} {
		if got, _, _ := q.pop(later); got != want {
			t.Fatalf("pop() = %v, want %v (in order of due time)", got, want.remote)
		}
	}
}

// TestWriterYields checks that a pool writer that has been sending for
// its slice lets what became runnable meanwhile run before it sends for
// the next client, and that one within its slice does not: on one core,
// the collection a pulse's first quotes woke goes on before the writes of
// those quotes. Whether the writer yields is up to the scheduler (it
// serves its global queue, where a yielding goroutine goes, first once in
// 61 turns), so the test counts rounds: most of 100 when the writer's
// slice is over (0), few when it is not (an hour).
func TestWriterYields(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const rounds = 100
	tests := []struct {
		name      string
		slice     time.Duration
		wantYield bool
	}{
		{"slice_over", 0, true},
		{"within_slice", time.Hour, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newWriterPool(0)
			p.slice = tt.slice
			a, b := &client{remote: "a"}, &client{remote: "b"}
			var woke chan struct{} // closed by the goroutine a's send readies
			var ran chan bool      // whether it had run when b was sent
			p.service = func(c *client) {
				switch c {
				case a:
					ready := make(chan struct{})
					// Exits at once, once a's send has readied it.
					go func() { <-ready; close(woke) }()
					runtime.Gosched() // the goroutine starts and waits on ready
					close(ready)
				case b:
					select {
					case <-woke:
						ran <- true
					default:
						ran <- false
					}
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			// Exits when ctx is cancelled below.
			go func() { done <- p.run(ctx) }()
			yielded := 0
			for range rounds {
				woke, ran = make(chan struct{}), make(chan bool, 1)
				p.push(a, b)
				if <-ran {
					yielded++
				}
				<-woke
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("run() = %v, want nil", err)
			}
			if got := yielded > rounds/2; got != tt.wantYield {
				t.Errorf("with slice %v, a goroutine readied by a client's send ran before the next client's send in %d of %d rounds, want most: %v", tt.slice, yielded, rounds, tt.wantYield)
			}
		})
	}
}
