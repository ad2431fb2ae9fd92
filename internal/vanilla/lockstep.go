package vanilla

import "slices"

// Tee and Gather are lock-step primitives: one operation on the single side
// (the Tee's send, the Gather's recv) meets one operation on every open
// spoke of the other side (each Tee output, each Gather input), all at
// once or not at all. Whoever arrives last completes the meeting for
// everyone parked: under the primitive's lock it picks one parked node per
// spoke it needs (pickLocked), reserves their waiters (reserveAll) and, if
// none of them was claimed elsewhere meanwhile, claims them all and hands
// the items over. A Select parked on several spokes of one primitive fills
// at most one of them.

// pickLocked chooses nodes[i] from lists[i] for every non-nil list, so that
// no two chosen nodes share a waiter and none belongs to a waiter in excl;
// nodes[i] is nil where lists[i] is nil. Nodes of waiters already claimed
// elsewhere are unlinked on the way. It reports whether such a choice
// exists. Most calls are decided by a first-fit pass; only when a waiter is
// parked on several of the lists does it search further (augmenting paths,
// so a choice is found whenever one exists).
func pickLocked[T any](lists []*list[T], nodes []*node[T], excl ...*waiter) bool {
	for i, l := range lists {
		nodes[i] = nil
		if l != nil {
			l.pruneClaimed()
		}
	}
	ok := true
	for i, l := range lists {
		if l == nil {
			continue
		}
		for n := l.head; n != nil; n = n.next {
			if !slices.Contains(excl, n.w) && holder(nodes, n.w) < 0 {
				nodes[i] = n
				break
			}
		}
		ok = ok && nodes[i] != nil
	}
	if ok {
		return true
	}
	for i, l := range lists {
		if l != nil && nodes[i] == nil {
			var seen []*waiter
			if !augment(lists, nodes, i, excl, &seen) {
				return false
			}
		}
	}
	return true
}

// augment finds a node for list i, moving other lists to other nodes of
// theirs if the waiter it wants is taken (Kuhn's algorithm).
func augment[T any](lists []*list[T], nodes []*node[T], i int, excl []*waiter, seen *[]*waiter) bool {
	for n := lists[i].head; n != nil; n = n.next {
		if slices.Contains(excl, n.w) || slices.Contains(*seen, n.w) {
			continue
		}
		*seen = append(*seen, n.w)
		if j := holder(nodes, n.w); j < 0 || augment(lists, nodes, j, excl, seen) {
			nodes[i] = n
			return true
		}
	}
	return false
}

// holder returns the index of the node in nodes that belongs to w, or -1.
func holder[T any](nodes []*node[T], w *waiter) int {
	for j, n := range nodes {
		if n != nil && n.w == w {
			return j
		}
	}
	return -1
}

// reserveAll reserves every waiter in ws (distinct, and sorted by id in
// place) in id order, so that two meetings reserving overlapping sets
// cannot wait on each other in a cycle. If one of them turns out to be
// claimed elsewhere, it releases those it reserved and reports false; the
// caller picks again (the claimed node is pruned then).
func reserveAll(ws []*waiter) bool {
	slices.SortFunc(ws, func(a, b *waiter) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	for i, w := range ws {
		if !w.reserve() {
			for _, r := range ws[:i] {
				r.release()
			}
			return false
		}
	}
	for _, w := range ws {
		w.confirm()
	}
	return true
}

// pruneClaimed unlinks the nodes of waiters claimed elsewhere.
func (l *list[T]) pruneClaimed() {
	for n := l.head; n != nil; {
		next := n.next
		if n.w.isClaimed() {
			l.remove(n)
		}
		n = next
	}
}
