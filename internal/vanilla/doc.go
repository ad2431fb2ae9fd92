// Package vanilla provides message-passing primitives: ways to send, ways to
// recv, a Select over any of them, a Hub that owns goroutines, and stages to
// compose them. It is what Go channels would be with contexts, errors,
// selectable everything and a clear answer to "who closes what".
//
// # Ends
//
// Most primitives hand out a *Sender[T] and a *Recver[T]. Every blocking
// call takes a context first and has a Try form that never waits:
//
//	s, r := vanilla.NewQueue[int](8)
//	err := s.Send(ctx, 1)     // blocks while the queue is full
//	v, err := r.Recv(ctx)     // blocks while it is empty
//	err = s.TrySend(2)        // ErrWouldBlock instead of blocking
//	s.CloseWithError(errBoom) // r drains, then gets errBoom
//
// # Ways to send and recv
//
//   - Pipe: one sender, one recver, no buffer: a hand-off.
//   - Queue: one sender, one recver, a bounded FIFO between them.
//   - Dealer: one sender, many recvers; each item goes to one of them, the
//     one that has waited longest.
//   - Router: many senders, one recver; waiting senders are served in
//     arrival order; Connect fans other recvers in.
//   - Channel: many senders, many recvers, optional buffer.
//   - Broadcast: one sender, many subscribers; each item goes to every
//     subscriber that has room, and Send never waits for one that does not
//     (Drop or Latest policy per subscription, drops counted).
//   - Tee: one sender, n recvers in lock-step: a send completes only when a
//     recver waits on every open output, and then gives the item to all of
//     them at once.
//   - Gather: n senders, one recver in lock-step, the mirror image: a recv
//     takes nothing until a send waits on every input, then takes one
//     item from each, all at once.
//   - Value: the latest item of a series; always ready once set, versioned,
//     clearable; watchers see changes without ever blocking the setter.
//   - State: the single-recver Value: Send overwrites, Recv takes the latest.
//
// Zero values (0, "", nil) are items like any other: "nothing" is always
// said with an error (ErrWouldBlock, ErrClosed), never with a zero value.
//
// # Select
//
// Every end is selectable: Sender.Case and Recver.Case make cases, and
// Select performs exactly one of them. Internally each case answers the
// notes' three questions: are you ready now (poll), enqueue me but don't
// pause (enqueue), and dequeue me if we give up (dequeue). When several
// cases are ready at once the first in argument order wins.
//
// # What happens when ...
//
// ... there is an error on the send side? The sender closes with
// CloseWithError(err). Items already buffered are still delivered; after
// them the recver gets exactly err. A plain Close delivers ErrClosed.
//
// ... the read side stops? The recver closes. Anything buffered is dropped,
// and every blocked or later Send returns ErrAbandoned, so a producer learns
// that nobody is listening instead of blocking forever.
//
// ... the pipe wants to stop, or something else wants it stopped? Either end
// may close, at any time, from any goroutine. Closing an end wakes every
// goroutine parked on either end of the primitive, including those parked
// on the end being closed (they get ErrClosed), with any number of parked
// senders and recvers. An operation on a closed end returns ErrClosed. For
// primitives with many participants (Router, Dealer, Channel) each Clone is
// a participant that closes on its own, and the primitive ends when the
// last participant of a side has closed.
//
// ... the world stops? A Hub owns goroutines. Hub.Stop cancels their
// contexts with cause ErrStopped, so every operation parked under the Hub
// returns ErrStopped; stages close their downstream with it, so goroutines
// outside the Hub that wait on a stage's output see ErrStopped too. Stop
// returns only when every goroutine the Hub spawned has exited, with their
// errors.
//
// ... there is a panic? Nothing here recovers it: a panic in a Hub
// goroutine or a stage's function crashes the process, loudly, as in any
// goroutine (net/http's stance outside its handlers), and Wait never
// returns first. See "Choices" below.
//
// ... a context ends? The parked operation is withdrawn: nothing was sent or
// received, and the call returns context.Cause(ctx).
//
// # Stages
//
// Connect, Map, Filter, Consume, Produce and Pulse each run one goroutine
// on a Hub. They are demand-driven: a stage pulls an item from upstream
// only while its downstream has demand, a recver waiting on it or room in
// its buffer (the notes' "only activate a section of code if its outputs
// are available"), and stops pulling when the demand goes away. When the
// consumer closes a stage's output, its Close itself closes the stage's
// upstream, so the producer's next Send returns ErrAbandoned, and the
// stage goroutine exits at once. Along a chain of stages this reaches the
// first producer within the consumer's Close.
//
// # Choices
//
// Where the notes leave room, these are the readings taken, and why.
//
// Tee, "when all are ready, give to all": ready means a recver is waiting
// on the output (the notes' "are you ready now?"), so a Tee holds no item,
// and a TrySend with nobody waiting fails. A Tee that buffered one item per
// output would let a send complete while an output was not ready, and that
// output would get the item later or never. A closed output is skipped
// (nobody can be ready on it), and the last close abandons the sender.
// Whichever operation arrives last, the send or the last recver, completes
// the meeting for all; a Select case on either side is ready only when the
// whole meeting is. One Select waiting on several outputs of one Tee fills
// one of them.
//
// Gather, "once all are ready, recv all": Gather is a primitive with its
// own inputs (NewGather), the mirror image of Tee, not a stage over
// existing recvers. Taking nothing until every one of several independent
// primitives is ready, then one item from each, would need every one of
// them locked at once and their parked senders held while the others are
// checked: a lock discipline across every primitive, for one consumer. As a
// primitive, "ready" is exact (a send waits on every input), and when an
// input ends first nothing has been taken: the Gather ends, since all could
// never be ready again, and the sends still waiting get ErrAbandoned with
// their items in hand. To gather existing recvers, Connect each one to an
// input; each Connect then holds at most one item it pulled.
//
// Stages, demand: a Recv or Select that waits is demand; a TryRecv is not
// (it does not wait, so a stage that pulled for it would hold the item for
// nobody). For a Tee, demand is a recver on every open output; for a
// Gather input it is the Gather's recver waiting, not the other inputs,
// or Connects feeding a Gather would each wait for the others forever. An
// item that arrives just as the demand goes away is held by the stage, at
// most one, until the next recver takes it, or dropped if the consumer
// closes: the same as an item in a Queue's buffer.
//
// Hub, a panic: of re-panicking at Wait (errgroup's way) and crashing,
// vanilla crashes. Until someone called Wait, a recovered panic
// would leave whatever the goroutine held (a mutex locked without defer, a
// half-done update) for the rest of the process to trip over: a deadlock
// instead of a crash. Crashing at once is what a panic does in any other
// goroutine, so none of it can matter. Nothing in the package recovers.
//
// Lock-step meetings are atomic: the last arrival reserves every party's
// waiter, in a fixed order, before handing anything over, so a Select
// waiting on two Tees is filled by one of them or not at all.
package vanilla
