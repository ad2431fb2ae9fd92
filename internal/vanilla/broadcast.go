package vanilla

import (
	"sync"
	"sync/atomic"
)

// Policy says what a Broadcast subscription gets when an item is sent while
// its buffer is full.
type Policy uint8

const (
	// Drop discards the new item; the subscriber keeps the older ones.
	Drop Policy = iota
	// Latest overwrites the newest buffered item with the new one, so a slow
	// subscriber always ends up with the most recent item (conflation).
	Latest
)

// SubscribeOptions configures a Broadcast subscription. A nil
// *SubscribeOptions means Drop with a buffer of 1.
type SubscribeOptions struct {
	Policy Policy
	Buffer int // items held for the subscriber; values < 1 mean 1
}

// Broadcast gives each item to every subscriber that is ready, and never
// waits for one that is not: an item a subscriber has no room for is
// dropped or conflated according to the subscription's Policy, and counted
// (Recver.Dropped per subscriber, Broadcast.Dropped in total).
//
// A Broadcast is safe for concurrent use. Send never blocks. A subscriber
// ends its subscription by closing its Recver; Close ends all of them.
//
//	b := vanilla.NewBroadcast[Quote]()
//	sub := b.Subscribe(&vanilla.SubscribeOptions{Policy: vanilla.Latest})
//	defer sub.Close()
//	b.Send(q)            // never blocks
//	q, err := sub.Recv(ctx)
type Broadcast[T any] struct {
	mu sync.Mutex
	// Everything below is guarded by mu.
	subs   []*Sender[T] // the send ends of the live subscriptions
	closed bool
	err    error

	gone atomic.Uint64 // drops of subscriptions already removed
}

// NewBroadcast returns a Broadcast with no subscribers.
func NewBroadcast[T any]() *Broadcast[T] { return &Broadcast[T]{} }

// Subscribe adds a subscriber that receives every item sent from now on,
// subject to opts. After Close, the subscription is already closed.
func (b *Broadcast[T]) Subscribe(opts *SubscribeOptions) *Recver[T] {
	policy, size := overflowDrop, 1
	if opts != nil {
		if opts.Policy == Latest {
			policy = overflowLatest
		}
		size = max(opts.Buffer, 1)
	}
	s, r := newCore[T](size, policy, false, false)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		s.CloseWithError(b.err)
		return r
	}
	b.subs = append(b.subs, s)
	return r
}

// Send gives v to every subscriber and returns how many took it without a
// drop. Subscriptions whose Recver was closed are removed. After Close, Send
// does nothing and returns 0.
func (b *Broadcast[T]) Send(v T) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	delivered := 0
	live := b.subs[:0]
	for _, s := range b.subs {
		c := s.p.(*core[T])
		c.mu.Lock()
		before := c.drops.Load()
		err, _ := c.sendLocked(&s.e, nil, v) // never parks: the policy drops instead
		after := c.drops.Load()
		c.mu.Unlock()
		if err != nil { // abandoned: the subscriber closed its end
			b.gone.Add(after)
			continue
		}
		if after == before {
			delivered++
		}
		live = append(live, s)
	}
	clear(b.subs[len(live):])
	b.subs = live
	return delivered
}

// Len returns the number of subscriptions as of the last Send or Subscribe
// (closed ones are removed by the next Send).
func (b *Broadcast[T]) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Dropped returns how many deliveries, over all subscriptions past and
// present, were dropped or conflated.
func (b *Broadcast[T]) Dropped() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.gone.Load()
	for _, s := range b.subs {
		n += s.p.(*core[T]).drops.Load()
	}
	return n
}

// Close ends every subscription: subscribers drain what they hold, then get
// err (ErrClosed when nil). Close is idempotent.
func (b *Broadcast[T]) Close(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed, b.err = true, err
	for _, s := range b.subs {
		s.CloseWithError(err)
	}
}
