package vanilla

// NewRouter returns the ends of a Router: many senders, one recver. Waiting
// senders are served first come, first served. Clone the Sender for each
// participant: the recver sees the end only when every clone has closed,
// with the first error any of them closed with (ErrClosed if none). Recvers
// of other primitives are connected in (fan-in) with Connect on a clone.
func NewRouter[T any]() (*Sender[T], *Recver[T]) {
	return newCore[T](0, overflowBlock, true, false)
}
