package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var (
	errLeaseExpired = errors.New("cluster: lease deadline passed")
	errDeposed      = errors.New("cluster: lease taken by another instance")
)

// campaignLoop takes the lease whenever the watch shows it free (and
// tries every lease_ttl in case a marker was missed), and leads while it
// holds it, until ctx ends.
func (n *Node) campaignLoop(ctx context.Context) {
	ttl := n.opts.LeaseTTL
	for {
		n.mu.Lock()
		free := n.initial && n.leader == "" && n.kv != nil
		kv, w := n.kv, n.leaseW
		n.mu.Unlock()
		if !free {
			select {
			case <-ctx.Done():
				return
			case <-w:
				continue
			case <-time.After(ttl):
				n.mu.Lock()
				free = n.initial && n.kv != nil
				kv = n.kv
				n.mu.Unlock()
				if !free {
					continue
				}
			}
		}
		n.pause(ctx)
		if ctx.Err() != nil {
			return
		}
		data, _ := json.Marshal(wireLease{Instance: n.opts.Instance})
		cctx, cancel := context.WithTimeout(ctx, ttl/2)
		send := time.Now()
		rev, err := kv.Create(cctx, leaseKey, data, jetstream.KeyTTL(ttl))
		cancel()
		switch {
		case err == nil:
			n.lead(ctx, kv, rev, send)
		case errors.Is(err, jetstream.ErrKeyExists):
			// Someone leads; the watch will say who.
		default:
			if ctx.Err() != nil {
				return
			}
			n.log.Debug("cluster: campaign", "error", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(ttl / 4):
			}
		}
	}
}

// lead runs one term: the lease taken at revision rev by a request sent
// at send. It returns when the term is over; if ctx ended (Run is
// stopping) or Lead failed, it resigns first.
func (n *Node) lead(ctx context.Context, kv jetstream.KeyValue, rev uint64, send time.Time) {
	t := &Term{n: n, kv: kv, number: rev, rev: rev, deadline: send.Add(n.opts.LeaseTTL - n.margin), symsHeld: true}
	termCtx, end := context.WithCancelCause(ctx)
	defer end(nil)
	t.ctx = termCtx
	t.end = end
	// The deadline is on the monotonic clock (send came from time.Now).
	t.timer = time.AfterFunc(time.Until(t.deadline), func() { end(errLeaseExpired) })
	defer t.timer.Stop()
	t.startWrites()

	n.log.Info("cluster: leading", "instance", n.opts.Instance, "term", rev)
	n.mu.Lock()
	n.leading = rev
	n.mu.Unlock()
	n.metrics.leader.Set(1)
	n.metrics.term.Set(float64(rev))

	var wg sync.WaitGroup
	wg.Add(1)
	// Renews the lease until the term ends.
	go func() { defer wg.Done(); t.renewLoop(termCtx) }()

	var leadErr error
	for termCtx.Err() == nil {
		// Catch up: every write made before this point has a lower
		// revision than the lease's, and the watch applies in order.
		if err := n.waitApplied(termCtx, t.leaseRev()); err != nil {
			break
		}
		n.log.Debug("cluster: caught up", "term", rev, "lease", t.leaseRev())
		leadCtx, stop := context.WithCancelCause(termCtx)
		t.setFence(stop)
		leadErr = n.opts.Lead(leadCtx, t)
		fenced := errors.Is(context.Cause(leadCtx), ErrFenced)
		stop(nil)
		if termCtx.Err() != nil || !fenced {
			break
		}
		leadErr = nil
		// Fenced: someone wrote behind this term's back. Renew now so the
		// lease's revision tells how far to catch up, then start again.
		if !t.renew(termCtx) {
			break
		}
	}
	cause := context.Cause(termCtx)
	end(nil)
	wg.Wait()
	t.closeWrites()
	n.mu.Lock()
	n.leading = 0
	n.mu.Unlock()
	n.metrics.leader.Set(0)
	t.over()
	if leadErr != nil && !errors.Is(leadErr, context.Canceled) {
		n.log.Warn("cluster: lead", "error", leadErr)
	}
	if ctx.Err() != nil || (leadErr != nil && termCtx.Err() == nil) || cause == nil {
		n.resign(kv, t.leaseRev())
	}
	n.log.Info("cluster: term over", "instance", n.opts.Instance, "term", rev, "cause", cause)
}

// resign deletes the lease if it is still this term's, so that another
// instance takes over at once.
func (n *Node) resign(kv jetstream.KeyValue, rev uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := kv.Delete(ctx, leaseKey, jetstream.LastRevision(rev)); err != nil {
		n.log.Debug("cluster: resign", "error", err)
		return
	}
	n.log.Info("cluster: resigned", "instance", n.opts.Instance)
}

// pause runs the test hook that freezes this instance, if any.
func (n *Node) pause(ctx context.Context) {
	if h := n.opts.paused; h != nil {
		h(ctx)
	}
}

// renewLoop renews the lease every quarter of its TTL until ctx ends.
func (t *Term) renewLoop(ctx context.Context) {
	tick := time.NewTicker(t.n.opts.LeaseTTL / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.renew(ctx)
			t.flushSymbols()
		}
	}
}

// renew renews the lease once and reports whether the term goes on.
func (t *Term) renew(ctx context.Context) bool {
	n := t.n
	n.pause(ctx)
	send := time.Now()
	deadline, rev := t.deadlineRev()
	if !send.Before(deadline) || ctx.Err() != nil {
		return false
	}
	rctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	data, _ := json.Marshal(wireLease{Instance: n.opts.Instance, Term: t.number})
	msg := nats.NewMsg(t.kvSubject(leaseKey))
	msg.Data = data
	n.mu.Lock()
	js := n.js
	n.mu.Unlock()
	// Not kv.Update: it sends no TTL and would make the lease permanent.
	pa, err := js.PublishMsg(rctx, msg, jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(n.opts.LeaseTTL))
	switch {
	case err == nil:
		t.renewed(pa.Sequence, send)
		n.metrics.renewals.WithLabelValues("ok").Inc()
		return true
	case isWrongLastSeq(err):
		n.metrics.renewals.WithLabelValues("lost").Inc()
		t.end(errDeposed)
		return false
	default:
		n.metrics.renewals.WithLabelValues("error").Inc()
		n.log.Debug("cluster: renew lease", "error", err)
		return ctx.Err() == nil
	}
}

// isWrongLastSeq reports whether err is JetStream's rejection of an
// expected last sequence (10071, or 10164 on replicated streams).
func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}
