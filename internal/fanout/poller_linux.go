//go:build linux

package fanout

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
)

// poller waits for the sockets of idle clients to become readable, all
// in one goroutine blocked in epoll_wait, so that an idle client holds no
// goroutine of its own: its 2 KiB stack and its g were about a third of
// its memory. Each registered socket is armed for one event at a time
// (EPOLLONESHOT): on it the poller calls the client's reads' kick, which
// starts a goroutine that reads what came and arms the socket again.
//
// Methods are safe for concurrent use. close stops the goroutine and
// returns once it has; it must be called once, after every socket has
// been removed.
type poller struct {
	epfd  int
	wakeR int           // read end of a pipe in the epoll set: a byte on it ends run
	wakeW int           // its write end, written by close
	done  chan struct{} // closed when run returns

	mu sync.Mutex
	// Guarded by mu.
	reads map[int32]*pollReads // registered sockets by id (the epoll event's data)
	next  int32                // the last id given
}

// wakeID is the pipe's id in the epoll set; sockets get ids from 1 up.
const wakeID = 0

// newPoller starts a poller's goroutine; close stops it.
func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fanout: epoll_create1: %w", err)
	}
	var pipe [2]int
	if err := syscall.Pipe2(pipe[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		_ = syscall.Close(epfd)
		return nil, fmt.Errorf("fanout: pipe2: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: wakeID}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, pipe[0], &ev); err != nil {
		_ = syscall.Close(epfd)
		_ = syscall.Close(pipe[0])
		_ = syscall.Close(pipe[1])
		return nil, fmt.Errorf("fanout: epoll_ctl: %w", err)
	}
	p := &poller{epfd: epfd, wakeR: pipe[0], wakeW: pipe[1], done: make(chan struct{}), reads: make(map[int32]*pollReads)}
	// Exits once close has written to the pipe (or epoll_wait fails,
	// which with a valid epoll descriptor and buffer it does not).
	go p.run()
	return p, nil
}

// run waits for events and kicks the reads of each socket that has one.
func (p *poller) run() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			panic(fmt.Sprintf("fanout: epoll_wait: %v", err)) // cannot happen: nothing would read any client's messages again
		}
		for _, ev := range events[:n] {
			if ev.Fd == wakeID {
				return
			}
			p.mu.Lock()
			r := p.reads[ev.Fd]
			p.mu.Unlock()
			if r != nil {
				r.kick()
			}
		}
	}
}

// add registers r's socket, not armed yet: r's first step arms it.
func (p *poller) add(r *pollReads) error {
	p.mu.Lock()
	for {
		if p.next++; p.next <= wakeID {
			p.next = wakeID + 1
		}
		if p.reads[p.next] == nil {
			break
		}
	}
	r.id = p.next
	p.reads[r.id] = r
	p.mu.Unlock()
	// Without EPOLLIN: only a hangup or an error (which epoll always
	// reports) could come before the first arm, and kick ignores it.
	if err := p.ctl(r, syscall.EPOLL_CTL_ADD, syscall.EPOLLONESHOT); err != nil {
		p.forget(r)
		return err
	}
	return nil
}

// arm asks for one event once r's socket is readable (or has failed or
// reached its end). It fails once the socket is closed.
func (p *poller) arm(r *pollReads) error {
	return p.ctl(r, syscall.EPOLL_CTL_MOD, syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLONESHOT)
}

// ctl applies op to r's socket in the epoll set.
func (p *poller) ctl(r *pollReads, op int, events uint32) error {
	var err error
	ev := syscall.EpollEvent{Events: events, Fd: r.id}
	// Control holds the descriptor: it cannot be closed, and its number
	// given to another socket, meanwhile.
	if cerr := r.raw.Control(func(fd uintptr) { err = syscall.EpollCtl(p.epfd, op, int(fd), &ev) }); cerr != nil {
		return cerr
	}
	if err != nil {
		return fmt.Errorf("fanout: epoll_ctl: %w", err)
	}
	return nil
}

// remove unregisters r: the poller kicks it no more. A socket still open
// leaves the epoll set (a closed one has left it).
func (p *poller) remove(r *pollReads) {
	_ = r.raw.Control(func(fd uintptr) { _ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil) })
	p.forget(r)
}

// forget drops r's id.
func (p *poller) forget(r *pollReads) {
	p.mu.Lock()
	delete(p.reads, r.id)
	p.mu.Unlock()
}

// close stops the poller's goroutine and returns once it has.
func (p *poller) close() {
	_, _ = syscall.Write(p.wakeW, []byte{0})
	<-p.done
	_ = syscall.Close(p.epfd)
	_ = syscall.Close(p.wakeR)
	_ = syscall.Close(p.wakeW)
}
