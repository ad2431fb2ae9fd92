package vanilla

// NewState returns the ends of a State: the single-recver form of Value.
// Send never blocks: it overwrites an item the recver has not taken yet
// (counted by Dropped). Recv returns the latest item not yet received,
// waiting if there is none. It is a mailbox that coalesces.
func NewState[T any]() (*Sender[T], *Recver[T]) {
	return newCore[T](1, overflowLatest, false, false)
}
