package vanilla_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/tickerd/tickerd/internal/vanilla"
)

func ExampleNewPipe() {
	ctx := context.Background()
	s, r := vanilla.NewPipe[string]()
	go func() { // exits after its last Send; Close tells the recver
		defer s.Close()
		for _, sym := range []string{"AAPL", "MSFT"} {
			if err := s.Send(ctx, sym); err != nil {
				return
			}
		}
	}()
	for {
		sym, err := r.Recv(ctx)
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(sym)
	}
	// Output:
	// AAPL
	// MSFT
	// vanilla: closed
}

func ExampleNewQueue() {
	ctx := context.Background()
	s, r := vanilla.NewQueue[int](2)
	fmt.Println(s.TrySend(1), s.TrySend(2), s.TrySend(3))
	s.CloseWithError(errors.New("upstream gone"))
	for {
		v, err := r.Recv(ctx)
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(v)
	}
	// Output:
	// <nil> <nil> vanilla: would block
	// 1
	// 2
	// upstream gone
}

func ExampleNewDealer() {
	ctx := context.Background()
	s, r := vanilla.NewDealer[int]()
	var mu sync.Mutex
	var done []string
	var wg sync.WaitGroup
	for w := range 3 {
		rw := r
		if w > 0 {
			rw, _ = r.Clone()
		}
		wg.Go(func() { // exits when the dealer's sender closes
			defer rw.Close()
			for {
				job, err := rw.Recv(ctx)
				if err != nil {
					return
				}
				mu.Lock()
				done = append(done, "job "+strconv.Itoa(job))
				mu.Unlock()
			}
		})
	}
	for job := 1; job <= 4; job++ {
		s.Send(ctx, job) // each job goes to exactly one worker
	}
	s.Close()
	wg.Wait()
	slices.Sort(done)
	fmt.Println(done)
	// Output:
	// [job 1 job 2 job 3 job 4]
}

func ExampleNewRouter() {
	ctx := context.Background()
	s, r := vanilla.NewRouter[string]()
	feeds := map[string][]string{"nyse": {"IBM", "KO"}, "nasdaq": {"AAPL"}}
	for name, syms := range feeds {
		c, _ := s.Clone()
		go func() { // exits after its feed; the Router ends when all have closed
			defer c.Close()
			for _, sym := range syms {
				c.Send(ctx, name+":"+sym)
			}
		}()
	}
	s.Close()
	var got []string
	for {
		v, err := r.Recv(ctx)
		if err != nil {
			slices.Sort(got)
			fmt.Println(got, err)
			break
		}
		got = append(got, v)
	}
	// Output:
	// [nasdaq:AAPL nyse:IBM nyse:KO] vanilla: closed
}

func ExampleNewChannel() {
	s1, r1 := vanilla.NewChannel[int](4)
	s2, _ := s1.Clone()
	r2, _ := r1.Clone()
	s1.TrySend(1)
	s2.TrySend(2)
	s1.TrySend(3)
	a, _ := r1.TryRecv()
	b, _ := r2.TryRecv()
	c, _ := r1.TryRecv()
	fmt.Println(a, b, c)
	s1.Close()
	_, err := r2.TryRecv()
	fmt.Println(err) // s2 is still open
	s2.Close()
	_, err = r2.TryRecv()
	fmt.Println(err)
	// Output:
	// 1 2 3
	// vanilla: would block
	// vanilla: closed
}

func ExampleNewState() {
	s, r := vanilla.NewState[string]()
	s.TrySend("open")
	s.TrySend("halted")
	s.TrySend("closed")
	v, _ := r.TryRecv()
	fmt.Println(v, r.Dropped())
	// Output:
	// closed 2
}

func ExampleNewTee() {
	ctx := context.Background()
	s, rs := vanilla.NewTee[string](2)
	fmt.Println(s.TrySend("tick 1")) // no output is ready yet

	var wg sync.WaitGroup
	got := make([]string, len(rs))
	for i, r := range rs {
		wg.Go(func() { got[i], _ = r.Recv(ctx) }) // exits after one Recv
	}
	fmt.Println(s.Send(ctx, "tick 1")) // returns once both outputs have it
	wg.Wait()
	fmt.Println(got)

	rs[1].Close() // a closed output is skipped
	wg.Go(func() { got[0], _ = rs[0].Recv(ctx) })
	fmt.Println(s.Send(ctx, "tick 2"))
	wg.Wait()
	fmt.Println(got[0])

	rs[0].Close() // the last close abandons the sender
	fmt.Println(s.Send(ctx, "tick 3"))
	// Output:
	// vanilla: would block
	// <nil>
	// [tick 1 tick 1]
	// <nil>
	// tick 2
	// vanilla: abandoned
}

func ExampleValue() {
	ctx := context.Background()
	price := vanilla.NewValue[float64]()
	w := price.Watch()
	defer w.Close()
	price.Set(101.5)
	ver := price.Set(102.25)
	x, _ := w.Recv(ctx) // the newest version; 101.5 is skipped
	fmt.Println(x, ver)
	y, _ := price.Get(ctx)
	fmt.Println(y)
	price.Clear()
	_, _, ok := price.Load()
	fmt.Println(ok)
	// Output:
	// 102.25 2
	// 102.25
	// false
}

func ExampleBroadcast() {
	b := vanilla.NewBroadcast[int]()
	latest := b.Subscribe(&vanilla.SubscribeOptions{Policy: vanilla.Latest})
	drop := b.Subscribe(&vanilla.SubscribeOptions{Policy: vanilla.Drop})
	defer latest.Close()
	defer drop.Close()
	for i := 1; i <= 3; i++ {
		b.Send(i) // never waits for a subscriber
	}
	l, _ := latest.TryRecv()
	d, _ := drop.TryRecv()
	fmt.Println(l, d, latest.Dropped(), drop.Dropped(), b.Dropped())
	// Output:
	// 3 1 2 2 4
}

func ExampleSelect() {
	ctx := context.Background()
	qs, quotes := vanilla.NewQueue[string](1)
	stopS, stop := vanilla.NewPipe[string]()
	qs.TrySend("AAPL 190.1")
	var v string
	for range 2 {
		switch i, err := vanilla.Select(ctx, stop.Case(&v), quotes.Case(&v)); {
		case err != nil:
			fmt.Println("select:", i, err)
		case i == 1:
			fmt.Println("quote:", v)
		}
		stopS.Close()
	}
	// Output:
	// quote: AAPL 190.1
	// select: 0 vanilla: closed
}

func ExampleHub() {
	ctx := context.Background()
	var h vanilla.Hub
	_, r := vanilla.NewPipe[int]()
	h.Go(ctx, func(ctx context.Context) error {
		_, err := r.Recv(ctx) // nothing is ever sent: parked until Stop
		fmt.Println("worker:", err)
		return err // caused by the stop: not recorded
	})
	h.Go(ctx, func(context.Context) error { return errors.New("bad quote") })
	// A panic in a Hub goroutine is not recovered: it would crash the
	// process here instead of being returned.
	fmt.Println(h.Stop())
	// Output:
	// worker: vanilla: stopped
	// bad quote
}

func ExampleMap() {
	ctx := context.Background()
	var h vanilla.Hub
	nums := vanilla.Produce(ctx, &h, func(ctx context.Context, s *vanilla.Sender[int]) error {
		for i := 1; i <= 3; i++ {
			if err := s.Send(ctx, i); err != nil {
				return err
			}
		}
		return nil
	})
	squares := vanilla.Map(ctx, &h, nums, func(_ context.Context, n int) (int, error) { return n * n, nil })
	for {
		v, err := squares.Recv(ctx)
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(v)
	}
	fmt.Println(h.Stop())
	// Output:
	// 1
	// 4
	// 9
	// vanilla: closed
	// <nil>
}

func ExampleNewGather() {
	ctx := context.Background()
	ins, quotes := vanilla.NewGather[float64](2)
	feeds := [][]float64{{99.5, 99.75}, {100.5, 100.25, 100.0}} // bids, asks
	unsent := make([]string, len(feeds))
	var wg sync.WaitGroup
	for i, feed := range feeds {
		wg.Go(func() { // exits after its feed or once the Gather has ended
			defer ins[i].Close()
			for _, p := range feed {
				if err := ins[i].Send(ctx, p); err != nil {
					unsent[i] = fmt.Sprint(p, ": ", err)
					return
				}
			}
		})
	}
	for {
		q, err := quotes.Recv(ctx) // one bid and one ask, or nothing
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(q)
	}
	wg.Wait()
	fmt.Printf("%q\n", unsent) // the third ask was never taken: its sender still has it
	// Output:
	// [99.5 100.5]
	// [99.75 100.25]
	// vanilla: closed
	// ["" "100: vanilla: abandoned"]
}
