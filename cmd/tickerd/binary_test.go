package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tickerd/tickerd/internal/service"
)

// These tests run the real binary as a user would: signals, files, ports.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/tickerd once per test process.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tickerd-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "tickerd")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a running tickerd.
type proc struct {
	cmd  *exec.Cmd
	base string      // http://127.0.0.1:port
	logs chan string // stderr lines, after the listen line
	done chan error  // the process's exit
	mu   sync.Mutex  // guards all
	all  []string    // every stderr line, for failure messages
}

var listenRE = regexp.MustCompile(`msg="tickerd running" listen=(\S+)`)

// listenAddr returns the address of a "tickerd running" log line, in the
// text or the JSON format; ok is false for other lines.
func listenAddr(line string) (addr string, ok bool) {
	if m := listenRE.FindStringSubmatch(line); m != nil {
		return m[1], true
	}
	var rec struct{ Msg, Listen string }
	if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "tickerd running" {
		return rec.Listen, true
	}
	return "", false
}

// start runs the binary with config file path and waits for its listen
// line.
func start(t *testing.T, path string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"-config", path}, args...)...)
	cmd.Env = append(os.Environ(), "TICKERD_LISTEN=127.0.0.1:0")
	return startCmd(t, cmd)
}

// startCmd starts cmd, a tickerd service, and waits for its listen line
// (text or JSON log format). The test's cleanup kills it.
func startCmd(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: make(chan string, 1024), done: make(chan error, 1)}
	addr := make(chan string, 1)
	// Exits at EOF of stderr: when the process has exited.
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.all = append(p.all, line)
			p.mu.Unlock()
			if a, ok := listenAddr(line); ok {
				addr <- a
			}
			select {
			case p.logs <- line:
			default: // nobody is looking for lines right now
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	select {
	case a := <-addr:
		p.base = "http://" + a
	case <-time.After(30 * time.Second): // deadlock detector
		t.Fatalf("tickerd did not start; stderr:\n%s", p.stderr())
	}
	return p
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.all, "\n")
}

// waitLog waits for a stderr line containing s.
func (p *proc) waitLog(t *testing.T, s string) string {
	t.Helper()
	timeout := time.After(20 * time.Second) // deadlock detector
	for {
		select {
		case line := <-p.logs:
			if strings.Contains(line, s) {
				return line
			}
		case <-timeout:
			t.Fatalf("no log line with %q; stderr:\n%s", s, p.stderr())
		}
	}
}

// symbols returns the symbols GET /api/quotes lists, with their seq.
func (p *proc) symbols(t *testing.T) map[string]uint64 {
	t.Helper()
	resp, err := http.Get(p.base + "/api/quotes")
	if err != nil {
		t.Fatalf("GET /api/quotes: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Quotes []struct {
			Symbol string `json:"symbol"`
			Seq    uint64 `json:"seq"`
		} `json:"quotes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode /api/quotes: %v", err)
	}
	out := make(map[string]uint64)
	for _, q := range body.Quotes {
		out[q.Symbol] = q.Seq
	}
	return out
}

// waitReady polls /readyz (a readiness probe is polled by design).
func (p *proc) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond) // polling a probe, not ordering events
	}
	t.Fatalf("/readyz never 200; stderr:\n%s", p.stderr())
}

func writeConfig(t *testing.T, path, symbols string) {
	t.Helper()
	cfg := "listen: \"127.0.0.1:0\"\nschedule: \"@every 1s\"\nsymbols: " + symbols + "\n"
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readUntil reads websocket messages until one satisfies ok.
func readUntil(ctx context.Context, t *testing.T, c *websocket.Conn, ok func(map[string]any) bool) map[string]any {
	t.Helper()
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("websocket Read: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("websocket message %s: %v", data, err)
		}
		if ok(m) {
			return m
		}
	}
}

func TestBinarySIGTERMClosesClientsAndExits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeConfig(t, path, "[AAPL, MSFT]")
	p := start(t, path)
	p.waitReady(t)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ws := "ws" + strings.TrimPrefix(p.base, "http") + "/ws?symbols=AAPL,MSFT"
	var conns []*websocket.Conn
	for range 3 {
		c, _, err := websocket.Dial(ctx, ws, nil)
		if err != nil {
			t.Fatalf("Dial(%s): %v", ws, err)
		}
		defer c.CloseNow()
		readUntil(ctx, t, c, func(m map[string]any) bool { return m["type"] == "quote" })
		conns = append(conns, c)
	}

	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i, c := range conns {
		for {
			_, _, err := c.Read(ctx)
			if err == nil {
				continue // quotes still in flight before the close
			}
			if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
				t.Errorf("client %d: close status = %v (%v), want %v", i, got, err, websocket.StatusGoingAway)
			}
			break
		}
	}
	// The documented bound: collections (source timeout, 5s default) plus
	// three shutdown steps.
	bound := 5*time.Second + 3*service.ShutdownTimeout
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("tickerd exit = %v, want exit status 0; stderr:\n%s", err, p.stderr())
		}
		if d := time.Since(sent); d > bound {
			t.Errorf("tickerd took %v to exit after SIGTERM, want <= %v", d, bound)
		}
	case <-time.After(bound):
		t.Fatalf("tickerd still running %v after SIGTERM; stderr:\n%s", bound, p.stderr())
	}
	p.done <- nil // for the cleanup's wait
}

func TestBinaryConfigReload(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		trigger func(p *proc)
	}{
		{"file_change", []string{"-config-poll", "100ms"}, func(*proc) {}},
		{"sighup", []string{"-config-poll", "0"}, func(p *proc) { p.cmd.Process.Signal(syscall.SIGHUP) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			writeConfig(t, path, "[AAPL, MSFT]")
			p := start(t, path, tc.args...)
			p.waitReady(t)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.base, "http")+"/ws?symbols=MSFT", nil)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.CloseNow()
			readUntil(ctx, t, c, func(m map[string]any) bool { return m["type"] == "quote" })

			// A valid change: MSFT goes, NVDA comes; the client stays.
			writeConfig(t, path, "[AAPL, NVDA]")
			tc.trigger(p)
			p.waitLog(t, "config reloaded")
			m := readUntil(ctx, t, c, func(m map[string]any) bool { return m["type"] == "error" })
			if got := fmt.Sprint(m["symbols"]); got != "[MSFT]" || m["code"] != "unknown_symbol" {
				t.Errorf("error message after MSFT was removed = %v, want code unknown_symbol for [MSFT]", m)
			}
			syms := waitSymbols(t, p, []string{"AAPL", "NVDA"})

			// An invalid change is rejected with the file:line: key error;
			// collection goes on with the old set.
			if err := os.WriteFile(path, []byte("symbols: [AAPL, \"A B\"]\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			tc.trigger(p)
			line := p.waitLog(t, "config reload rejected")
			if want := filepath.Base(path) + ":1: symbols[1]"; !strings.Contains(line, want) {
				t.Errorf("rejection log = %q, want it to name %q", line, want)
			}
			after := waitSymbols(t, p, []string{"AAPL", "NVDA"})
			waitSeqAbove(t, p, "NVDA", syms["NVDA"])
			if _, ok := after["A B"]; ok {
				t.Errorf("symbols after invalid reload = %v, want the old set", after)
			}
			if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
				t.Errorf("client Close after reloads = %v, want nil (still connected)", err)
			}
		})
	}
}

// waitSymbols waits until /api/quotes lists exactly want.
func waitSymbols(t *testing.T, p *proc, want []string) map[string]uint64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := p.symbols(t)
		var names []string
		for s := range got {
			names = append(names, s)
		}
		slices.Sort(names)
		if slices.Equal(names, want) {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("/api/quotes symbols = %v, want %v", names, want)
		}
		time.Sleep(50 * time.Millisecond) // polling the REST API for a state, not ordering events
	}
}

// waitSeqAbove waits until sym's seq passes seq: collection goes on.
func waitSeqAbove(t *testing.T, p *proc, sym string, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for p.symbols(t)[sym] <= seq {
		if time.Now().After(deadline) {
			t.Fatalf("%s seq stayed at %d: collection stopped", sym, seq)
		}
		time.Sleep(100 * time.Millisecond) // polling the REST API for progress
	}
}
