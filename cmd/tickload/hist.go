package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histSubBits is the log2 of the sub-buckets per power of two: 128, so a
// recorded value is off by less than 1/128 (0.8%).
const histSubBits = 7

const (
	histSub     = 1 << histSubBits
	histMaxExp  = 40 - histSubBits // values up to 2^40 ns (18 minutes); larger ones count as that
	histBuckets = (histMaxExp + 2) * histSub
)

// hist is a log-linear histogram of durations: exact below 128 ns, then
// 128 buckets per power of two. It is safe for concurrent use: record is
// lock-free, and readers should wait until recording has stopped.
type hist struct {
	buckets [histBuckets]atomic.Uint64
	count   atomic.Uint64
	sum     atomic.Int64 // nanoseconds
	max     atomic.Int64 // nanoseconds
}

// bucketOf returns the bucket of v nanoseconds (v >= 0).
func bucketOf(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits - 1 // v>>e is in [histSub, 2*histSub)
	if e > histMaxExp {
		return histBuckets - 1
	}
	return (e+1)*histSub + int(v>>e) - histSub
}

// bucketMax returns the largest value that falls in bucket i.
func bucketMax(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	e := i/histSub - 1
	m := uint64(i%histSub + histSub)
	return (m+1)<<e - 1
}

// record adds one duration; a negative one (a clock step) counts as 0.
func (h *hist) record(d time.Duration) {
	v := max(int64(d), 0)
	h.buckets[bucketOf(uint64(v))].Add(1)
	h.count.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			break
		}
	}
}

// quantile returns the duration at or below which a fraction q (0 < q <=
// 1) of the recorded durations fall, by the nearest-rank method, as the
// upper bound of its bucket (so at most 0.8% high) but never above the
// largest recorded; past the histogram's range, the largest recorded. It
// returns 0 when nothing was recorded.
func (h *hist) quantile(q float64) time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.999999999) // ceil, tolerating float error
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			if i == histBuckets-1 { // the overflow bucket
				break
			}
			return min(time.Duration(bucketMax(i)), time.Duration(h.max.Load()))
		}
	}
	return time.Duration(h.max.Load())
}

// mean returns the mean duration, or 0 when nothing was recorded.
func (h *hist) mean() time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / int64(n))
}
