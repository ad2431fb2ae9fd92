package cluster

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkPublishShape separates what a pulse's shape costs from what the
// per-key fence costs, on nats-server alone (no tickerd): 500 keys in a
// bucket of history 1, a watcher of the bucket, publish-to-watcher p50-ms
// and p99-ms. "burst" publishes a pulse's 500 snapshots from 500
// goroutines at once (tickerd's shape: one collection goroutine per
// symbol), "serial" one at a time, each waiting for its ack; "fence" adds
// the per-key expected last sequence Term writes with. Each iteration is
// one pulse.
//
//	go test -run '^$' -bench PublishShape -benchtime 8x ./internal/cluster/
func BenchmarkPublishShape(b *testing.B) {
	for _, bc := range []struct {
		name         string
		burst, fence bool
	}{
		{"burst_plain", true, false},
		{"burst_fence", true, true},
		{"serial_plain", false, false},
		{"serial_fence", false, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			lats := publishShape(b, 500, bc.burst, bc.fence)
			slices.Sort(lats)
			q := func(p float64) float64 { return float64(lats[int(p*float64(len(lats)-1))]) / 1e6 }
			b.ReportMetric(q(0.5), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
		})
	}
}

// publishShape runs b.N pulses of keys publishes and returns each one's
// publish-to-watcher latency.
func publishShape(b *testing.B, keys int, burst, fence bool) []time.Duration {
	ns := startNATS(b)
	nc, err := nats.Connect(ns.url())
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "shape", History: 1, LimitMarkerTTL: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	revs := make([]uint64, keys)
	for i := range keys {
		if revs[i], err = kv.Put(ctx, "k"+strconv.Itoa(i), []byte("0")); err != nil {
			b.Fatal(err)
		}
	}
	w, err := kv.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var lats []time.Duration
	want := b.N * keys
	all := make(chan struct{})
	done := make(chan struct{})
	// Exits when w.Stop closes its updates channel.
	go func() {
		defer close(done)
		for e := range w.Updates() {
			if e == nil {
				continue
			}
			ts, err := strconv.ParseInt(string(e.Value()), 10, 64)
			if err != nil {
				continue
			}
			mu.Lock()
			lats = append(lats, time.Since(time.Unix(0, ts)))
			if len(lats) == want {
				close(all)
			}
			mu.Unlock()
		}
	}()
	publish := func(i int) {
		m := nats.NewMsg("$KV.shape.k" + strconv.Itoa(i))
		m.Data = strconv.AppendInt(nil, time.Now().UnixNano(), 10)
		var opts []jetstream.PublishOpt
		if fence {
			opts = append(opts, jetstream.WithExpectLastSequencePerSubject(revs[i]))
		}
		pa, err := js.PublishMsg(ctx, m, opts...)
		if err != nil {
			b.Errorf("PublishMsg(k%d) = %v, want nil", i, err)
			return
		}
		revs[i] = pa.Sequence // each goroutine owns its key's entry
	}
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if burst {
			var wg sync.WaitGroup
			for i := range keys {
				wg.Go(func() { publish(i) })
			}
			wg.Wait()
		} else {
			for i := range keys {
				publish(i)
			}
		}
		time.Sleep(time.Second - time.Since(start)) // one pulse a second
	}
	b.StopTimer()
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		mu.Lock()
		b.Errorf("watcher got %d of %d updates", len(lats), want)
		mu.Unlock()
	}
	if err := w.Stop(); err != nil {
		b.Fatal(err)
	}
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(lats) == 0 {
		b.Fatal("no update reached the watcher")
	}
	return slices.Clone(lats)
}
