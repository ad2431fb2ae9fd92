package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// options are ticksoak's flags.
type options struct {
	tickerd string
	phase   time.Duration
	rounds  int
	symbols int
	faults  []fault // the faults of a round, in order
	json    bool
}

// Growth allowed over the run, from the end of the warm-up to the end of
// the last healthy phase, before the soak counts as failed.
const (
	maxGoroutineGrowth = 50
	maxFDGrowth        = 16
	maxRSSGrowth       = 64 << 20
)

// victim is the symbol the per-symbol faults hit; other is whose quote
// faultWrongSym answers it with.
const (
	victim = "VICT"
	other  = "S00"
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ticksoak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.tickerd, "tickerd", "", "the tickerd binary to soak (required)")
	fs.DurationVar(&o.phase, "phase", 20*time.Second, "how long each fault lasts (and the warm-up and the final healthy phase)")
	fs.IntVar(&o.rounds, "rounds", 1, "times to go through every fault")
	fs.IntVar(&o.symbols, "symbols", 20, "healthy symbols besides the victim")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON")
	only := fs.String("faults", "", "comma-separated faults of a round, in order (default: all of "+faultNames()+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if o.faults, err = parseFaults(*only); err != nil {
		return err
	}
	if o.tickerd == "" || fs.NArg() > 0 || o.phase < 2*time.Second || o.rounds < 1 || o.symbols < 1 || o.symbols > 1000 {
		fs.Usage()
		return errors.New("want -tickerd PATH, -phase >= 2s, -rounds >= 1 and 1 to 1000 -symbols")
	}
	res, err := soak(ctx, o)
	if res != nil {
		if o.json {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.Encode(res)
		} else {
			res.writeTable(stdout)
		}
	}
	if err != nil {
		return err
	}
	return res.verdict()
}

// soak runs the whole test: upstream, tickerd, phases, stop.
func soak(ctx context.Context, o options) (*result, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the upstream: %w", err)
	}
	up := newUpstream(ln, victim, other)
	uctx, stopUp := context.WithCancel(ctx)
	upDone := make(chan error, 1)
	// Exits when uctx ends, below.
	go func() { upDone <- up.serve(uctx) }()
	defer func() { stopUp(); <-upDone }()

	dir, err := os.MkdirTemp("", "ticksoak")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	syms := []string{victim}
	for i := range o.symbols {
		syms = append(syms, fmt.Sprintf("S%02d", i))
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf("listen: %q\nsource: {kind: nasdaq, url: \"http://%s\", timeout: 1s}\nschedule: \"@every 1s\"\nsymbols: [%s]\nlog: {level: error}\n",
		addr, ln.Addr(), strings.Join(syms, ", "))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}

	var logs tail
	cmd := exec.Command(o.tickerd, "-config", cfgPath, "-config-poll", "0")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start tickerd: %w", err)
	}
	exited := make(chan error, 1)
	// Exits when tickerd does: stopped below, or on its own.
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			cmd.Process.Kill()
			<-exited
		}
	}()

	s := &sampler{base: "http://" + addr, client: &http.Client{Timeout: 2 * time.Second}, victim: victim}
	if err := s.waitReady(ctx, exited); err != nil {
		return nil, fmt.Errorf("%w; tickerd said:\n%s", err, logs.String())
	}
	res := &result{Phase: o.phase.String(), Symbols: o.symbols}
	plan := []fault{faultNone}
	for range o.rounds {
		plan = append(plan, o.faults...)
	}
	plan = append(plan, faultNone)
	for i, f := range plan {
		up.setFault(f)
		reqs, conns := up.requests.Load(), up.conns.Load()
		ph, err := s.phase(ctx, f, o.phase, exited)
		ph.Requests, ph.Conns = up.requests.Load()-reqs, up.conns.Load()-conns
		res.Phases = append(res.Phases, ph)
		if err != nil {
			return res, fmt.Errorf("phase %d (%s): %w; tickerd said:\n%s", i, f, err, logs.String())
		}
	}

	start := time.Now()
	if err := terminate(cmd.Process); err != nil {
		return res, fmt.Errorf("stop tickerd: %w", err)
	}
	select {
	case err := <-exited:
		stopped = true
		res.StopSeconds = time.Since(start).Seconds()
		res.ExitCode = cmd.ProcessState.ExitCode()
		if err != nil && res.ExitCode == 0 {
			return res, fmt.Errorf("wait for tickerd: %w", err)
		}
	case <-time.After(30 * time.Second):
		return res, fmt.Errorf("tickerd still running 30s after SIGTERM; it said:\n%s", logs.String())
	}
	res.Panicked = strings.Contains(logs.String(), "panic:")
	res.Log = logs.String()
	return res, nil
}

// parseFaults parses -faults: "" means every fault.
func parseFaults(s string) ([]fault, error) {
	if s == "" {
		return faults, nil
	}
	var out []fault
	for _, name := range strings.Split(s, ",") {
		f := fault(strings.TrimSpace(name))
		if !slices.Contains(faults, f) {
			return nil, fmt.Errorf("-faults: unknown fault %q, want some of %s", name, faultNames())
		}
		out = append(out, f)
	}
	return out, nil
}

func faultNames() string {
	names := make([]string, len(faults))
	for i, f := range faults {
		names[i] = string(f)
	}
	return strings.Join(names, ",")
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// tail keeps the last 16 KiB written to it; safe for concurrent use.
type tail struct {
	mu  sync.Mutex
	buf []byte // guarded by mu
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - 16<<10; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
