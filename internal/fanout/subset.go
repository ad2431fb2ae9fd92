package fanout

import (
	"slices"
	"strings"
)

// subSet is a client's subscriptions, sorted by symbol. A client has a
// few dozen of them (MaxSymbolsPerClient at most): a sorted slice takes a
// fifth of the memory a map of them would, and finds one in a few
// comparisons. It is guarded like client.subs.
type subSet []*sub

// find returns where the subscription to name is, or would be inserted,
// and whether it is there.
func (t subSet) find(name string) (int, bool) {
	return slices.BinarySearchFunc(t, name, func(s *sub, n string) int { return strings.Compare(s.name(), n) })
}

// get returns the subscription to name, or nil.
func (t subSet) get(name string) *sub {
	if i, ok := t.find(name); ok {
		return t[i]
	}
	return nil
}

// has reports whether t holds a subscription to name.
func (t subSet) has(name string) bool {
	_, ok := t.find(name)
	return ok
}

// grow makes room for n more subscriptions, so that adding them does not
// leave a larger slice than they need behind.
func (t *subSet) grow(n int) { *t = slices.Grow(*t, n) }

// insert adds s, to a symbol t has no subscription to.
func (t *subSet) insert(s *sub) {
	i, _ := t.find(s.name())
	*t = slices.Insert(*t, i, s)
}

// remove removes the subscription to name and returns it, or nil if t
// has none.
func (t *subSet) remove(name string) *sub {
	i, ok := t.find(name)
	if !ok {
		return nil
	}
	s := (*t)[i]
	*t = slices.Delete(*t, i, i+1)
	return s
}

// names returns the symbols of t, sorted.
func (t subSet) names() []string {
	out := make([]string, len(t))
	for i, s := range t {
		out[i] = s.name()
	}
	return out
}
