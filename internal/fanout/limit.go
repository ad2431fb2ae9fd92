package fanout

import "time"

// bucket is a token bucket limiting one client's ops: it holds up to burst
// tokens, refills rate tokens per second and starts full. It is owned by
// the client's reader goroutine and not safe for concurrent use.
type bucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time // of the previous allow; zero before the first
}

func newBucket(perSecond int) bucket {
	r := float64(perSecond)
	return bucket{rate: r, burst: 2 * r, tokens: 2 * r}
}

// allow takes a token at time now and reports whether there was one.
func (b *bucket) allow(now time.Time) bool {
	if !b.last.IsZero() {
		if d := now.Sub(b.last); d > 0 {
			b.tokens = min(b.burst, b.tokens+d.Seconds()*b.rate)
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
