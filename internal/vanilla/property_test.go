package vanilla

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// errSendersDone is what the property test's senders close with, so that a
// recver can tell "every sender closed and the buffer is empty" from "my
// own handle was closed" (ErrClosed).
var errSendersDone = errors.New("senders done")

// propPrim is one primitive under test, with the test's own bookkeeping.
type propPrim struct {
	name  string
	sends []*Sender[int]
	recvs []*Recver[int]

	mu         sync.Mutex
	sendRefs   []int // workers still holding each send handle
	recvRefs   []int
	recvClosed []bool
	openRecvs  int

	ended      atomic.Bool // a recver got errSendersDone: the buffer is empty for good
	mayDiscard atomic.Bool // the last recver closed before the end: buffered items may be dropped
}

func newPropPrim(name string, newFn func() (*Sender[int], *Recver[int]), multiSend, multiRecv bool) *propPrim {
	s, r := newFn()
	p := &propPrim{name: name, sends: []*Sender[int]{s}, recvs: []*Recver[int]{r}}
	for multiSend && len(p.sends) < 3 {
		c, _ := s.Clone()
		p.sends = append(p.sends, c)
	}
	for multiRecv && len(p.recvs) < 3 {
		c, _ := r.Clone()
		p.recvs = append(p.recvs, c)
	}
	p.sendRefs = make([]int, len(p.sends))
	p.recvRefs = make([]int, len(p.recvs))
	p.recvClosed = make([]bool, len(p.recvs))
	p.openRecvs = len(p.recvs)
	return p
}

func (p *propPrim) closeRecv(h int) {
	p.mu.Lock()
	if !p.recvClosed[h] {
		p.recvClosed[h] = true
		p.openRecvs--
		if p.openRecvs == 0 && !p.ended.Load() {
			p.mayDiscard.Store(true)
		}
	}
	p.mu.Unlock()
	p.recvs[h].Close()
}

// release drops a worker's hold on a handle; the last holder closes it.
func (p *propPrim) release(send bool, h int) {
	p.mu.Lock()
	refs := p.recvRefs
	if send {
		refs = p.sendRefs
	}
	refs[h]--
	last := refs[h] == 0
	p.mu.Unlock()
	if !last {
		return
	}
	if send {
		p.sends[h].CloseWithError(errSendersDone)
	} else {
		p.closeRecv(h)
	}
}

// propRun is one randomized run: workers doing random operations on several
// primitives, with every item accounted for at the end.
type propRun struct {
	t     *testing.T
	prims []*propPrim
	gctx  context.Context // its deadline is the deadlock detector

	nextID atomic.Int64
	sent   []atomic.Int32 // 1 once a Send of the item returned nil
	recvd  []atomic.Int32
	primOf []atomic.Int32

	errs      atomic.Int32
	abandoned atomic.Bool // the test gave up on hung workers: report nothing more
}

func (pr *propRun) fail(format string, args ...any) {
	if pr.errs.Add(1) <= 10 && !pr.abandoned.Load() {
		pr.t.Errorf(format, args...)
	}
}

func (pr *propRun) newItem(p int) int {
	id := int(pr.nextID.Add(1))
	pr.primOf[id].Store(int32(p))
	return id
}

func (pr *propRun) received(p, id int) {
	if id <= 0 || id >= len(pr.recvd) {
		pr.fail("%s: received %d, which was never sent", pr.prims[p].name, id)
		return
	}
	if got := int(pr.primOf[id].Load()); got != p {
		pr.fail("%s: received item %d sent on %s", pr.prims[p].name, id, pr.prims[got].name)
	}
	if n := pr.recvd[id].Add(1); n > 1 {
		pr.fail("%s: item %d received %d times", pr.prims[p].name, id, n)
	}
}

// checkErr classifies an error of an operation on primitive p and reports
// whether p is finished for this worker.
func (pr *propRun) checkErr(p int, send bool, err error) (finished bool) {
	switch {
	case err == nil, err == ErrWouldBlock:
		return false
	case errors.Is(err, context.DeadlineExceeded):
		if pr.gctx.Err() != nil {
			pr.fail("%s: operation still blocked at the deadlock deadline", pr.prims[p].name)
			return true
		}
		return false
	case err == ErrClosed: // our handle, closed by a co-holder
		return true
	case send && err == ErrAbandoned:
		return true
	case !send && err == errSendersDone:
		pr.prims[p].ended.Store(true)
		return true
	}
	pr.fail("%s: unexpected error %v (send %v)", pr.prims[p].name, err, send)
	return true
}

// worker holds, for each primitive, a send handle, a recv handle, or both
// (-1: none). Only "pure" workers block without a short timeout: a pure
// sender in Send, a pure recver in a Select over everything it receives
// from, so the test itself cannot deadlock.
type worker struct {
	pr    *propRun
	rng   *rand.Rand
	send  []int
	recv  []int
	sLive []bool
	rLive []bool
}

func (w *worker) live(l []bool) []int {
	var ps []int
	for p, ok := range l {
		if ok {
			ps = append(ps, p)
		}
	}
	return ps
}

func (w *worker) shortCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(w.pr.gctx, time.Duration(w.rng.IntN(200))*time.Microsecond)
}

func (w *worker) sendOne(p int, op int) {
	pr := w.pr
	s := pr.prims[p].sends[w.send[p]]
	id := pr.newItem(p)
	var err error
	switch op {
	case 0:
		err = s.TrySend(id)
	case 1:
		ctx, cancel := w.shortCtx()
		err = s.Send(ctx, id)
		cancel()
	default:
		err = s.Send(pr.gctx, id)
	}
	if err == nil {
		pr.sent[id].Store(1)
	}
	if pr.checkErr(p, true, err) {
		w.sLive[p] = false
	}
}

func (w *worker) recvOne(p int, op int) {
	pr := w.pr
	r := pr.prims[p].recvs[w.recv[p]]
	var v int
	var err error
	if op == 0 {
		v, err = r.TryRecv()
	} else {
		ctx, cancel := w.shortCtx()
		v, err = r.Recv(ctx)
		cancel()
	}
	if err == nil {
		pr.received(p, v)
	}
	if pr.checkErr(p, false, err) {
		w.rLive[p] = false
	}
}

// selectSome selects over a random subset of live sends and recvs (all live
// recvs when all is set).
func (w *worker) selectSome(ctx context.Context, sends, recvs []int) {
	pr := w.pr
	type kase struct {
		p    int
		send bool
		id   int
		dst  *int
	}
	var ks []kase
	var cases []Case
	for _, p := range sends {
		id := pr.newItem(p)
		ks = append(ks, kase{p: p, send: true, id: id})
		cases = append(cases, pr.prims[p].sends[w.send[p]].Case(id))
	}
	for _, p := range recvs {
		dst := new(int)
		ks = append(ks, kase{p: p, dst: dst})
		cases = append(cases, pr.prims[p].recvs[w.recv[p]].Case(dst))
	}
	w.rng.Shuffle(len(ks), func(i, j int) {
		ks[i], ks[j] = ks[j], ks[i]
		cases[i], cases[j] = cases[j], cases[i]
	})
	i, err := Select(ctx, cases...)
	if i < 0 {
		if !errors.Is(err, context.DeadlineExceeded) {
			pr.fail("Select() = %d, %v, want a context error", i, err)
		} else if pr.gctx.Err() != nil {
			pr.fail("Select still blocked at the deadlock deadline")
		}
		return
	}
	k := ks[i]
	switch {
	case k.send && err == nil:
		pr.sent[k.id].Store(1)
	case !k.send && err == nil:
		pr.received(k.p, *k.dst)
	}
	if pr.checkErr(k.p, k.send, err) {
		if k.send {
			w.sLive[k.p] = false
		} else {
			w.rLive[k.p] = false
		}
	}
}

func (w *worker) subset(ps []int) []int {
	w.rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
	return ps[:1+w.rng.IntN(len(ps))]
}

func (w *worker) run(ops int) {
	pr := w.pr
	pureSender := len(w.live(w.rLive)) == 0
	pureRecver := len(w.live(w.sLive)) == 0
	for range ops {
		sl, rl := w.live(w.sLive), w.live(w.rLive)
		if len(sl) == 0 && len(rl) == 0 {
			break
		}
		if w.rng.IntN(700) == 0 { // close one of our handles early
			if len(sl) > 0 && (len(rl) == 0 || w.rng.IntN(2) == 0) {
				p := sl[w.rng.IntN(len(sl))]
				pr.prims[p].sends[w.send[p]].CloseWithError(errSendersDone)
				w.sLive[p] = false
			} else {
				p := rl[w.rng.IntN(len(rl))]
				pr.prims[p].closeRecv(w.recv[p])
				w.rLive[p] = false
			}
			continue
		}
		op := w.rng.IntN(4)
		switch {
		case op == 3: // Select
			var ss, rs []int
			if len(sl) > 0 {
				ss = w.subset(sl)
			}
			if len(rl) > 0 {
				rs = w.subset(rl)
			}
			switch {
			case pureSender:
				w.selectSome(pr.gctx, ss, nil)
			case pureRecver && w.rng.IntN(2) == 0:
				w.selectSome(pr.gctx, nil, rl) // everything: safe to block
			default:
				ctx, cancel := w.shortCtx()
				w.selectSome(ctx, ss, rs)
				cancel()
			}
		case len(sl) > 0 && (len(rl) == 0 || w.rng.IntN(2) == 0):
			if !pureSender && op == 2 {
				op = 1 // only pure senders block without a timeout
			}
			w.sendOne(sl[w.rng.IntN(len(sl))], op)
		default:
			w.recvOne(rl[w.rng.IntN(len(rl))], op%2)
		}
	}
	// Done sending: let go of send handles, then drain until every
	// primitive we receive from has ended.
	for p, h := range w.send {
		if h >= 0 {
			w.sLive[p] = false
			pr.prims[p].release(true, h)
		}
	}
	for rl := w.live(w.rLive); len(rl) > 0; rl = w.live(w.rLive) {
		w.selectSome(pr.gctx, nil, rl)
		if pr.gctx.Err() != nil {
			break
		}
	}
	for p, h := range w.recv {
		if h >= 0 {
			pr.prims[p].release(false, h)
		}
	}
}

func TestPropertyRandomOps(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, uint64(time.Now().UnixNano())}
	for _, seed := range seeds {
		if !runProperty(t, seed) {
			return
		}
	}
}

func runProperty(t *testing.T, seed uint64) bool {
	t.Logf("seed %d", seed)
	const (
		senders, recvers, mixed = 4, 3, 2
		ops                     = 1500
		maxItems                = (senders + recvers + mixed) * (ops + 1) * 8
	)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	gctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pr := &propRun{
		t:      t,
		gctx:   gctx,
		sent:   make([]atomic.Int32, maxItems),
		recvd:  make([]atomic.Int32, maxItems),
		primOf: make([]atomic.Int32, maxItems),
		prims: []*propPrim{
			newPropPrim("pipe", NewPipe[int], false, false),
			newPropPrim("queue", func() (*Sender[int], *Recver[int]) { return NewQueue[int](3) }, false, false),
			newPropPrim("dealer", NewDealer[int], false, true),
			newPropPrim("router", NewRouter[int], true, false),
			newPropPrim("channel", func() (*Sender[int], *Recver[int]) { return NewChannel[int](0) }, true, true),
			newPropPrim("channel_buffered", func() (*Sender[int], *Recver[int]) { return NewChannel[int](4) }, true, true),
		},
	}
	var ws []*worker
	for i := range senders + recvers + mixed {
		w := &worker{
			pr:    pr,
			rng:   rand.New(rand.NewPCG(seed, uint64(i))),
			send:  make([]int, len(pr.prims)),
			recv:  make([]int, len(pr.prims)),
			sLive: make([]bool, len(pr.prims)),
			rLive: make([]bool, len(pr.prims)),
		}
		for p, prim := range pr.prims {
			w.send[p], w.recv[p] = -1, -1
			if i < senders || i >= senders+recvers {
				w.send[p] = rng.IntN(len(prim.sends))
				prim.sendRefs[w.send[p]]++
				w.sLive[p] = true
			}
			if i >= senders {
				w.recv[p] = rng.IntN(len(prim.recvs))
				prim.recvRefs[w.recv[p]]++
				w.rLive[p] = true
			}
		}
		ws = append(ws, w)
	}
	for _, prim := range pr.prims { // handles nobody holds
		for h, n := range prim.sendRefs {
			if n == 0 {
				prim.sends[h].CloseWithError(errSendersDone)
			}
		}
		for h, n := range prim.recvRefs {
			if n == 0 {
				prim.closeRecv(h)
			}
		}
	}

	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() { w.run(ops) })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-gctx.Done():
		pr.abandoned.Store(true)
		t.Fatalf("seed %d: workers still running after 10s: deadlock", seed)
	}

	n := int(pr.nextID.Load())
	if n >= maxItems {
		t.Fatalf("seed %d: %d items, more than the %d tracked", seed, n, maxItems)
	}
	var delivered, lost int
	for id := 1; id <= n; id++ {
		p := pr.prims[pr.primOf[id].Load()]
		sent, recvd := pr.sent[id].Load() == 1, pr.recvd[id].Load()
		switch {
		case !sent && recvd != 0:
			pr.fail("seed %d: %s: item %d received but its send did not happen", seed, p.name, id)
		case sent && recvd == 0 && !p.mayDiscard.Load():
			pr.fail("seed %d: %s: item %d sent but never received", seed, p.name, id)
		case sent && recvd == 0:
			lost++
		case sent:
			delivered++
		}
	}
	t.Logf("seed %d: %d items offered, %d delivered, %d discarded by a recver close", seed, n, delivered, lost)
	if delivered == 0 {
		t.Errorf("seed %d: nothing was delivered: the test exercised nothing", seed)
	}
	return !t.Failed()
}
