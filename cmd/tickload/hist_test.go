package main

import (
	"math"
	"sync"
	"testing"
	"time"
)

func TestHistQuantile(t *testing.T) {
	// uniform records 1..n microseconds, once each.
	uniform := func(n int) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = time.Duration(i+1) * time.Microsecond
		}
		return out
	}
	tests := []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"single", []time.Duration{42 * time.Millisecond}, 0.99, 42 * time.Millisecond},
		{"exact_small", []time.Duration{3, 1, 2, 5, 4}, 0.5, 3},
		{"exact_small_p100", []time.Duration{3, 1, 2, 5, 4}, 1, 5},
		{"uniform_p50", uniform(10000), 0.5, 5000 * time.Microsecond},
		{"uniform_p99", uniform(10000), 0.99, 9900 * time.Microsecond},
		{"uniform_p999", uniform(10000), 0.999, 9990 * time.Microsecond},
		{"tail", append(uniform(998), time.Second, 2*time.Second), 0.999, time.Second},
		{"negative_is_zero", []time.Duration{-5 * time.Millisecond, -1}, 0.5, 0},
		{"huge_clamped_to_max", []time.Duration{time.Hour}, 0.5, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h hist
			for _, v := range tt.values {
				h.record(v)
			}
			got := h.quantile(tt.q)
			// Within the histogram's resolution: never below, at most
			// 1/128 above.
			if got < tt.want || float64(got) > float64(tt.want)*(1+1.0/histSub) {
				t.Errorf("quantile(%v) = %v, want %v (+%.1f%%)", tt.q, got, tt.want, 100.0/histSub)
			}
		})
	}
}

// TestHistBuckets checks that every value lands in a bucket whose range
// holds it and is at most 1/128 of it wide.
func TestHistBuckets(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 257, 1000, 65535, 1 << 20, 123456789, 1<<40 - 1} {
		i := bucketOf(v)
		lo := uint64(0)
		if i > 0 {
			lo = bucketMax(i-1) + 1
		}
		hi := bucketMax(i)
		if v < lo || v > hi {
			t.Errorf("bucketOf(%d) = %d, holding [%d, %d], want a bucket holding %d", v, i, lo, hi, v)
		}
		if width := float64(hi - lo + 1); v >= histSub && width > float64(v)/histSub {
			t.Errorf("bucketOf(%d) = %d, %v wide, want at most %v", v, i, width, float64(v)/histSub)
		}
	}
	for i := 1; i < histBuckets; i++ {
		if bucketOf(bucketMax(i)) != i || bucketOf(bucketMax(i-1)+1) != i {
			t.Fatalf("bucket %d: bucketOf(bucketMax(%d)) = %d, bucketOf(bucketMax(%d)+1) = %d, want %d", i, i, bucketOf(bucketMax(i)), i-1, bucketOf(bucketMax(i-1)+1), i)
		}
	}
}

// TestHistConcurrent records from several goroutines; nothing may be lost.
func TestHistConcurrent(t *testing.T) {
	var h hist
	var wg sync.WaitGroup
	const workers, each = 4, 10000
	for w := range workers {
		wg.Go(func() { // exits after its records
			for i := range each {
				h.record(time.Duration(w*each+i) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if got := h.count.Load(); got != workers*each {
		t.Errorf("count = %d, want %d", got, workers*each)
	}
	wantMax := time.Duration(workers*each-1) * time.Microsecond
	if got := time.Duration(h.max.Load()); got != wantMax {
		t.Errorf("max = %v, want %v", got, wantMax)
	}
	wantMean := float64(wantMax) / 2
	if got := float64(h.mean()); math.Abs(got-wantMean) > 1000 {
		t.Errorf("mean() = %v, want %v", time.Duration(got), time.Duration(wantMean))
	}
}
