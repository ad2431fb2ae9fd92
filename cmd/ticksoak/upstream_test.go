package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// startUpstream serves a hostile upstream on loopback until the test ends.
func startUpstream(t *testing.T) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := newUpstream(ln, victim, other)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.serve(ctx) }() // exits when cancelled below
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve() = %v, want nil", err)
		}
	})
	return u
}

// rawConn is a client connection that pipelines GETs and reads answers.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, u *upstream, syms ...string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", u.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second)) // a hang the test does not expect fails it
	var b strings.Builder
	for _, s := range syms {
		b.WriteString("GET /api/quote/" + s + "/info HTTP/1.1\r\nHost: x\r\n\r\n")
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

// quote reads one answer and returns its status and the symbol it is for.
func (r *rawConn) quote() (int, string, error) {
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, "", nil
	}
	var doc struct{ Data struct{ Symbol string } }
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		return resp.StatusCode, "", err
	}
	return resp.StatusCode, doc.Data.Symbol, nil
}

func (r *rawConn) wantQuote(sym string) {
	r.t.Helper()
	code, got, err := r.quote()
	if err != nil || code != http.StatusOK || got != sym {
		r.t.Fatalf("answer = %d for %q, %v; want 200 for %s", code, got, err, sym)
	}
}

func (r *rawConn) wantEnd() {
	r.t.Helper()
	if _, err := r.br.ReadByte(); err == nil {
		r.t.Fatal("connection goes on, want it closed")
	}
}

func TestUpstreamFaults(t *testing.T) {
	tests := []struct {
		fault fault
		check func(t *testing.T, u *upstream)
	}{
		{faultNone, func(t *testing.T, u *upstream) {
			r := dialRaw(t, u, "S00", victim, "S01")
			r.wantQuote("S00")
			r.wantQuote(victim)
			r.wantQuote("S01")
		}},
		{faultHang, func(t *testing.T, u *upstream) {
			r := dialRaw(t, u, "S00", victim, "S01")
			r.wantQuote("S00")
			u.setFault(faultNone) // the hung answer gives up: the connection closes
			r.wantEnd()
		}},
		{faultFlood1xx, func(t *testing.T, u *upstream) {
			r := dialRaw(t, u, victim)
			for range 3 {
				resp, err := http.ReadResponse(r.br, nil)
				if err != nil || resp.StatusCode != http.StatusContinue {
					t.Fatalf("answer = %v, %v; want 100 Continue", resp, err)
				}
			}
			u.setFault(faultNone)
			r.wantEnd()
		}},
		{faultGarbage, func(t *testing.T, u *upstream) {
			r := dialRaw(t, u, "S00", victim)
			r.wantQuote("S00")
			if _, _, err := r.quote(); err == nil {
				t.Error("garbage answer parsed, want an error")
			}
		}},
		{faultHuge, func(t *testing.T, u *upstream) {
			r := dialRaw(t, u, victim)
			resp, err := http.ReadResponse(r.br, nil)
			if err != nil || resp.ContentLength != hugeBody {
				t.Fatalf("answer = %v, %v; want Content-Length %d", resp, err, hugeBody)
			}
			n, _ := io.CopyN(io.Discard, resp.Body, 1<<20)
			if n != 1<<20 {
				t.Errorf("read %d bytes of the huge body, want 1 MiB at least", n)
			}
		}},
		{faultWrongSym, func(t *testing.T, u *upstream) {
			r := dialRaw(t, u, victim, "S01")
			r.wantQuote(other)
			r.wantQuote("S01")
		}},
		{faultStray, func(t *testing.T, u *upstream) {
			syms := []string{"S00", "S01", "S02", "S03", "S04", "S05", "S06"}
			r := dialRaw(t, u, syms...)
			for _, s := range syms {
				r.wantQuote(s)
			}
			r.wantQuote("S06") // the seventh again: nobody asked for it
		}},
		{faultCloseEvery, func(t *testing.T, u *upstream) {
			r := dialRaw(t, u, "S00", "S01")
			resp, err := http.ReadResponse(r.br, nil)
			if err != nil || !resp.Close {
				t.Fatalf("answer = %v, %v; want Connection: close", resp, err)
			}
			io.Copy(io.Discard, resp.Body)
			r.wantEnd()
		}},
		{faultReset, func(t *testing.T, u *upstream) {
			syms := []string{"S00", "S01", "S02", "S03", "S04", "S05"}
			r := dialRaw(t, u, syms...)
			for _, s := range syms[:5] {
				r.wantQuote(s)
			}
			r.wantEnd()
		}},
	}
	for _, tc := range tests {
		t.Run(string(tc.fault), func(t *testing.T) {
			u := startUpstream(t)
			u.setFault(tc.fault)
			tc.check(t, u)
		})
	}
}

// TestTrickle: a trickled answer comes one byte a tick, whole, and stops
// when the fault changes.
func TestTrickle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var w bytes.Buffer
		start := time.Now()
		if !trickle(t.Context(), &w, []byte("HTTP/1.1"), make(chan struct{})) || w.String() != "HTTP/1.1" {
			t.Errorf("trickle() wrote %q, want all of it", w.String())
		}
		if d := time.Since(start); d != 800*time.Millisecond {
			t.Errorf("trickle() of 8 bytes took %v, want 800ms", d)
		}
		changed := make(chan struct{})
		close(changed)
		w.Reset()
		if trickle(t.Context(), &w, []byte("more"), changed) || w.Len() != 0 {
			t.Errorf("trickle() after the fault changed wrote %q, want nothing", w.String())
		}
	})
}

func TestParseFaults(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"", len(faults), false},
		{"hang", 1, false},
		{"hang, reset", 2, false},
		{"hang,nope", 0, true},
	}
	for _, tc := range tests {
		got, err := parseFaults(tc.in)
		if (err != nil) != tc.wantErr || len(got) != tc.want {
			t.Errorf("parseFaults(%q) = %v, %v; want %d faults, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func FuzzSymbolOf(f *testing.F) {
	for _, s := range []string{"AAPL", "brk.b", "", "a/b", "%2F"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := symbolOf("/api/quote/" + s + "/info")
		if strings.Contains(s, "/") {
			if got != "" && strings.Contains(got, "/") {
				t.Errorf("symbolOf(%q) = %q, holds a slash", s, got)
			}
			return
		}
		if got != strings.ToUpper(s) {
			t.Errorf("symbolOf(path of %q) = %q, want %q", s, got, strings.ToUpper(s))
		}
		if symbolOf("/other/"+s) != "" {
			t.Errorf("symbolOf(/other/%s) = %q, want \"\"", s, symbolOf("/other/"+s))
		}
	})
}

func TestVerdict(t *testing.T) {
	ok := phaseResult{Fault: "healthy", Samples: 10, HealthyFresh: 10, Goroutines: 60, RSSBytes: 20 << 20, OpenFDs: 12}
	grown := ok
	grown.Goroutines, grown.OpenFDs, grown.RSSBytes = 60+maxGoroutineGrowth+1, 12+maxFDGrowth+1, 20<<20+maxRSSGrowth+1
	unanswered := ok
	unanswered.Unanswered = 1
	tests := []struct {
		name  string
		r     result
		wants []string
	}{
		{"clean", result{Phases: []phaseResult{ok, ok}}, nil},
		{"panic_and_exit", result{Phases: []phaseResult{ok, ok}, Panicked: true, ExitCode: 2}, []string{"panicked", "exited 2"}},
		{"growth", result{Phases: []phaseResult{ok, grown}}, []string{"goroutines grew", "descriptors grew", "RSS grew"}},
		{"unanswered", result{Phases: []phaseResult{ok, unanswered}}, []string{"unanswered"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.verdict()
			if (err == nil) != (len(tc.wants) == 0) {
				t.Fatalf("verdict() = %v, want errors %v", err, tc.wants)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("verdict() = %v, want it to say %q", err, w)
				}
			}
		})
	}
	var b strings.Builder
	(&result{Phase: "1s", Phases: []phaseResult{ok}}).writeTable(&b)
	if !strings.Contains(b.String(), "| healthy | 10 | 100.0% |") {
		t.Errorf("writeTable() =\n%s\nwant a row for the healthy phase", b.String())
	}
}
