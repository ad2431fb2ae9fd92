package cluster

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Interest is the cluster mode's fanout.Demand: it asks the leader, on
// behalf of this instance's clients, to collect symbols that are not
// configured. Add and Remove never block and never wait for the network:
// Add records the wish and returns; the interest loop writes this
// instance's interest key for the symbol (with a TTL, renewed while it is
// wanted), the leader adds the symbol to its collector and publishes the
// new symbol set, and the symbol reaches every board through the watch,
// usually within milliseconds. So, unlike the collector's Add, when Add
// returns the symbol is not yet on the board: the caller waits for it on
// the board's SymbolsValue. Remove deletes the key; the leader stops
// collecting the symbol once no instance wants it. A symbol the leader
// cannot take (past its MaxDynamic) never reaches the board.
type Interest struct{ n *Node }

// Interest returns this node's Demand.
func (n *Node) Interest() *Interest { return &Interest{n: n} }

// Add records that this instance wants sym collected. It reports whether
// sym was not wanted by this instance already.
func (i *Interest) Add(sym string) bool {
	n := i.n
	n.imu.Lock()
	if n.wanted[sym] {
		n.imu.Unlock()
		return false
	}
	n.wanted[sym] = true
	n.iDirty[sym] = true
	n.imu.Unlock()
	n.signalInterest()
	return true
}

// Remove undoes Add.
func (i *Interest) Remove(sym string) {
	n := i.n
	n.imu.Lock()
	if !n.wanted[sym] {
		n.imu.Unlock()
		return
	}
	delete(n.wanted, sym)
	n.iDirty[sym] = false
	n.imu.Unlock()
	n.signalInterest()
}

func (n *Node) signalInterest() {
	select {
	case n.iSignal <- struct{}{}:
	default:
	}
}

// interestLoop writes and deletes this instance's interest keys as Add and
// Remove ask, and renews the wanted ones every third of their TTL, until
// ctx ends. Writes that fail are tried again at the next renewal.
func (n *Node) interestLoop(ctx context.Context) {
	ttl := n.opts.interestTTL
	tick := time.NewTicker(ttl / 3)
	defer tick.Stop()
	for {
		renew := false
		select {
		case <-ctx.Done():
			return
		case <-n.iSignal:
		case <-tick.C:
			renew = true
		}
		kv := n.bucket()
		n.mu.Lock()
		js := n.js
		n.mu.Unlock()
		if kv == nil {
			continue
		}
		n.imu.Lock()
		work := make(map[string]bool, len(n.iDirty))
		if renew {
			for sym := range n.wanted {
				work[sym] = true
			}
		}
		for sym, want := range n.iDirty {
			work[sym] = want
		}
		clear(n.iDirty)
		n.imu.Unlock()
		for sym, want := range work {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			key := interestKey(n.opts.Instance, sym)
			var err error
			if want {
				msg := nats.NewMsg("$KV." + n.opts.Bucket + "." + key)
				msg.Data = []byte(n.opts.Instance)
				_, err = js.PublishMsg(cctx, msg, jetstream.WithMsgTTL(ttl))
			} else {
				err = kv.Purge(cctx, key, jetstream.PurgeTTL(ttl))
			}
			cancel()
			if err != nil && ctx.Err() == nil {
				n.log.Debug("cluster: interest", "symbol", sym, "want", want, "error", err)
				n.imu.Lock()
				if _, newer := n.iDirty[sym]; !newer {
					n.iDirty[sym] = n.wanted[sym]
				}
				n.imu.Unlock()
			}
		}
	}
}
