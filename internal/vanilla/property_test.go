package vanilla

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
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

	coalesces bool // State: an item may be overwritten, and then counted by Dropped
	// fanout (Tee): each item goes to every open recver handle at once.
	// Each handle is held by one worker, and seqs[h] is what handle h
	// received, in order.
	fanout bool
	seqs   [][]int
}

// newPropTee is a Tee of n outputs as a propPrim.
func newPropTee(name string, n int) *propPrim {
	s, rs := NewTee[int](n)
	p := &propPrim{name: name, sends: []*Sender[int]{s}, recvs: rs, fanout: true}
	p.sendRefs = make([]int, 1)
	p.recvRefs = make([]int, n)
	p.recvClosed = make([]bool, n)
	p.openRecvs = n
	p.seqs = make([][]int, n)
	return p
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

	deliveredOn map[string]int // per primitive; written once the workers are done
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

// received records that handle h of primitive p received item id.
func (pr *propRun) received(p, h, id int) {
	if id <= 0 || id >= len(pr.recvd) {
		pr.fail("%s: received %d, which was never sent", pr.prims[p].name, id)
		return
	}
	if got := int(pr.primOf[id].Load()); got != p {
		pr.fail("%s: received item %d sent on %s", pr.prims[p].name, id, pr.prims[got].name)
	}
	if prim := pr.prims[p]; prim.fanout {
		prim.seqs[h] = append(prim.seqs[h], id) // only this handle's worker appends
		pr.recvd[id].Add(1)
		return
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
		pr.received(p, w.recv[p], v)
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
		pr.received(k.p, w.recv[k.p], *k.dst)
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
	total := make(map[string]int)
	for _, seed := range seeds {
		delivered, ok := runProperty(t, seed)
		if !ok {
			return
		}
		for name, n := range delivered {
			total[name] += n
		}
	}
	// One seed may deliver nothing on a primitive (its only send handle
	// closed early, say); all of them together must.
	for name, n := range total {
		if n == 0 {
			t.Errorf("%s: nothing delivered over %d seeds: the test exercised nothing", name, len(seeds))
		}
	}
}

// runProperty runs one seed and returns how many items each primitive
// delivered.
func runProperty(t *testing.T, seed uint64) (map[string]int, bool) {
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
		t:           t,
		gctx:        gctx,
		deliveredOn: make(map[string]int),
		sent:        make([]atomic.Int32, maxItems),
		recvd:       make([]atomic.Int32, maxItems),
		primOf:      make([]atomic.Int32, maxItems),
		prims: []*propPrim{
			newPropPrim("pipe", NewPipe[int], false, false),
			newPropPrim("queue", func() (*Sender[int], *Recver[int]) { return NewQueue[int](3) }, false, false),
			newPropPrim("dealer", NewDealer[int], false, true),
			newPropPrim("router", NewRouter[int], true, false),
			newPropPrim("channel", func() (*Sender[int], *Recver[int]) { return NewChannel[int](0) }, true, true),
			newPropPrim("channel_buffered", func() (*Sender[int], *Recver[int]) { return NewChannel[int](4) }, true, true),
			newPropPrim("state", NewState[int], false, false),
			newPropTee("tee", 3),
		},
	}
	pr.prims[len(pr.prims)-2].coalesces = true
	var ws []*worker
	teeHolders := 0 // fanout handles are held by one worker each
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
			switch {
			case i < senders:
			case prim.fanout && teeHolders < len(prim.recvs):
				w.recv[p] = teeHolders
				teeHolders++
				prim.recvRefs[w.recv[p]]++
				w.rLive[p] = true
			case !prim.fanout:
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
	lostOn := make(map[*propPrim]int)
	for id := 1; id <= n; id++ {
		p := pr.prims[pr.primOf[id].Load()]
		sent, recvd := pr.sent[id].Load() == 1, pr.recvd[id].Load()
		switch {
		case !sent && recvd != 0:
			pr.fail("seed %d: %s: item %d received but its send did not happen", seed, p.name, id)
		case p.fanout:
			if sent {
				delivered++ // checked below, against the handles' sequences
			}
		case sent && recvd == 0 && p.coalesces:
			lostOn[p]++
		case sent && recvd == 0 && !p.mayDiscard.Load():
			pr.fail("seed %d: %s: item %d sent but never received", seed, p.name, id)
		case sent && recvd == 0:
			lost++
		case sent:
			delivered++
			pr.deliveredOn[p.name]++
		}
	}
	for _, p := range pr.prims {
		switch {
		case p.coalesces:
			// Every item lost was overwritten and counted, but for one
			// that a recver close may have discarded.
			drops, l := int(p.recvs[0].Dropped()), lostOn[p]
			if l != drops && !(p.mayDiscard.Load() && l == drops+1) {
				pr.fail("seed %d: %s: %d items sent and never received, Dropped() = %d", seed, p.name, l, drops)
			}
			delivered -= l
			lost += l
			t.Logf("seed %d: %s: %d items overwritten", seed, p.name, l)
		case p.fanout:
			checkFanout(pr, seed, p)
		}
	}
	t.Logf("seed %d: %d items offered, %d delivered, %d discarded by a recver close or overwritten", seed, n, delivered, lost)
	if delivered == 0 {
		t.Errorf("seed %d: nothing was delivered: the test exercised nothing", seed)
	}
	return pr.deliveredOn, !t.Failed()
}

// checkFanout checks a Tee's lock-step delivery: every meeting gives the
// item to every open output at once, so each output's sequence is the
// sequence of meetings up to its close: a prefix of that of the output that
// closed last, which holds every item whose send succeeded, once.
func checkFanout(pr *propRun, seed uint64, p *propPrim) {
	longest := slices.MaxFunc(p.seqs, func(a, b []int) int { return len(a) - len(b) })
	for h, seq := range p.seqs {
		if !slices.Equal(seq, longest[:len(seq)]) {
			pr.fail("seed %d: %s: output %d received %v, not a prefix of output's %v", seed, p.name, h, seq, longest)
			return
		}
	}
	in := make(map[int]bool, len(longest))
	for _, id := range longest {
		if in[id] {
			pr.fail("seed %d: %s: item %d received twice by one output", seed, p.name, id)
		}
		in[id] = true
	}
	for id := 1; id <= int(pr.nextID.Load()); id++ {
		if pr.prims[pr.primOf[id].Load()] == p && pr.sent[id].Load() == 1 && !in[id] {
			pr.fail("seed %d: %s: item %d sent but received by no output", seed, p.name, id)
		}
	}
	pr.deliveredOn[p.name] += len(longest)
	lens := make([]int, len(p.seqs))
	for h, seq := range p.seqs {
		lens[h] = len(seq)
	}
	pr.t.Logf("seed %d: %s: outputs received %v items", seed, p.name, lens)
}

// TestPropertyValue runs a setter against watchers and getters doing random
// operations, and checks what the notes' "value: when set always ready,
// can broadcast updates" promises: every watcher sees strictly newer
// versions only, never one that was not set, and ends with the last one; a
// getter never sees an older item than it saw before; and the setter never
// waits.
func TestPropertyValue(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, uint64(time.Now().UnixNano())} {
		t.Logf("seed %d", seed)
		gctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		v := NewValue[int]()
		const sets, watchers, getters = 3000, 4, 2
		var set atomic.Int64 // the newest item set, or being set; item i is version i
		var wg sync.WaitGroup
		var seen atomic.Int64 // items received by watchers, to check the test did something
		for i := range watchers + getters {
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			watcher := i < watchers
			wg.Go(func() { // exits once the Value is closed and drained
				propValueWorker(t, gctx, rng, v, &set, &seen, watcher)
			})
		}
		rng := rand.New(rand.NewPCG(seed, 1<<32))
		cleared := false
		for i := 1; i <= sets; i++ {
			set.Store(int64(i)) // before the Set: nobody can see i before set does
			if ver := v.Set(i); ver != uint64(i) {
				t.Fatalf("seed %d: Set(%d) = version %d, want %d", seed, i, ver, i)
			}
			cleared = false
			switch rng.IntN(50) {
			case 0:
				v.Clear()
				cleared = true
			case 1:
				runtime.Gosched()
			}
			if x, ver, ok := v.Load(); ok == cleared || (ok && (x != i || ver != uint64(i))) {
				t.Fatalf("seed %d: Load() = %d, %d, %v after Set(%d), cleared %v", seed, x, ver, ok, i, cleared)
			}
		}
		if cleared { // end set, so that every watcher must end with the last item
			set.Store(sets + 1)
			v.Set(sets + 1)
		}
		v.Close(errSendersDone)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-gctx.Done():
			t.Fatalf("seed %d: watchers still running after 10s: deadlock", seed)
		}
		cancel()
		if seen.Load() == 0 {
			t.Fatalf("seed %d: no watcher received anything: the test exercised nothing", seed)
		}
		if t.Failed() {
			return
		}
	}
}

// propValueWorker is one watcher (or getter) of TestPropertyValue.
func propValueWorker(t *testing.T, gctx context.Context, rng *rand.Rand, v *Value[int], set, seen *atomic.Int64, watcher bool) {
	w := v.Watch()
	defer w.Close()
	_, idle := NewPipe[int]() // a Select case that never fires
	last := 0                 // the newest item this worker has received
	for {
		ctx, cancel := context.WithTimeout(gctx, time.Duration(rng.IntN(100))*time.Microsecond)
		var x, d int
		var err error
		var what string
		switch op := rng.IntN(4); {
		case watcher && op == 0:
			x, err = w.TryRecv()
			what = "watcher TryRecv()"
		case watcher && op == 1:
			x, err = w.Recv(ctx)
			what = "watcher Recv()"
		case watcher:
			_, err = Select(ctx, idle.Case(&d), w.Case(&x))
			what = "watcher Select()"
		case op == 0:
			var ok bool
			if x, _, ok = v.Load(); !ok {
				err = ErrWouldBlock
			}
			what = "Load()"
		case op == 1:
			x, err = v.Get(ctx)
			what = "Get()"
		default:
			_, err = Select(ctx, idle.Case(&d), v.Case(&x))
			what = "Select(Value.Case)"
		}
		cancel()
		newest := int(set.Load())
		switch {
		case err == errSendersDone:
			if watcher && last != newest {
				t.Errorf("%s: ended having received %d, want the last item %d first", what, last, newest)
			}
			return
		case err == ErrWouldBlock, errors.Is(err, context.DeadlineExceeded):
			if gctx.Err() != nil {
				t.Errorf("%s still blocked at the deadlock deadline", what)
				return
			}
			continue
		case err != nil:
			t.Errorf("%s = %d, %v, want an item, a timeout or errSendersDone", what, x, err)
			return
		case x > newest:
			t.Errorf("%s = %d, which was not set yet (newest %d)", what, x, newest)
			return
		case watcher && x <= last:
			t.Errorf("%s = %d after %d: a watcher gets strictly newer versions only", what, x, last)
			return
		case x < last:
			t.Errorf("%s = %d after %d: older than what this getter saw before", what, x, last)
			return
		}
		if watcher {
			seen.Add(1)
		}
		last = x
	}
}

// TestPropertyBroadcast subscribes consumers with random policies and
// buffers at random points of a stream and lets them receive at random
// paces, and checks the notes' "broadcast: give to all that are ready":
// each subscriber gets a subsequence of what was sent after it subscribed,
// in order; everything else sent meanwhile is counted by its Dropped; a
// Latest subscriber always ends with the last item; and the Broadcast's
// Dropped is the sum of its subscribers'.
func TestPropertyBroadcast(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, uint64(time.Now().UnixNano())} {
		t.Logf("seed %d", seed)
		runPropertyBroadcast(t, seed)
		if t.Failed() {
			return
		}
	}
}

// propSub is one subscriber of TestPropertyBroadcast and what it got.
type propSub struct {
	r      *Recver[int]
	policy Policy
	from   int // the first item sent after Subscribe returned
	got    []int
	quit   bool // closed its Recver before the end
}

func runPropertyBroadcast(t *testing.T, seed uint64) {
	const items, maxSubs = 4000, 12
	gctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rng := rand.New(rand.NewPCG(seed, 0))
	b := NewBroadcast[int]()
	var subs []*propSub
	var wg sync.WaitGroup
	for i := 1; i <= items; i++ {
		if len(subs) < maxSubs && rng.IntN(items/maxSubs) == 0 {
			opts := &SubscribeOptions{Policy: Policy(rng.IntN(2)), Buffer: rng.IntN(4)}
			sub := &propSub{r: b.Subscribe(opts), policy: opts.Policy, from: i}
			subs = append(subs, sub)
			crng := rand.New(rand.NewPCG(seed, uint64(len(subs))))
			wg.Go(func() { propBroadcastConsumer(t, gctx, crng, sub) }) // exits at the close error
		}
		b.Send(i) // never blocks, whatever the consumers do
		if rng.IntN(20) == 0 {
			runtime.Gosched()
		}
	}
	b.Close(errSendersDone)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-gctx.Done():
		t.Fatalf("seed %d: consumers still running after 10s: deadlock", seed)
	}

	var drops uint64
	received := 0
	for i, sub := range subs {
		drops += sub.r.Dropped()
		received += len(sub.got)
		for j, x := range sub.got {
			if x < sub.from || x > items || (j > 0 && x <= sub.got[j-1]) {
				t.Fatalf("seed %d: subscriber %d (from %d): received %v, want increasing items from %d", seed, i, sub.from, sub.got, sub.from)
			}
		}
		if sub.quit {
			continue
		}
		if sent := items - sub.from + 1; len(sub.got)+int(sub.r.Dropped()) != sent {
			t.Errorf("seed %d: subscriber %d: received %d, Dropped() = %d, want them to add up to the %d sent after it subscribed", seed, i, len(sub.got), sub.r.Dropped(), sent)
		}
		if sub.policy == Latest && (len(sub.got) == 0 || sub.got[len(sub.got)-1] != items) {
			t.Errorf("seed %d: Latest subscriber %d ended with %v, want the last item %d last", seed, i, sub.got, items)
		}
	}
	if got := b.Dropped(); got != drops {
		t.Errorf("seed %d: Broadcast.Dropped() = %d, want %d, the sum over its subscribers", seed, got, drops)
	}
	if received == 0 {
		t.Errorf("seed %d: no subscriber received anything: the test exercised nothing", seed)
	}
	t.Logf("seed %d: %d subscribers, %d items received, %d dropped", seed, len(subs), received, drops)
}

// propBroadcastConsumer receives for sub at a random pace until the close
// error, or closes its Recver early.
func propBroadcastConsumer(t *testing.T, gctx context.Context, rng *rand.Rand, sub *propSub) {
	defer sub.r.Close()
	_, idle := NewPipe[int]() // a Select case that never fires
	for {
		if rng.IntN(2000) == 0 {
			sub.quit = true
			return
		}
		ctx, cancel := context.WithTimeout(gctx, time.Duration(rng.IntN(100))*time.Microsecond)
		var x, d int
		var err error
		switch rng.IntN(4) {
		case 0:
			x, err = sub.r.TryRecv()
		case 1:
			x, err = sub.r.Recv(ctx)
		case 2:
			_, err = Select(ctx, idle.Case(&d), sub.r.Case(&x))
		default:
			runtime.Gosched() // busy elsewhere: the Broadcast drops or conflates meanwhile
			err = ErrWouldBlock
		}
		cancel()
		switch {
		case err == nil:
			sub.got = append(sub.got, x)
		case err == errSendersDone:
			return
		case err == ErrWouldBlock, errors.Is(err, context.DeadlineExceeded):
			if gctx.Err() != nil {
				t.Errorf("subscriber still blocked at the deadlock deadline")
				return
			}
		default:
			t.Errorf("subscriber: unexpected error %v", err)
			return
		}
	}
}
