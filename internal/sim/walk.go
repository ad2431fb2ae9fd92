package sim

import (
	"hash/fnv"
	"math/rand/v2"
)

// walk is one symbol's price history. Prices are in cents so that every step
// shows in nasdaq's two-decimal prices. Guarded by Exchange.mu.
type walk struct {
	start  int64 // opening price and "previous close", 2000..50000
	price  int64 // >= minPrice
	volume int64
	rng    *rand.Rand // seeded from the Exchange seed and the symbol
}

// minPrice is the lowest price a walk reaches, in cents.
const minPrice = 2

// newWalk returns sym's walk before its first step: the start price and
// starting volume come from sym alone, the steps from seed and sym.
func newWalk(seed uint64, sym string) *walk {
	h := fnv.New64a()
	h.Write([]byte(sym))
	sum := h.Sum64()
	start := 2000 + int64(sum%48001)
	return &walk{
		start:  start,
		price:  start,
		volume: 10_000 + int64((sum>>32)%990_000),
		rng:    rand.New(rand.NewPCG(seed, sum)),
	}
}

// step moves the price by 1 cent to 0.2% (never zero, never below minPrice)
// and adds 100 to 5,000 to the volume.
func (w *walk) step() {
	d := 1 + w.rng.Int64N(max(1, w.price/500))
	if w.rng.IntN(2) == 0 {
		d = -d
	}
	if w.price+d < minPrice {
		d = -d
	}
	w.price += d
	w.volume += 100 * (1 + w.rng.Int64N(50))
}
