package fanout

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/vanilla"
)

// readFrame reads one frame of a batch-mode client: a JSON array of one or
// more messages, each with a type. It returns them and the frame's size.
func (w *wsClient) readFrame() ([]msg, int) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	typ, data, err := w.c.Read(ctx)
	if err != nil {
		w.t.Fatalf("%s: Read() = %v, want a frame", w.name, err)
	}
	var raws []json.RawMessage
	if typ != websocket.MessageText || json.Unmarshal(data, &raws) != nil || len(raws) == 0 {
		w.t.Fatalf("%s: Read() = %v %.200s, want a text frame with a JSON array of messages", w.name, typ, data)
	}
	out := make([]msg, len(raws))
	for i, r := range raws {
		out[i].raw = string(r)
		if err := json.Unmarshal(r, &out[i]); err != nil || out[i].Type == "" {
			w.t.Fatalf("%s: message %s in a batch frame, want an object with a type", w.name, r)
		}
	}
	return out, len(data)
}

// TestBatchFrames: with ?batch=1 every frame is a JSON array of messages
// as they are without it; a pulse's quotes come in one frame when they fit
// (BatchDelay is long here so that the whole pulse is in the outbox), in
// several of at most maxArray bytes when they do not; seq never goes down.
func TestBatchFrames(t *testing.T) {
	syms := manySymbols(400) // about 90 KB of quotes: several frames
	src := newFakeSource(syms...)
	h := newHarness(t, src, &Options{BatchDelay: 300 * time.Millisecond, MaxSymbolsPerClient: 500}, nil)
	plain := h.dial(t, "plain", "?symbols=S0000,S0001", nil)
	plain.expectSubscribed("S0000", "S0001")
	c := h.dial(t, "batch", "?batch=1&symbols=S0000,S0001", nil)
	if got, _ := c.readFrame(); len(got) != 1 || got[0].Type != "subscribed" {
		t.Fatalf("first frame = %v, want [subscribed]", got)
	}

	// A small pulse: one frame, messages byte for byte as without batch.
	src.set(t, "S0000", snapQuote("S0000", 1))
	src.set(t, "S0001", stale(snapQuote("S0001", 1), "timeout", 1))
	got, _ := c.readFrame()
	var want []string
	for range 3 {
		want = append(want, plain.read().raw)
	}
	if len(got) != len(want) {
		t.Fatalf("pulse frame = %v, want one frame of %q", got, want)
	}
	for i := range got {
		if got[i].raw != want[i] {
			t.Fatalf("batch message %d = %s, want %s as sent without batch", i, got[i].raw, want[i])
		}
	}

	// A large pulse, twice: several frames, none over maxArray, every
	// quote once per pulse, seq never down.
	c.send(`{"op":"subscribe","symbols":["*"]}`)
	if got, _ := c.readFrame(); len(got) != 1 || got[0].Type != "subscribed" || len(got[0].Symbols) != len(syms) {
		t.Fatalf("frame after subscribe * = %v, want [subscribed] with %d symbols", got, len(syms))
	}
	last := map[string]uint64{"S0000": 1, "S0001": 1}
	for seq := uint64(2); seq <= 3; seq++ {
		for _, s := range syms {
			src.set(t, s, snapQuote(s, seq))
		}
		frames, n := 0, 0
		for n < len(syms) {
			ms, size := c.readFrame()
			frames++
			if size > maxArray {
				t.Fatalf("frame of %d bytes, want at most %d", size, maxArray)
			}
			for _, m := range ms {
				if m.Type == "status" && m.Symbol == "S0001" && seq == 2 && !m.Stale {
					continue // S0001 recovers
				}
				if m.Type != "quote" || m.Seq != seq || last[m.Symbol] >= m.Seq {
					t.Fatalf("message %s in pulse %d after seq %d, want a quote with seq %d", m, seq, last[m.Symbol], seq)
				}
				last[m.Symbol] = m.Seq
				n++
			}
		}
		if frames < 2 || frames > 6 {
			t.Fatalf("pulse of %d quotes came in %d frames, want 2 to 6 (about %d KB in frames under 32 KiB)", len(syms), frames, 90)
		}
	}
}

// TestBatchQueryInvalid: a bad batch value is refused before upgrading.
func TestBatchQueryInvalid(t *testing.T) {
	h := newHarness(t, newFakeSource("AAPL"), nil, nil)
	resp, err := http.Get(fmt.Sprintf("http://%s/ws?batch=yes", h.srv.Listener.Addr()))
	if err != nil {
		t.Fatalf("GET /ws?batch=yes = %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("GET /ws?batch=yes = HTTP %d, want 400", resp.StatusCode)
	}
}

// TestPulseSentOnceComplete: a batch client's quotes go out as soon as
// every symbol it is subscribed to has one pending, without waiting for
// BatchDelay (an hour here, longer than the test would wait), in one
// frame; and not before: the frame holds the whole pulse.
func TestPulseSentOnceComplete(t *testing.T) {
	syms := manySymbols(5)
	src := newFakeSource(syms...)
	for _, s := range syms {
		src.set(t, s, snapQuote(s, 1))
	}
	h := newHarness(t, src, &Options{BatchDelay: time.Hour}, nil)
	c := h.dial(t, "batch", "?batch=1&symbols="+strings.Join(syms, ","), nil)
	// "subscribed" and every snapshot: complete once the last is offered.
	if got, _ := c.readFrame(); len(got) != 1+len(syms) || got[0].Type != "subscribed" {
		t.Fatalf("first frame = %v, want [subscribed] and %d snapshots", got, len(syms))
	}
	for seq := uint64(2); seq <= 3; seq++ {
		for _, s := range syms {
			src.set(t, s, snapQuote(s, seq))
		}
		got, _ := c.readFrame()
		seen := make(map[string]bool)
		for _, m := range got {
			if m.Type != "quote" || m.Seq != seq || seen[m.Symbol] {
				t.Fatalf("pulse %d message %s, want a quote with seq %d, one per symbol", seq, m.raw, seq)
			}
			seen[m.Symbol] = true
		}
		if len(seen) != len(syms) {
			t.Fatalf("pulse %d frame = %v, want its %d quotes", seq, got, len(syms))
		}
	}
}

// TestPulsesQueuedTwice runs pulses back to back with a short BatchDelay,
// so that clients are often queued both by push and, once complete, by
// pushNow, and sent for by two writers in turn: each client still gets
// every symbol's seq in order, never down, up to the last pulse.
func TestPulsesQueuedTwice(t *testing.T) {
	const pulses = 200
	syms := manySymbols(4)
	src := newFakeSource(syms...)
	h := newHarness(t, src, &Options{BatchDelay: 50 * time.Microsecond}, nil)
	var cs []*wsClient
	for i := range 3 {
		c := h.dial(t, fmt.Sprint("client", i), "?batch=1&symbols="+strings.Join(syms, ","), nil)
		if got, _ := c.readFrame(); len(got) != 1 || got[0].Type != "subscribed" {
			t.Fatalf("first frame = %v, want [subscribed]", got)
		}
		cs = append(cs, c)
	}
	var vals []*vanilla.Value[board.Snapshot]
	for _, s := range syms {
		v, _ := src.Value(s) // a configured symbol: always there
		vals = append(vals, v)
	}
	done := make(chan struct{})
	// Exits after the last pulse.
	go func() {
		defer close(done)
		for seq := uint64(1); seq <= pulses; seq++ {
			for i, v := range vals {
				v.Set(snapQuote(syms[i], seq))
			}
		}
	}()
	for _, c := range cs {
		last := make(map[string]uint64)
		for n := 0; n < len(syms); {
			ms, _ := c.readFrame()
			for _, m := range ms {
				if m.Type != "quote" || m.Seq <= last[m.Symbol] {
					t.Fatalf("%s: message %s after seq %d, want a quote with a higher seq", c.name, m.raw, last[m.Symbol])
				}
				last[m.Symbol] = m.Seq
				if m.Seq == pulses {
					n++
				}
			}
		}
	}
	<-done
}
