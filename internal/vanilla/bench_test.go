package vanilla_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tickerd/tickerd/internal/vanilla"
)

// Every benchmark here runs vanilla and its native Go equivalent as
// sub-benchmarks of one run, named .../impl=chan, .../impl=vanilla (and
// .../impl=reflect, .../impl=cond, .../impl=chanclose), so the ratio is read
// off one run:
//
//	go test -run '^$' -bench . -benchmem -count 5 ./internal/vanilla > bench.txt
//	benchstat -col /impl bench.txt
//
// The native variant runs first so that benchstat uses it as the baseline.
// Figures and machine are in docs/benchmarks.md. Every goroutine a benchmark
// starts is stopped and waited for before it returns (TestMain checks for
// leaks).

// benchErr records the first error a benchmark's helper goroutine saw, so the
// benchmark goroutine can fail with it (b.Fatal must not be called from
// other goroutines).
type benchErr struct {
	mu  sync.Mutex
	err error
}

func (e *benchErr) set(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil {
		e.err = err
	}
}

func (e *benchErr) check(b *testing.B) {
	b.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		b.Fatal(e.err)
	}
}

// benchHandOff measures one item handed from the benchmark goroutine (the
// sender) to one recver goroutine through a Pipe or Queue of size n, against
// a Go channel of capacity n.
func benchHandOff(b *testing.B, n int) {
	b.Run("impl=chan", func(b *testing.B) {
		b.ReportAllocs()
		ch := make(chan int, n)
		var wg sync.WaitGroup
		// Exits when ch is closed after the loop.
		wg.Go(func() {
			for range ch {
			}
		})
		i := 0
		for b.Loop() {
			ch <- i
			i++
		}
		close(ch)
		wg.Wait()
	})
	b.Run("impl=vanilla", func(b *testing.B) {
		b.ReportAllocs()
		ctx := context.Background()
		var s *vanilla.Sender[int]
		var r *vanilla.Recver[int]
		if n == 0 {
			s, r = vanilla.NewPipe[int]()
		} else {
			s, r = vanilla.NewQueue[int](n)
		}
		defer r.Close()
		var wg sync.WaitGroup
		var errs benchErr
		// Exits when Recv fails: ErrClosed once s is closed after the loop.
		wg.Go(func() {
			for {
				if _, err := r.Recv(ctx); err != nil {
					if err != vanilla.ErrClosed {
						errs.set(fmt.Errorf("Recv() = %v, want ErrClosed", err))
					}
					return
				}
			}
		})
		i := 0
		for b.Loop() {
			if err := s.Send(ctx, i); err != nil {
				b.Fatalf("Send(%d) = %v, want nil", i, err)
			}
			i++
		}
		s.Close()
		wg.Wait()
		errs.check(b)
	})
}

// BenchmarkPipe: unbuffered hand-off, one sender (the benchmark loop) and
// one recver goroutine. Goal: vanilla <= 1.5x chan ns/op, 0 allocs/op.
func BenchmarkPipe(b *testing.B) { benchHandOff(b, 0) }

// BenchmarkQueue: the same with a buffer of 64.
func BenchmarkQueue(b *testing.B) { benchHandOff(b, 64) }

// BenchmarkSelect: the benchmark loop selects recv over N pipes, each fed by
// its own sender goroutine that sends continuously. Native variants: a
// select statement written out for N cases, and reflect.Select.
func BenchmarkSelect(b *testing.B) {
	for _, n := range []int{2, 4, 16} {
		b.Run(fmt.Sprintf("cases=%d", n), func(b *testing.B) {
			b.Run("impl=chan", func(b *testing.B) {
				benchSelectChan(b, n, func(chs []chan int) {
					for b.Loop() {
						benchNativeSelect(chs)
					}
				})
			})
			b.Run("impl=reflect", func(b *testing.B) {
				benchSelectChan(b, n, func(chs []chan int) {
					cases := make([]reflect.SelectCase, len(chs))
					for i, ch := range chs {
						cases[i] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)}
					}
					for b.Loop() {
						reflect.Select(cases)
					}
				})
			})
			b.Run("impl=vanilla", func(b *testing.B) {
				b.ReportAllocs()
				ctx := context.Background()
				var wg sync.WaitGroup
				var errs benchErr
				var v int
				recvers := make([]*vanilla.Recver[int], n)
				cases := make([]vanilla.Case, n)
				for i := range n {
					s, r := vanilla.NewPipe[int]()
					recvers[i], cases[i] = r, r.Case(&v)
					// Exits when Send fails: ErrAbandoned once r is closed
					// after the loop.
					wg.Go(func() {
						defer s.Close()
						for j := 0; ; j++ {
							if err := s.Send(ctx, j); err != nil {
								if err != vanilla.ErrAbandoned {
									errs.set(fmt.Errorf("Send() = %v, want ErrAbandoned", err))
								}
								return
							}
						}
					})
				}
				for b.Loop() {
					if i, err := vanilla.Select(ctx, cases...); err != nil {
						b.Fatalf("Select() = %d, %v, want nil error", i, err)
					}
				}
				for _, r := range recvers {
					r.Close()
				}
				wg.Wait()
				errs.check(b)
			})
		})
	}
}

// benchSelectChan starts one sender goroutine per unbuffered channel, runs
// loop, then stops the senders: each sees stop after its pending send is
// taken, and closes its channel.
func benchSelectChan(b *testing.B, n int, loop func([]chan int)) {
	b.ReportAllocs()
	var stop atomic.Bool
	var wg sync.WaitGroup
	chs := make([]chan int, n)
	for i := range chs {
		ch := make(chan int)
		chs[i] = ch
		// Exits at the first send after stop is set; the drain below
		// takes that send.
		wg.Go(func() {
			defer close(ch)
			for j := 0; !stop.Load(); j++ {
				ch <- j
			}
		})
	}
	loop(chs)
	stop.Store(true)
	for _, ch := range chs {
		for range ch {
		}
	}
	wg.Wait()
}

var benchSink int

// benchNativeSelect receives from one of chs with a select statement written
// out for len(chs) cases (2, 4 or 16).
func benchNativeSelect(chs []chan int) {
	var v int
	switch len(chs) {
	case 2:
		select {
		case v = <-chs[0]:
		case v = <-chs[1]:
		}
	case 4:
		select {
		case v = <-chs[0]:
		case v = <-chs[1]:
		case v = <-chs[2]:
		case v = <-chs[3]:
		}
	case 16:
		select {
		case v = <-chs[0]:
		case v = <-chs[1]:
		case v = <-chs[2]:
		case v = <-chs[3]:
		case v = <-chs[4]:
		case v = <-chs[5]:
		case v = <-chs[6]:
		case v = <-chs[7]:
		case v = <-chs[8]:
		case v = <-chs[9]:
		case v = <-chs[10]:
		case v = <-chs[11]:
		case v = <-chs[12]:
		case v = <-chs[13]:
		case v = <-chs[14]:
		case v = <-chs[15]:
		}
	default:
		panic("benchNativeSelect: unsupported case count")
	}
	benchSink = v
}

// BenchmarkBroadcastSend measures Broadcast.Send alone: no subscriber reads,
// so after the first Send every buffer (of 1) is full and each Send
// conflates (Latest) or drops (Drop) per subscriber. ready=all: every
// subscription is Latest, the cheapest "always takes the newest item" case.
// ready=90pct: one in ten subscriptions is Drop and never read (never ready),
// the rest Latest; Send should cost the same as ready=all at the same count.
// Native: a loop of non-blocking sends (select with default) over one chan of
// capacity 1 per subscriber, all full after the first send (drop semantics).
func BenchmarkBroadcastSend(b *testing.B) {
	for _, subs := range []int{1, 100, 10_000} {
		modes := []string{"all", "90pct"}
		if subs < 10 {
			modes = modes[:1] // 10% of 1 is nobody
		}
		for _, mode := range modes {
			b.Run(fmt.Sprintf("subs=%d/ready=%s", subs, mode), func(b *testing.B) {
				b.Run("impl=chan", func(b *testing.B) {
					b.ReportAllocs()
					chs := make([]chan int, subs)
					for i := range chs {
						chs[i] = make(chan int, 1)
					}
					i := 0
					for b.Loop() {
						for _, ch := range chs {
							select {
							case ch <- i:
							default:
							}
						}
						i++
					}
				})
				b.Run("impl=vanilla", func(b *testing.B) {
					b.ReportAllocs()
					bc := vanilla.NewBroadcast[int]()
					defer bc.Close(nil)
					for i := range subs {
						opts := &vanilla.SubscribeOptions{Policy: vanilla.Latest}
						if mode == "90pct" && i%10 == 9 {
							opts.Policy = vanilla.Drop
						}
						r := bc.Subscribe(opts)
						defer r.Close()
					}
					i := 0
					for b.Loop() {
						bc.Send(i)
						i++
					}
					if got := bc.Len(); got != subs {
						b.Fatalf("Len() = %d, want %d", got, subs)
					}
				})
			})
		}
	}
}

// BenchmarkValueSet measures Set throughput with 0 or 10,000 watcher
// goroutines, each looping Recv (vanilla) or its native equivalent. Watchers
// skip versions, so recvs/op (deliveries per Set, summed over watchers) and
// ns/recv (loop time per delivery) are reported too. Native variants: impl=cond, a mutex-guarded value with a
// sync.Cond that Set broadcasts; impl=chanclose, Set closes the current
// "changed" channel and replaces it with a new one.
func BenchmarkValueSet(b *testing.B) {
	for _, watchers := range []int{0, 10_000} {
		b.Run(fmt.Sprintf("watchers=%d", watchers), func(b *testing.B) {
			b.Run("impl=cond", func(b *testing.B) {
				v := &benchCondValue{}
				v.cond.L = &v.mu
				benchValueSet(b, watchers, v.set, v.close, v.watch)
			})
			b.Run("impl=chanclose", func(b *testing.B) {
				v := &benchChanValue{changed: make(chan struct{})}
				benchValueSet(b, watchers, v.set, v.close, v.watch)
			})
			b.Run("impl=vanilla", func(b *testing.B) {
				ctx := context.Background()
				v := vanilla.NewValue[int]()
				set := func(x int) { v.Set(x) }
				closeV := func() { v.Close(nil) }
				watch := func(ready func(), count *int) error {
					w := v.Watch()
					defer w.Close()
					for {
						if _, err := w.Recv(ctx); err != nil {
							if err != vanilla.ErrClosed {
								return fmt.Errorf("Recv() = %v, want ErrClosed", err)
							}
							return nil
						}
						if *count++; *count == 1 {
							ready()
						}
					}
				}
				benchValueSet(b, watchers, set, closeV, watch)
			})
		})
	}
}

// benchValueSet starts watchers goroutines running watch, sets the first
// version and waits until every watcher has received it, then measures set.
// watch calls ready after its first delivery, counts deliveries in *count and
// returns once closeV has been called and it has seen the last version.
func benchValueSet(b *testing.B, watchers int, set func(int), closeV func(), watch func(ready func(), count *int) error) {
	b.ReportAllocs()
	var wg, ready sync.WaitGroup
	var errs benchErr
	var recvs atomic.Int64
	ready.Add(watchers)
	for range watchers {
		// Exits when watch returns: after closeV below.
		wg.Go(func() {
			count := 0
			if err := watch(ready.Done, &count); err != nil {
				errs.set(err)
			}
			recvs.Add(int64(count))
		})
	}
	set(0)
	ready.Wait()
	i := 1
	for b.Loop() {
		set(i)
		i++
	}
	closeV()
	wg.Wait()
	errs.check(b)
	// Deliveries after the first: per Set in the loop, and the loop's wall
	// time per delivery (the setter and the watchers share the CPUs, so
	// ns/op alone mixes Set's cost with how far the watchers got).
	n := recvs.Load() - int64(watchers)
	b.ReportMetric(float64(n)/float64(b.N), "recvs/op")
	if n > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/recv")
	}
}

// benchCondValue is the sync.Cond version of a Value.
type benchCondValue struct {
	mu   sync.Mutex
	cond sync.Cond // L is &mu; broadcast on every set and on close
	// Guarded by mu.
	val     int
	version uint64
	closed  bool
}

func (v *benchCondValue) set(x int) {
	v.mu.Lock()
	v.val = x
	v.version++
	v.mu.Unlock()
	v.cond.Broadcast()
}

func (v *benchCondValue) close() {
	v.mu.Lock()
	v.closed = true
	v.mu.Unlock()
	v.cond.Broadcast()
}

func (v *benchCondValue) watch(ready func(), count *int) error {
	var seen uint64
	v.mu.Lock()
	defer v.mu.Unlock()
	for {
		for v.version == seen && !v.closed {
			v.cond.Wait()
		}
		if v.version == seen { // closed, and the last version seen
			return nil
		}
		seen = v.version
		benchSink = v.val
		if *count++; *count == 1 {
			v.mu.Unlock()
			ready()
			v.mu.Lock()
		}
	}
}

// benchChanValue is the close-and-replace channel version of a Value.
type benchChanValue struct {
	mu sync.Mutex
	// Guarded by mu.
	val     int
	version uint64
	closed  bool
	changed chan struct{} // closed, and replaced, by the next set
}

func (v *benchChanValue) set(x int) {
	v.mu.Lock()
	v.val = x
	v.version++
	old := v.changed
	v.changed = make(chan struct{})
	v.mu.Unlock()
	close(old)
}

func (v *benchChanValue) close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.closed = true
	close(v.changed)
}

func (v *benchChanValue) watch(ready func(), count *int) error {
	var seen uint64
	for {
		v.mu.Lock()
		if v.version == seen {
			if v.closed {
				v.mu.Unlock()
				return nil
			}
			changed := v.changed
			v.mu.Unlock()
			<-changed
			continue
		}
		seen = v.version
		benchSink = v.val
		v.mu.Unlock()
		if *count++; *count == 1 {
			ready()
		}
	}
}

// BenchmarkTee: one item given to each of N recver goroutines in lock-step
// (vanilla.NewTee: the send completes once every output has it). Native: the
// loop sends the item on N unbuffered channels in turn, one recver goroutine
// each (not lock-step: each output takes it as soon as it is ready).
func BenchmarkTee(b *testing.B) {
	for _, n := range []int{2, 8} {
		b.Run(fmt.Sprintf("outputs=%d", n), func(b *testing.B) {
			b.Run("impl=chan", func(b *testing.B) {
				b.ReportAllocs()
				chs := make([]chan int, n)
				var wg sync.WaitGroup
				for i := range chs {
					chs[i] = make(chan int)
					wg.Go(func() { // exits when its channel is closed
						for range chs[i] {
						}
					})
				}
				i := 0
				for b.Loop() {
					for _, ch := range chs {
						ch <- i
					}
					i++
				}
				for _, ch := range chs {
					close(ch)
				}
				wg.Wait()
			})
			b.Run("impl=vanilla", func(b *testing.B) {
				b.ReportAllocs()
				ctx := context.Background()
				s, rs := vanilla.NewTee[int](n)
				var wg sync.WaitGroup
				var errs benchErr
				for _, r := range rs {
					// Exits when Recv fails: ErrClosed once s is closed.
					wg.Go(func() {
						defer r.Close()
						for {
							if _, err := r.Recv(ctx); err != nil {
								if err != vanilla.ErrClosed {
									errs.set(fmt.Errorf("Recv() = %v, want ErrClosed", err))
								}
								return
							}
						}
					})
				}
				i := 0
				for b.Loop() {
					if err := s.Send(ctx, i); err != nil {
						b.Fatalf("Send(%d) = %v, want nil", i, err)
					}
					i++
				}
				s.Close()
				wg.Wait()
				errs.check(b)
			})
		})
	}
}

// BenchmarkGather: one item taken from each of N sender goroutines in
// lock-step (vanilla.NewGather: the recv takes nothing until every input
// has a send waiting). Native: the loop receives from N unbuffered channels
// in turn, one sender goroutine each.
func BenchmarkGather(b *testing.B) {
	for _, n := range []int{2, 8} {
		b.Run(fmt.Sprintf("inputs=%d", n), func(b *testing.B) {
			b.Run("impl=chan", func(b *testing.B) {
				b.ReportAllocs()
				chs := make([]chan int, n)
				stop := make(chan struct{})
				var wg sync.WaitGroup
				for i := range chs {
					chs[i] = make(chan int)
					wg.Go(func() { // exits when stop is closed
						for {
							select {
							case chs[i] <- i:
							case <-stop:
								return
							}
						}
					})
				}
				items := make([]int, n)
				for b.Loop() {
					for i, ch := range chs {
						items[i] = <-ch
					}
				}
				close(stop)
				wg.Wait()
			})
			b.Run("impl=vanilla", func(b *testing.B) {
				b.ReportAllocs()
				ctx := context.Background()
				ins, r := vanilla.NewGather[int](n)
				var wg sync.WaitGroup
				var errs benchErr
				for i, s := range ins {
					// Exits when Send fails: ErrAbandoned once r is closed.
					wg.Go(func() {
						for {
							if err := s.Send(ctx, i); err != nil {
								if err != vanilla.ErrAbandoned {
									errs.set(fmt.Errorf("Send() = %v, want ErrAbandoned", err))
								}
								return
							}
						}
					})
				}
				for b.Loop() {
					if v, err := r.Recv(ctx); err != nil || len(v) != n {
						b.Fatalf("Recv() = %v, %v, want %d items", v, err, n)
					}
				}
				r.Close()
				wg.Wait()
				errs.check(b)
			})
		})
	}
}
