package vanilla

// NewChannel returns the ends of a Channel: many senders, many recvers and
// an optional buffer of size items (the notes' Router -> Queue -> Dealer).
// Both ends can be cloned. Unlike a Go channel, a Channel with many senders
// closes itself correctly: recvers see the end once every sender has closed.
func NewChannel[T any](size int) (*Sender[T], *Recver[T]) {
	return newCore[T](size, overflowBlock, true, true)
}
