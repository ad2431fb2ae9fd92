package vanilla

// NewQueue returns the two ends of a Queue: one sender, one recver and a
// bounded FIFO of size items between them (the notes' "buffer"). Send is
// ready until the buffer is full. When the sender closes, the recver drains
// what is buffered and then gets the close error. A size of 0 makes a Pipe.
func NewQueue[T any](size int) (*Sender[T], *Recver[T]) {
	return newCore[T](size, overflowBlock, false, false)
}
