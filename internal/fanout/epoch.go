package fanout

import (
	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/vanilla"
)

// epochRef is one of the board's epochs: its id and the version of the
// board's EpochValue that set it, which orders epochs (a later epoch has a
// higher n). n is 0 only with a Board whose EpochValue is unset: then
// there is one epoch, and nothing is ever reset.
type epochRef struct {
	n  uint64
	id string
}

// epochNow returns the board's current epoch.
func (h *Hub) epochNow() epochRef {
	id, n, _ := h.board.EpochValue().Load()
	return epochRef{n: n, id: id}
}

// load returns the current item of v, a symbol's Value, with its version
// and the epoch it belongs to. The epoch is read before and after the item:
// when both reads agree, the item was set in that epoch, since the board
// clears every Value before it sets a new epoch (board.SetEpoch) and puts
// the new epoch's snapshots only after. It never blocks; it reads again in
// the rare case the epoch changed meanwhile.
func (h *Hub) load(v *vanilla.Value[board.Snapshot]) (snap board.Snapshot, ver uint64, ep epochRef, ok bool) {
	ev := h.board.EpochValue()
	for {
		id, n, _ := ev.Load()
		snap, ver, ok = v.Load()
		if _, again, _ := ev.Load(); again == n {
			return snap, ver, epochRef{n: n, id: id}, ok
		}
	}
}

// epochChanged tells every client that has been told an older epoch that
// seqs start again ("reset"); Run calls it whenever the board's
// EpochValue changes. The new epoch's snapshots follow as the watchers
// offer them: the board clears every Value when it changes epochs, so
// every snapshot of the new epoch is a version newer than any a client
// was offered. It does not block.
func (h *Hub) epochChanged() {
	cur := h.epochNow()
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		c.mu.Lock()
		if c.ep.n != 0 && c.ep.n < cur.n {
			c.resetLocked(cur)
			c.wakeLocked()
		}
		c.mu.Unlock()
	}
}

// resetLocked queues a "reset" to epoch ep for c and makes ep c's epoch:
// the seqs and stale states c was sent are forgotten, so the next quote of
// each symbol goes out whatever its seq. Pending updates of older epochs
// are dropped as they come up (next). A reset still queued is replaced
// rather than followed by another. c.mu must be held; the caller wakes c.
func (c *client) resetLocked(ep epochRef) {
	c.ep, c.forgot = ep, ""
	for _, s := range c.subs {
		s.seq, s.stale = 0, false
	}
	f := frame{encode(resetMessage{Type: "reset", Epoch: ep.id}), kindReset}
	if n := len(c.ctrl); n > 0 && c.ctrl[n-1].kind == kindReset {
		c.ctrl[n-1] = f
		return
	}
	c.ctrl = append(c.ctrl, f)
}
