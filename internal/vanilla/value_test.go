package vanilla

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
)

func TestValueGetWaitsUntilSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		v := NewValue[int]()
		c := goRecv(ctx, v.getter) // Get, as a goroutine
		c2 := make(chan result[int], 1)
		go func() {
			x, err := v.Get(ctx)
			c2 <- result[int]{x, err}
		}()
		synctest.Wait()
		assertParked(t, "Get", c)
		assertParked(t, "Get", c2)
		if ver := v.Set(5); ver != 1 {
			t.Fatalf("Set(5) = %d, want version 1", ver)
		}
		for _, c := range []<-chan result[int]{c, c2} {
			if res := <-c; res.v != 5 || res.err != nil {
				t.Fatalf("Get() = %v, %v, want 5, nil", res.v, res.err)
			}
		}
		for range 3 { // always ready once set: Get does not consume
			if x, err := v.Get(ctx); x != 5 || err != nil {
				t.Fatalf("Get() = %v, %v, want 5, nil", x, err)
			}
		}
	})
}

func TestValueLoadAndVersions(t *testing.T) {
	v := NewValue[string]()
	if x, ver, ok := v.Load(); x != "" || ver != 0 || ok {
		t.Fatalf("Load() = %q, %d, %v, want \"\", 0, false", x, ver, ok)
	}
	var last uint64
	for i, s := range []string{"a", "b", "b", "c"} {
		ver := v.Set(s)
		if ver <= last {
			t.Fatalf("Set(%q) = %d, want a version above %d", s, ver, last)
		}
		last = ver
		if x, lv, ok := v.Load(); x != s || lv != ver || !ok {
			t.Fatalf("Load() after Set %d = %q, %d, %v, want %q, %d, true", i, x, lv, ok, s, ver)
		}
	}
}

func TestValueClear(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		v := NewValue[int]()
		w := v.Watch()
		defer w.Close()
		v1 := v.Set(1)
		mustRecv(t, w, 1)
		v.Clear()
		if x, ver, ok := v.Load(); x != 0 || ver != v1 || ok {
			t.Fatalf("Load() after Clear = %v, %d, %v, want 0, %d, false", x, ver, ok, v1)
		}
		c := make(chan result[int], 1)
		go func() {
			x, err := v.Get(ctx)
			c <- result[int]{x, err}
		}()
		synctest.Wait()
		assertParked(t, "Get after Clear", c)
		mustWouldBlock(t, w)
		if v2 := v.Set(2); v2 <= v1 {
			t.Fatalf("Set(2) after Clear = %d, want a version above %d", v2, v1)
		}
		if res := <-c; res.v != 2 || res.err != nil {
			t.Fatalf("Get() = %v, %v, want 2, nil", res.v, res.err)
		}
		mustRecv(t, w, 2)
	})
}

func TestValueWatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		v := NewValue[int]()
		early := v.Watch()
		defer early.Close()
		mustWouldBlock(t, early)
		v.Set(1)
		v.Set(2)
		v.Set(3)
		late := v.Watch()
		defer late.Close()
		mustRecv(t, early, 3) // skips 1 and 2
		mustRecv(t, late, 3)  // the first Recv returns the current item
		mustWouldBlock(t, early)
		c := goRecv(ctx, early)
		synctest.Wait()
		assertParked(t, "watcher Recv", c)
		v.Set(4)
		if res := <-c; res.v != 4 || res.err != nil {
			t.Fatalf("Recv() = %v, %v, want 4, nil", res.v, res.err)
		}
		mustRecv(t, late, 4)
		if n := early.Dropped(); n != 0 {
			t.Fatalf("Dropped() = %d, want 0", n)
		}
	})
}

// TestValueWatchersNeverGoBack sets 1..n while watchers receive: each sees a
// strictly increasing subsequence ending at n, then the close error.
func TestValueWatchersNeverGoBack(t *testing.T) {
	ctx := context.Background()
	v := NewValue[int]()
	const watchers, n = 8, 3000
	var wg sync.WaitGroup
	for i := range watchers {
		w := v.Watch()
		wg.Go(func() {
			defer w.Close()
			last := 0
			for {
				x, err := w.Recv(ctx)
				if err != nil {
					if err != errBoom {
						t.Errorf("watcher %d: Recv() = %v, want errBoom at the end", i, err)
					}
					break
				}
				if x <= last {
					t.Errorf("watcher %d: Recv() = %d after %d", i, x, last)
				}
				last = x
			}
			if last != n {
				t.Errorf("watcher %d: last item = %d, want %d", i, last, n)
			}
		})
	}
	for i := 1; i <= n; i++ {
		v.Set(i)
	}
	v.Close(errBoom)
	wg.Wait()
}

// TestValueSetWakesAllWatchers parks 10,000 watchers and wakes them all
// with one Set.
func TestValueSetWakesAllWatchers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		v := NewValue[int]()
		const n = 10000
		got := make(chan result[int], n)
		for range n {
			w := v.Watch()
			go func() {
				defer w.Close()
				x, err := w.Recv(ctx)
				got <- result[int]{x, err}
			}()
		}
		synctest.Wait()
		if len(got) != 0 {
			t.Fatalf("%d watchers returned before Set, want 0", len(got))
		}
		v.Set(7)
		for range n {
			if res := <-got; res.v != 7 || res.err != nil {
				t.Fatalf("Recv() = %v, %v, want 7, nil", res.v, res.err)
			}
		}
	})
}

// TestValueSetterNeverBlocks sets many times while watchers do not read; a
// Set that blocked would deadlock the bubble.
func TestValueSetterNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		v := NewValue[int]()
		ws := make([]*Recver[int], 100)
		for i := range ws {
			ws[i] = v.Watch()
		}
		// One watcher reads once, then stops reading without closing.
		took := make(chan result[int], 1)
		go func() {
			x, err := ws[0].Recv(ctx)
			took <- result[int]{x, err}
		}()
		synctest.Wait()
		var last uint64
		for i := 1; i <= 5000; i++ {
			ver := v.Set(i)
			if ver != last+1 {
				t.Fatalf("Set(%d) = %d, want %d", i, ver, last+1)
			}
			last = ver
		}
		if res := <-took; res.v != 1 || res.err != nil {
			t.Fatalf("Recv() = %v, %v, want 1, nil", res.v, res.err)
		}
		for _, w := range ws {
			mustRecv(t, w, 5000)
			w.Close()
		}
	})
}

func TestValueClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		v := NewValue[int]()
		parkedGet := goRecv(ctx, v.getter)
		behind := v.Watch() // has not seen version 1
		seen := v.Watch()
		parkedWatch := goRecv(ctx, seen)
		synctest.Wait()
		v.Set(1)
		if res := <-parkedGet; res.v != 1 || res.err != nil {
			t.Fatalf("Get() = %v, %v, want 1, nil", res.v, res.err)
		}
		if res := <-parkedWatch; res.v != 1 || res.err != nil {
			t.Fatalf("Recv() = %v, %v, want 1, nil", res.v, res.err)
		}
		parkedWatch = goRecv(ctx, seen)
		synctest.Wait()
		assertParked(t, "watcher Recv", parkedWatch)
		v.Close(errBoom)
		v.Close(nil) // idempotent: errBoom stays
		if res := <-parkedWatch; res.err != errBoom {
			t.Fatalf("parked Recv() = %v, %v, want 0, errBoom", res.v, res.err)
		}
		if _, err := v.Get(ctx); err != errBoom {
			t.Fatalf("Get() after Close = %v, want errBoom", err)
		}
		mustRecv(t, behind, 1) // the last version it has not seen, then the error
		if _, err := behind.Recv(ctx); err != errBoom {
			t.Fatalf("Recv() = %v, want errBoom", err)
		}
		if ver := v.Set(2); ver != 0 {
			t.Fatalf("Set() after Close = %d, want 0", ver)
		}
		late := v.Watch() // made after Close: also gets the last version first
		mustRecv(t, late, 1)
		if _, err := late.Recv(ctx); err != errBoom {
			t.Fatalf("Recv() on a watcher made after Close = %v, want errBoom", err)
		}
	})
}

func TestValueCloseNilIsErrClosed(t *testing.T) {
	v := NewValue[int]()
	v.Close(nil)
	if _, err := v.Get(context.Background()); err != ErrClosed {
		t.Fatalf("Get() = %v, want ErrClosed", err)
	}
}

// TestValueWatcherClose wakes the goroutines parked on one watcher with
// ErrClosed and leaves other watchers alone.
func TestValueWatcherClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		v := NewValue[int]()
		a, b := v.Watch(), v.Watch()
		ca1, ca2, cb := goRecv(ctx, a), goRecv(ctx, a), goRecv(ctx, b)
		synctest.Wait()
		a.Close()
		for _, c := range []<-chan result[int]{ca1, ca2} {
			if res := <-c; res.err != ErrClosed {
				t.Fatalf("Recv() on closed watcher = %v, %v, want 0, ErrClosed", res.v, res.err)
			}
		}
		synctest.Wait()
		assertParked(t, "other watcher", cb)
		v.Set(1)
		if res := <-cb; res.v != 1 || res.err != nil {
			t.Fatalf("Recv() = %v, %v, want 1, nil", res.v, res.err)
		}
		if _, err := a.TryRecv(); err != ErrClosed {
			t.Fatalf("TryRecv() on closed watcher = %v, want ErrClosed", err)
		}
		b.Close()
	})
}
