package fanout

import (
	"strconv"
	"strings"
)

// handle carries out one request of c and queues the reply.
func (h *Hub) handle(c *client, req request) {
	var werr *wireError
	switch req.Op {
	case opSubscribe:
		werr = h.subscribe(c, req.Symbols)
	case opUnsubscribe:
		werr = h.unsubscribe(c, req.Symbols)
	case opList:
		c.replySubscribed()
	}
	if werr != nil {
		c.replyError(werr)
	}
}

// subscribe adds symbols ("*": every configured symbol) to c's set, or
// changes nothing and returns the error. On success it queues the
// "subscribed" reply, then the current snapshot of each symbol added.
func (h *Hub) subscribe(c *client, raw []string) *wireError {
	h.mu.Lock()
	defer h.mu.Unlock()
	names, werr := resolve(raw, h.configured)
	if werr != nil {
		return werr
	}
	// c.subs changes only under h.mu, which we hold throughout.
	c.mu.Lock()
	have := len(c.subs)
	var add []string
	for _, n := range names {
		if _, ok := c.subs[n]; !ok {
			add = append(add, n)
		}
	}
	c.mu.Unlock()
	if max := h.opts.MaxSymbolsPerClient; have+len(add) > max {
		return newError(CodeTooManySymbols, "subscribing to "+strconv.Itoa(len(add))+
			" more symbols would exceed the limit of "+strconv.Itoa(max)+" per client")
	}
	var missing []string
	for _, n := range add {
		if h.syms[n] == nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		if werr := h.addDynamicLocked(missing); werr != nil {
			return werr
		}
		_ = h.spawnS.TrySend(struct{}{}) // a State: never blocks
	}

	subs := make([]sub, len(add)) // one allocation for all
	c.mu.Lock()
	for i, n := range add {
		subs[i].name = n
		c.subs[n] = &subs[i]
	}
	c.ctrl = append(c.ctrl, c.subscribedLocked()) // before any snapshot
	c.wakeLocked()
	c.mu.Unlock()
	for i, n := range add {
		e := h.syms[n]
		e.mu.Lock()
		e.subs[c] = &subs[i]
		// Under e.mu no publish of e can interleave: the snapshot is
		// offered before any later version of e.
		if u := e.currentLocked(); u != nil {
			if _, push := c.offer(&subs[i], u); push {
				h.pool.push(c)
			}
		}
		e.mu.Unlock()
	}
	h.m.addSubscriptions(len(add))
	return nil
}

// addDynamicLocked starts collecting names, which the Hub does not watch
// yet, if dynamic symbols are allowed and within their limit. It adds all
// or none.
func (h *Hub) addDynamicLocked(names []string) *wireError {
	if !h.opts.DynamicSymbols || h.demand == nil {
		return &wireError{Type: "error", Code: CodeUnknownSymbol,
			Message: "not collected: " + strings.Join(names, ", "), Symbols: names}
	}
	if max := h.opts.MaxDynamicSymbols; h.dynamic+len(names) > max {
		return newError(CodeTooManySymbols, "collecting "+strconv.Itoa(len(names))+
			" more symbols would exceed the server's limit of "+strconv.Itoa(max)+" symbols added by clients")
	}
	var done []*entry
	for _, n := range names {
		added := h.demand.Add(n)
		v, ok := h.board.Value(n)
		if !ok {
			if added {
				h.demand.Remove(n)
			}
			for _, e := range done {
				h.dropLocked(e)
				if e.dynamic {
					h.demand.Remove(e.name)
				}
			}
			return &wireError{Type: "error", Code: CodeUnknownSymbol,
				Message: "cannot collect " + n, Symbols: []string{n}}
		}
		// added is false when the source had n already, unknown to the
		// Hub until symbolsChanged: then n is not the Hub's to remove.
		e := newEntry(n, v, added)
		h.syms[n] = e
		if added {
			h.dynamic++
		}
		done = append(done, e)
	}
	return nil
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
		n, werr := normalize(s)
		if werr != nil {
			return werr
		}
		names = append(names, n)
	}
	c.mu.Lock()
	if all {
		names = names[:0]
		for n := range c.subs {
			names = append(names, n)
		}
	}
	var gone []string
	for _, n := range names {
		if c.removeLocked(n) {
			gone = append(gone, n)
		}
	}
	c.ctrl = append(c.ctrl, c.subscribedLocked())
	c.wakeLocked()
	c.mu.Unlock()
	h.leaveLocked(c, gone)
	return nil
}

// leaveLocked takes c off the subscribers of names, which c's subs no
// longer hold, and stops collecting dynamic symbols nobody watches now.
func (h *Hub) leaveLocked(c *client, names []string) {
	for _, n := range names {
		e := h.syms[n]
		if e == nil {
			continue
		}
		e.mu.Lock()
		delete(e.subs, c)
		empty := len(e.subs) == 0
		e.mu.Unlock()
		if e.dynamic && empty {
			h.dropLocked(e)
			h.demand.Remove(n)
		}
	}
	h.m.addSubscriptions(-len(names))
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
	names := make([]string, 0, len(c.subs))
	for n := range c.subs {
		names = append(names, n)
	}
	clear(c.subs)
	c.dirty, c.base, c.ctrl = nil, nil, nil
	c.mu.Unlock()
	h.leaveLocked(c, names)
}

// resolve normalises the symbols of a request, expanding "*" to star and
// dropping duplicates. An invalid symbol rejects the whole request.
func resolve(raw, star []string) ([]string, *wireError) {
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
		n, werr := normalize(s)
		if werr != nil {
			return nil, werr
		}
		add(n)
	}
	return out, nil
}
