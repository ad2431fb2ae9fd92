//go:build cluster && unix

package clustertest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stopTimeout bounds how long a signalled process may take to exit: a
// tickerd's graceful stop is bounded by source.timeout plus two shutdown
// timeouts of 5s; the test's configs keep source.timeout at 2s.
const stopTimeout = 15 * time.Second

// proc is one process the test started. Signal, Kill and Wait act on that
// PID only; the test's cleanup kills it if it still runs. Its methods are
// safe for concurrent use; Wait blocks until the process exits.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has exited
	err     error         // cmd.Wait's result; read only after done
}

// startProc starts bin with args and env added to the test's environment;
// stdout and stderr go to dir/name.log, appended to across restarts. The
// process is SIGKILLed and reaped at cleanup if still running, and its log
// is shown when the test failed.
func startProc(t *testing.T, dir, name string, env []string, bin string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("open log: %v", err)
	}
	fmt.Fprintf(f, "=== %s %s %v\n", time.Now().UTC().Format(time.RFC3339Nano), bin, args)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	// Exits when the process does; cleanup below kills it if need be.
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = cmd.Process.Kill()
		}
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			t.Errorf("%s (pid %d) still running %v after SIGKILL", name, cmd.Process.Pid, stopTimeout)
		}
		if t.Failed() {
			t.Logf("%s log (%s), last lines:\n%s", name, logPath, tail(logPath, 40))
		}
	})
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process.
func (p *proc) signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s (pid %d): %w", p.name, p.pid(), err)
	}
	return nil
}

// wait waits up to d for the process to exit and returns its exit code
// (-1 when a signal ended it).
func (p *proc) wait(d time.Duration) (int, error) {
	select {
	case <-p.done:
	case <-time.After(d):
		return 0, fmt.Errorf("%s (pid %d) still running after %v", p.name, p.pid(), d)
	}
	var ee *exec.ExitError
	if p.err != nil && !errors.As(p.err, &ee) {
		return 0, p.err
	}
	return p.cmd.ProcessState.ExitCode(), nil
}

// kill SIGKILLs the process and waits for it to be gone; it returns the
// time the signal was sent and the time the exit was seen.
func (p *proc) kill(t *testing.T) (sent, gone time.Time) {
	t.Helper()
	sent = time.Now()
	if err := p.signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, err := p.wait(stopTimeout); err != nil {
		t.Fatal(err)
	}
	return sent, time.Now()
}

// stop SIGSTOPs the process and waits until every thread of it has
// stopped (Linux: state T in /proc/PID/task/*/stat; elsewhere, 100ms); it
// returns the time by which it had stopped.
func (p *proc) stop(t *testing.T) time.Time {
	t.Helper()
	if err := p.signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		all, err := allThreadsStopped(p.pid())
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			return time.Now()
		}
		if all {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) not stopped 2s after SIGSTOP", p.name, p.pid())
		}
		time.Sleep(time.Millisecond)
	}
}

// allThreadsStopped reports whether every thread of pid is in state T
// (stopped), per /proc.
func allThreadsStopped(pid int) (bool, error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "task")
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, task.Name(), "stat"))
		if err != nil {
			return false, err
		}
		// pid (comm) state ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 || i+2 >= len(b) {
			return false, fmt.Errorf("parse %s/stat: %q", task.Name(), b)
		}
		if b[i+2] != 'T' {
			return false, nil
		}
	}
	return true, nil
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// freePort returns a 127.0.0.1 TCP port that was free a moment ago, below
// the ephemeral range where possible: outgoing connections (the proxies'
// own, other tests') take ports in that range, so a port from it may be
// gone by the time a process binds it. Another process may still take the
// port before the test's process binds it; that is rare enough.
func freePort(t *testing.T) int {
	t.Helper()
	lo := ephemeralLow()
	for range 50 {
		if lo <= 20000 {
			break
		}
		port := 10000 + rand.IntN(lo-10000)
		if ln, err := net.Listen("tcp", hostPort(port)); err == nil {
			ln.Close()
			return port
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen = %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// ephemeralLow returns the lowest port of the kernel's ephemeral range
// (Linux), or 0 when unknown.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 1 {
		return 0
	}
	lo, _ := strconv.Atoi(f[0])
	return lo
}

func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// waitTCP waits up to d for addr to accept a TCP connection.
func waitTCP(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dial %s: nothing listening after %v: %w", addr, d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
