package vanilla

// NewDealer returns the ends of a Dealer: one sender, many recvers. Each item
// goes to exactly one recver: the one that has waited longest (first come,
// first served). Clone the Recver for each participant; the sender gets
// ErrAbandoned once every clone has closed.
func NewDealer[T any]() (*Sender[T], *Recver[T]) {
	return newCore[T](0, overflowBlock, false, true)
}
