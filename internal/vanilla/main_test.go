package vanilla

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Test errors: errBoom is what senders close with, errCause what contexts
// are cancelled with.
var (
	errBoom  = errors.New("boom")
	errCause = errors.New("test cause")
)

// kit describes a primitive built on core (or a Tee of one output) so that
// the semantics every end shares can be checked in one table.
type kit[T any] struct {
	name      string
	new       func() (*Sender[T], *Recver[T])
	buffered  int  // items TrySend accepts while no recver waits
	multiSend bool // Sender.Clone allowed
	multiRecv bool // Recver.Clone allowed
	coalesces bool // Send never parks (State)
}

func kits[T any]() []kit[T] {
	return []kit[T]{
		{name: "pipe", new: NewPipe[T]},
		{name: "queue", new: func() (*Sender[T], *Recver[T]) { return NewQueue[T](2) }, buffered: 2},
		{name: "dealer", new: NewDealer[T], multiRecv: true},
		{name: "router", new: NewRouter[T], multiSend: true},
		{name: "channel", new: func() (*Sender[T], *Recver[T]) { return NewChannel[T](0) }, multiSend: true, multiRecv: true},
		{name: "channel_buffered", new: func() (*Sender[T], *Recver[T]) { return NewChannel[T](2) }, buffered: 2, multiSend: true, multiRecv: true},
		{name: "state", new: NewState[T], buffered: 1, coalesces: true},
		{name: "tee", new: func() (*Sender[T], *Recver[T]) { s, rs := NewTee[T](1); return s, rs[0] }},
	}
}

// blockingKits are the kits whose Send parks when nobody takes the item.
func blockingKits[T any]() []kit[T] {
	var ks []kit[T]
	for _, k := range kits[T]() {
		if !k.coalesces {
			ks = append(ks, k)
		}
	}
	return ks
}

type result[T any] struct {
	v   T
	err error
}

type selResult struct {
	i   int
	err error
}

// goRecv receives once from r in a new goroutine and reports on the channel.
func goRecv[T any](ctx context.Context, r *Recver[T]) <-chan result[T] {
	c := make(chan result[T], 1)
	go func() {
		v, err := r.Recv(ctx)
		c <- result[T]{v, err}
	}()
	return c
}

// goSend sends v once on s in a new goroutine and reports on the channel.
func goSend[T any](ctx context.Context, s *Sender[T], v T) <-chan error {
	c := make(chan error, 1)
	go func() { c <- s.Send(ctx, v) }()
	return c
}

// goSelect runs one Select in a new goroutine and reports on the channel.
func goSelect(ctx context.Context, cases ...Case) <-chan selResult {
	c := make(chan selResult, 1)
	go func() {
		i, err := Select(ctx, cases...)
		c <- selResult{i, err}
	}()
	return c
}

// assertParked fails if the goroutine reporting on c has returned. Call it
// after synctest.Wait, when every goroutine of the bubble is durably blocked.
func assertParked[T any](t *testing.T, what string, c <-chan T) {
	t.Helper()
	select {
	case v := <-c:
		t.Fatalf("%s returned %+v, want it still parked", what, v)
	default:
	}
}

// fill sends 1..n with TrySend, which must succeed.
func fill(t *testing.T, s *Sender[int], n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		if err := s.TrySend(i); err != nil {
			t.Fatalf("TrySend(%d) = %v, want nil", i, err)
		}
	}
}

// drain receives 1..n, which must be what is buffered, in order.
func drain(t *testing.T, r *Recver[int], n int) {
	t.Helper()
	for i := 1; i <= n; i++ {
		if v, err := r.TryRecv(); v != i || err != nil {
			t.Fatalf("TryRecv() = %v, %v, want %v, nil", v, err, i)
		}
	}
}

// mustRecv receives one item with TryRecv and checks it.
func mustRecv[T comparable](t *testing.T, r *Recver[T], want T) {
	t.Helper()
	if v, err := r.TryRecv(); v != want || err != nil {
		t.Fatalf("TryRecv() = %v, %v, want %v, nil", v, err, want)
	}
}

// mustWouldBlock checks that r has nothing ready.
func mustWouldBlock[T any](t *testing.T, r *Recver[T]) {
	t.Helper()
	if v, err := r.TryRecv(); err != ErrWouldBlock {
		t.Fatalf("TryRecv() = %v, %v, want ErrWouldBlock", v, err)
	}
}
