package vanilla

// NewPipe returns the two ends of a Pipe: exactly one sender and one recver,
// no buffering. Send blocks until a Recv takes the item, and Recv blocks
// until a Send offers one. Neither end can be cloned.
//
//	s, r := vanilla.NewPipe[int]()
//	go func() { defer s.Close(); s.Send(ctx, 1) }()
//	v, err := r.Recv(ctx) // 1, nil; then ErrClosed
func NewPipe[T any]() (*Sender[T], *Recver[T]) {
	return newCore[T](0, overflowBlock, false, false)
}
