package fanout

import (
	"context"
	"slices"
	"strconv"
	"strings"
)

// handle carries out one request of c and queues the reply. A subscribe
// that must wait for its symbols returns what it waits for: the caller
// waits (await) and finishes it (finish), without blocking anyone else.
func (h *Hub) handle(c *client, req request) *pendingSub {
	var werr *wireError
	switch req.Op {
	case opSubscribe:
		var p *pendingSub
		if p, werr = h.subscribe(c, req); p != nil {
			return p
		}
	case opUnsubscribe:
		werr = h.unsubscribe(c, req.Symbols)
	case opList:
		c.replySubscribed()
	case opAuth:
		return h.reauth(c, req.Token) // a subscribe, after a first auth with the upgrade's symbols
	}
	if werr != nil {
		c.replyError(werr)
	}
	return nil
}

// pendingSub is a subscribe that waits: for dynamic symbols to reach the
// board (Options.DemandWait), then for the board to catch up with the
// seqs a resuming client has (Options.ResumeWait). It is owned by the
// client's opLoop; its symbols stay reserved (Hub.reserved) until finish.
type pendingSub struct {
	names    []string // the symbols to add, resolved when the subscribe came
	raw      []string // the symbols as the client named them, for resolving "*" again at finish
	star     bool     // the subscribe names "*": c follows the configured set from then on
	since    *since   // nil without "since"
	resume   bool     // since is of the board's epoch: its seqs may be waited for
	reserved []string // the dynamic symbols it asked for or found pending, reserved
	appear   []string // of reserved, those not on the board yet
}

// subscribe adds symbols ("*": every configured symbol) to c's set, or
// changes nothing and returns the error. On success it queues the
// "subscribed" reply, then the current snapshot of each symbol added. If
// it must wait (dynamic symbols not on the board yet, or a board behind
// the client's since), it returns what it waits for and queues nothing
// yet.
func (h *Hub) subscribe(c *client, req request) (*pendingSub, *wireError) {
	h.mu.Lock()
	defer h.mu.Unlock()
	names, werr := resolve(req.Symbols, h.configured, h.opts.NormalizeSymbol)
	if werr != nil {
		return nil, werr
	}
	if werr := c.checkGrant(req.Symbols, h.opts.NormalizeSymbol); werr != nil {
		return nil, werr
	}
	names = c.allowedOnly(names) // "*": the configured symbols the token allows
	// c.subs changes only under h.mu, which we hold throughout.
	c.mu.Lock()
	have := len(c.subs)
	var add []string
	for _, n := range names {
		if !c.subs.has(n) {
			add = append(add, n)
		}
	}
	c.mu.Unlock()
	if have+len(add) > c.limit() {
		return nil, c.tooMany(len(add))
	}
	var missing []string
	for _, n := range add {
		if h.adoptLocked(n) == nil {
			missing = append(missing, n)
		}
	}
	p := &pendingSub{names: add, since: req.since, raw: req.Symbols, star: slices.Contains(req.Symbols, "*")}
	if len(missing) > 0 && !c.dynamicAllowed() {
		return nil, &wireError{Type: "error", Code: CodeUnknownSymbol, Symbols: missing,
			Message: "not collected, and the token does not allow adding symbols: " + strings.Join(missing, ", ")}
	}
	if len(missing) > 0 {
		if werr := h.askLocked(missing, p); werr != nil {
			return nil, werr
		}
	}
	_ = h.spawnS.TrySend(struct{}{}) // a State: never blocks; watchers for the entries adopted
	if p.since != nil && p.since.epoch == h.epochNow().id {
		p.resume = true
	}
	if len(p.appear) > 0 || (p.resume && h.opts.ResumeWait > 0 && h.behindLocked(p)) {
		return p, nil
	}
	h.completeLocked(c, p)
	h.releaseLocked(p.reserved)
	return nil, nil
}

// askLocked asks the Demand for missing, which the board does not have,
// if dynamic symbols are allowed and within their limit: it asks for all
// or none. Each is reserved for p, and those not on the board once asked
// for are left in p.appear for p to wait for.
func (h *Hub) askLocked(missing []string, p *pendingSub) *wireError {
	if !h.opts.DynamicSymbols || h.demand == nil {
		return &wireError{Type: "error", Code: CodeUnknownSymbol,
			Message: "not collected: " + strings.Join(missing, ", "), Symbols: missing}
	}
	fresh := 0
	for _, n := range missing {
		if !h.pending[n] {
			fresh++
		}
	}
	if max := h.opts.MaxDynamicSymbols; h.dynamic+fresh > max {
		return newError(CodeTooManySymbols, "collecting "+strconv.Itoa(fresh)+
			" more symbols would exceed the server's limit of "+strconv.Itoa(max)+" symbols added by clients")
	}
	for _, n := range missing {
		// Add is false when the Demand has n already (asked for by the
		// Hub before, or collected by someone else): not the Hub's to
		// remove then.
		if !h.pending[n] && h.demand.Add(n) {
			h.pending[n] = true
			h.dynamic++
		}
		h.reserved[n]++
		p.reserved = append(p.reserved, n)
		if h.adoptLocked(n) == nil {
			p.appear = append(p.appear, n)
		}
	}
	return nil
}

// behindLocked reports whether the board is behind p's since for one of
// p's symbols: its seq there is lower than the client's.
func (h *Hub) behindLocked(p *pendingSub) bool {
	for _, n := range p.names {
		k := p.since.seq[n]
		if k == 0 {
			continue
		}
		e := h.syms[n]
		if e == nil {
			return true
		}
		if snap, _, _, ok := h.load(e.value); !ok || snap.Quote.Seq < k {
			return true
		}
	}
	return false
}

// await waits for what p waits for: its dynamic symbols to reach the
// board, within DemandWait, then the board's seq of each symbol of since
// to reach the client's, within ResumeWait. It returns early when ctx
// ends, and holds no lock.
func (h *Hub) await(ctx context.Context, p *pendingSub) {
	if len(p.appear) > 0 {
		wctx, cancel := context.WithTimeout(ctx, h.opts.DemandWait)
		h.awaitSymbols(wctx, p.appear)
		cancel()
	}
	if p.resume && h.opts.ResumeWait > 0 {
		wctx, cancel := context.WithTimeout(ctx, h.opts.ResumeWait)
		for _, n := range p.names {
			if k := p.since.seq[n]; k > 0 && !h.awaitSeq(wctx, n, k, p.since.epoch) {
				break
			}
		}
		cancel()
	}
}

// awaitSymbols waits until every one of names is on the board, or ctx ends.
func (h *Hub) awaitSymbols(ctx context.Context, names []string) {
	w := h.board.SymbolsValue().Watch()
	defer w.Close()
	for {
		// The first Recv returns at once: the set's Value is always set.
		if _, err := w.Recv(ctx); err != nil {
			return
		}
		all := true
		for _, n := range names {
			if _, ok := h.board.Value(n); !ok {
				all = false
				break
			}
		}
		if all {
			return
		}
	}
}

// awaitSeq waits until the board holds a quote of n with a seq of at
// least k, or n leaves the board, or ctx ends. It returns false, and the
// caller waits no more, once the board's epoch is no longer epoch: the
// client's seqs are void then, and it is answered with a reset.
func (h *Hub) awaitSeq(ctx context.Context, n string, k uint64, epoch string) bool {
	v, ok := h.board.Value(n)
	if !ok {
		return true
	}
	w := v.Watch()
	defer w.Close()
	for {
		// A new epoch clears the Value; its first snapshot wakes Recv.
		snap, err := w.Recv(ctx)
		switch {
		case h.epochNow().id != epoch:
			return false
		case err != nil || snap.Quote.Seq >= k:
			return true
		}
	}
}

// finish completes p after await, unless the client has gone (stopped):
// if all its symbols are on the board, c is subscribed as subscribe does
// at once; otherwise it changes nothing and c gets an unknown_symbol
// error naming the missing symbols. Then p's reservations end, and the
// dynamic symbols nobody needs are given up (Demand.Remove).
func (h *Hub) finish(c *client, p *pendingSub, stopped bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	defer h.releaseLocked(p.reserved) // after subscribing: what c took is kept
	if stopped {
		return
	}
	if p.star && !h.restarLocked(c, p) {
		return
	}
	var missing []string
	for _, n := range p.names {
		if h.adoptLocked(n) == nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		c.replyError(&wireError{Type: "error", Code: CodeUnknownSymbol,
			Message: "not collected within " + h.opts.DemandWait.String() + ": " + strings.Join(missing, ", "), Symbols: missing})
		return
	}
	_ = h.spawnS.TrySend(struct{}{}) // a State: never blocks; watchers for the entries adopted
	h.completeLocked(c, p)
}

// restarLocked resolves "*" in p again, after p has waited: the
// configured set may have changed meanwhile, and "*" means the set as it
// is when c is subscribed. It reports false, after replying
// too_many_symbols, if the set has grown past c's room.
func (h *Hub) restarLocked(c *client, p *pendingSub) bool {
	names, werr := resolve(p.raw, h.configured, h.opts.NormalizeSymbol)
	if werr != nil { // cannot happen: p.raw was resolved once already
		c.replyError(werr)
		return false
	}
	names = c.allowedOnly(names)
	c.mu.Lock()
	have := len(c.subs)
	add := names[:0]
	for _, n := range names {
		if !c.subs.has(n) {
			add = append(add, n)
		}
	}
	c.mu.Unlock()
	if have+len(add) > c.limit() {
		c.replyError(c.tooMany(len(add)))
		return false
	}
	p.names = add
	return true
}

// completeLocked subscribes c to p's symbols, which all have an entry,
// and queues the replies: a "reset" first if c's epoch is behind the
// board's or p's since is of another epoch, then "subscribed", then the
// current snapshot of each symbol added (after a reset for another
// epoch, of every symbol of c). A symbol resumed (since of the board's
// epoch) starts from the client's seq: it gets only newer quotes.
func (h *Hub) completeLocked(c *client, p *pendingSub) {
	cur := h.epochNow()
	c.mu.Lock()
	reset, resnap := false, false
	switch {
	case c.ep.n == 0:
		c.ep = cur // the first epoch c is told
	case c.ep.n < cur.n:
		c.resetLocked(cur) // before Run's epoch watcher does
		reset = true
	}
	if p.star {
		c.star = true
	}
	sn := p.since
	resume := sn != nil && sn.epoch == cur.id
	if sn != nil && !resume {
		if !reset && sn.epoch != c.forgot {
			// The client's seqs are of another epoch: it forgets them all,
			// and gets everything it is subscribed to afresh. A later
			// subscribe with the same since (sent before the client saw
			// this reset) needs no other.
			c.resetLocked(cur)
			resnap = true
		}
		c.forgot = sn.epoch
	}
	var existing []string
	if resnap {
		existing = c.subs.names()
	}
	var add []string
	for _, n := range p.names {
		if !c.subs.has(n) {
			add = append(add, n)
		}
	}
	var recovered []string
	if sn != nil {
		recovered = []string{} // present in the reply, even empty
	}
	subs := make([]sub, len(add)) // one allocation for all
	c.subs.grow(len(add))
	for i, n := range add {
		e := h.syms[n]
		subs[i].e, subs[i].c = e, c
		c.subs.insert(&subs[i])
		if k, ok := sn.seqOf(n); ok && resume {
			subs[i].seq = k // never a quote the client has
			snap, _, ep, ok := h.load(h.syms[n].value)
			if ok && ep == cur && snap.Quote.Seq >= k {
				recovered = append(recovered, n)
			}
		}
	}
	slices.Sort(recovered)
	if n := len(c.subs); cap(c.base) < n && len(c.dirty) == 0 {
		// Room for every symbol pending at once, as each pulse makes
		// them: grown by append, it would be up to twice that.
		c.base = make([]*sub, 0, n)
	}
	c.ctrl = append(c.ctrl, c.subscribedLocked(recovered)) // before any snapshot
	c.wakeLocked()
	c.mu.Unlock()
	for _, n := range existing {
		h.offerCurrentLocked(c, n, nil, true)
	}
	for i, n := range add {
		h.offerCurrentLocked(c, n, &subs[i], false)
	}
	h.m.addSubscriptions(len(add))
}

// offerCurrentLocked offers c the current snapshot of n: as the first one
// of s, a new subscription, which it adds to n's subscribers; or, with s
// nil, of c's subscription, which starts afresh (again) when restart is
// set. Under the entry's mu no publish of it can interleave: the snapshot
// is offered before any later version.
func (h *Hub) offerCurrentLocked(c *client, n string, s *sub, restart bool) {
	e := h.syms[n]
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if s == nil {
		c.mu.Lock()
		s = c.subs.get(n)
		if s != nil && restart {
			s.ver = 0 // the current version again, though offered before
		}
		c.mu.Unlock()
		if s == nil {
			return
		}
	} else {
		e.addLocked(s)
	}
	if u := h.currentLocked(e); u != nil {
		if _, push := c.offer(s, u); push {
			h.pool.push(c)
		}
	}
}

// unsubscribe removes symbols ("*": all of c's) from c's set, or changes
// nothing and returns the error. Symbols c is not subscribed to are
// ignored. It queues the "subscribed" reply.
func (h *Hub) unsubscribe(c *client, raw []string) *wireError {
	h.mu.Lock()
	defer h.mu.Unlock()
	all := false
	names := make([]string, 0, len(raw))
	for _, s := range raw {
		if s == "*" {
			all = true
			continue
		}
		n, werr := normalizer(h.opts.NormalizeSymbol).normalize(s)
		if werr != nil {
			return werr
		}
		names = append(names, n)
	}
	c.mu.Lock()
	if all {
		c.star = false // symbols joining the configured set no longer join c's
		names = c.subs.names()
	}
	var gone []*sub
	for _, n := range names {
		if s := c.removeLocked(n); s != nil {
			gone = append(gone, s)
		}
	}
	c.ctrl = append(c.ctrl, c.subscribedLocked(nil))
	c.wakeLocked()
	c.mu.Unlock()
	h.leaveLocked(gone)
	return nil
}

// leaveLocked takes the subscriptions gone, which their clients' subs no
// longer hold, off their symbols' subscribers, and stops collecting
// dynamic symbols nobody watches now.
func (h *Hub) leaveLocked(gone []*sub) {
	for _, s := range gone {
		e := s.e
		e.mu.Lock()
		e.removeLocked(s)
		empty := len(e.subs) == 0
		e.mu.Unlock()
		if empty && h.syms[e.name] == e {
			h.giveUpLocked(e.name) // if dynamic and no subscribe waits for it
		}
	}
	h.m.addSubscriptions(-len(gone))
}

// register adds c to the Hub's clients; it reports false once Run has
// stopped the Hub.
func (h *Hub) register(c *client) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state == stateStopped {
		return false
	}
	h.clients[c] = struct{}{}
	h.m.addClients(1)
	return true
}

// unregister removes c and all its subscriptions.
func (h *Hub) unregister(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; !ok {
		return
	}
	delete(h.clients, c)
	h.m.addClients(-1)
	c.mu.Lock()
	gone := c.subs
	c.subs = nil
	c.dirty, c.base, c.ctrl = nil, nil, nil
	c.mu.Unlock()
	h.leaveLocked(gone)
}

// resolve normalises the symbols of a request, expanding "*" to star and
// dropping duplicates. An invalid symbol rejects the whole request.
func resolve(raw, star []string, norm normalizer) ([]string, *wireError) {
	seen := make(map[string]bool, len(raw))
	out := make([]string, 0, len(raw))
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, s := range raw {
		if s == "*" {
			for _, n := range star {
				add(n)
			}
			continue
		}
		n, werr := norm.normalize(s)
		if werr != nil {
			return nil, werr
		}
		add(n)
	}
	return out, nil
}
