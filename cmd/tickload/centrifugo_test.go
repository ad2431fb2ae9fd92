package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
)

// fakeCentrifugo speaks as much of Centrifugo's protocol as tickload uses
// (see centrifugo.go and shared/notes/centrifugo-anchor.md): at
// /connection/websocket, newline-separated JSON commands in, replies and
// pushes out, several lines a frame, a ping ({}) after the subscribes
// whose pong ({}) it counts; at /api/batch, publish commands with an
// X-API-Key, each sent as a publication push to the channel's
// subscribers, one frame per subscriber per batch. It is safe for
// concurrent use.
type fakeCentrifugo struct {
	t      *testing.T
	key    string
	refuse string // a channel whose subscribe gets an error reply

	pongs     atomic.Int64
	published atomic.Int64 // publications pushed to a subscriber
	conns     sync.WaitGroup

	mu sync.Mutex
	// Guarded by mu.
	subs     map[string][]*websocket.Conn // channel -> subscribers
	subsSeen map[string]int               // channel -> subscribes ever made
	errs     []string                     // protocol violations by tickload
}

func newFakeCentrifugo(t *testing.T, key, refuse string) (*fakeCentrifugo, *httptest.Server) {
	f := &fakeCentrifugo{t: t, key: key, refuse: refuse, subs: make(map[string][]*websocket.Conn), subsSeen: make(map[string]int)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /connection/websocket", f.serveWS)
	mux.HandleFunc("POST /api/batch", f.serveBatch)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		f.conns.Wait() // each ends when its client closes, which run does before returning
	})
	return f, srv
}

func (f *fakeCentrifugo) violation(format string, args ...any) {
	f.mu.Lock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

// command is a client command line.
type command struct {
	ID        *int            `json:"id"`
	Connect   json.RawMessage `json:"connect"`
	Subscribe *struct {
		Channel string `json:"channel"`
	} `json:"subscribe"`
}

func (f *fakeCentrifugo) serveWS(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	f.conns.Add(1)
	defer f.conns.Done()
	defer c.CloseNow()
	ctx := context.Background()
	// The first frame: connect, then the subscribes.
	_, first, err := c.Read(ctx)
	if err != nil {
		f.violation("read connect frame: %v", err)
		return
	}
	var replies [][]byte
	var chans []string
	for i, line := range bytes.Split(first, []byte("\n")) {
		var cmd command
		switch err := json.Unmarshal(line, &cmd); {
		case err != nil || cmd.ID == nil || *cmd.ID != i+1:
			f.violation("line %d %q: want a command with id %d (%v)", i, line, i+1, err)
			return
		case i == 0 && cmd.Connect == nil:
			f.violation("line 0 %q: want connect", line)
			return
		case i == 0:
			replies = append(replies, fmt.Appendf(nil, `{"id":1,"connect":{"client":"fake-%p","version":"0.0.0","ping":25,"pong":true}}`, c))
		case cmd.Subscribe == nil || cmd.Subscribe.Channel == "":
			f.violation("line %d %q: want subscribe", i, line)
			return
		case cmd.Subscribe.Channel == f.refuse:
			replies = append(replies, fmt.Appendf(nil, `{"id":%d,"error":{"code":102,"message":"unknown channel"}}`, *cmd.ID))
		default:
			chans = append(chans, cmd.Subscribe.Channel)
			replies = append(replies, fmt.Appendf(nil, `{"id":%d,"subscribe":{}}`, *cmd.ID))
		}
	}
	f.mu.Lock()
	for _, ch := range chans {
		f.subs[ch] = append(f.subs[ch], c)
		f.subsSeen[ch]++
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		for _, ch := range chans {
			f.subs[ch] = slices.DeleteFunc(f.subs[ch], func(s *websocket.Conn) bool { return s == c })
		}
		f.mu.Unlock()
	}()
	// The connect reply alone, then the subscribe replies and a ping
	// together: replies come in several frames and share them.
	if err := c.Write(ctx, websocket.MessageText, replies[0]); err != nil {
		return
	}
	rest := append(bytes.Join(replies[1:], []byte("\n")), "\n{}"...)
	if err := c.Write(ctx, websocket.MessageText, rest); err != nil {
		return
	}
	for { // pongs, until the client closes
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		if !bytes.Equal(b, []byte("{}")) {
			f.violation("client sent %q, want a pong {}", b)
			continue
		}
		f.pongs.Add(1)
	}
}

func (f *fakeCentrifugo) serveBatch(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-API-Key") != f.key {
		http.Error(w, `{"error":{"code":401}}`, http.StatusUnauthorized)
		return
	}
	var body struct {
		Commands []struct {
			Publish *struct {
				Channel string          `json:"channel"`
				Data    json.RawMessage `json:"data"`
			} `json:"publish"`
		} `json:"commands"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		f.violation("POST /api/batch: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	frames := make(map[*websocket.Conn][]byte)
	var order []*websocket.Conn
	replies := make([]string, 0, len(body.Commands))
	f.mu.Lock()
	for _, cmd := range body.Commands {
		p := cmd.Publish
		if p == nil || p.Channel == "" || !json.Valid(p.Data) {
			f.violation("POST /api/batch: command without a publish of valid data")
			replies = append(replies, `{"error":{"code":107,"message":"bad request"}}`)
			continue
		}
		for _, c := range f.subs[p.Channel] {
			b, ok := frames[c]
			if !ok {
				order = append(order, c)
			} else {
				b = append(b, '\n')
			}
			frames[c] = fmt.Appendf(b, `{"push":{"channel":%q,"pub":{"data":%s}}}`, p.Channel, p.Data)
			f.published.Add(1)
		}
		replies = append(replies, `{"publish":{}}`)
	}
	f.mu.Unlock()
	for _, c := range order {
		_ = c.Write(r.Context(), websocket.MessageText, frames[c]) // a client gone meanwhile misses it
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"replies":[%s]}`, strings.Join(replies, ","))
}

// TestRunAgainstFakeCentrifugo runs tickload's centrifugo target against
// the fake over loopback: every client connects and subscribes in one
// frame, answers the ping, and counts the publications of the built-in
// publisher's pulses, with nothing unreadable and no disconnect.
func TestRunAgainstFakeCentrifugo(t *testing.T) {
	const clients, perClient, channels = 3, 4, 6
	f, srv := newFakeCentrifugo(t, "k", "")
	host := srv.Listener.Addr().String()
	args := []string{"-target", "centrifugo", "-url", "ws://" + host + "/connection/websocket", "-api", "http://" + host + "/api",
		"-api-key", "k", "-n", strconv.Itoa(clients), "-k", strconv.Itoa(perClient), "-channels", strconv.Itoa(channels),
		"-duration", "2500ms", "-connect-timeout", "10s", "-json"}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run(%q) = %v; stderr: %s", args, err, stderr.String())
	}
	var res result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("run(%q) printed %q: %v", args, stdout.String(), err)
	}
	if res.Target != "centrifugo" || res.Connected != clients || res.ConnectErrors != 0 {
		t.Errorf("run() target %q, connected %d, %d connect errors (%q), want centrifugo, %d, 0", res.Target, res.Connected, res.ConnectErrors, res.FirstError, clients)
	}
	if res.Disconnects != 0 || res.BadMessages != 0 {
		t.Errorf("run() disconnects %d %v, bad messages %d, want 0, 0", res.Disconnects, res.CloseCodes, res.BadMessages)
	}
	// A 2.5s window holds at least two of the publisher's 1s pulses.
	if res.Pulses < 2 || res.PublishErrors != 0 {
		t.Errorf("run() pulses %d, publish errors %d, want at least 2, 0", res.Pulses, res.PublishErrors)
	}
	if res.Delivered < 2*clients*perClient || res.Delivered > f.published.Load() {
		t.Errorf("run() delivered %d, want from %d (two pulses) to the %d the fake pushed", res.Delivered, 2*clients*perClient, f.published.Load())
	}
	// The fake sends a client the publications of a pulse in one frame,
	// and its ping before the window: perClient quotes a frame, but for a
	// frame the window's edge cut (its quotes counted, not it, or the
	// reverse) at each end.
	if d := res.Delivered - perClient*res.Frames; d < -2*perClient || d > 2*perClient {
		t.Errorf("run() frames %d for %d quotes (%v a frame), want %d quotes a frame", res.Frames, res.Delivered, res.QuotesPerFrame, perClient)
	}
	if !(res.P50ms > 0 && res.P50ms <= res.P99ms && res.P99ms <= res.MaxMs) {
		t.Errorf("run() latencies p50 %v, p99 %v, max %v ms, want 0 < p50 <= p99 <= max", res.P50ms, res.P99ms, res.MaxMs)
	}
	if res.Pongs != clients || f.pongs.Load() != clients {
		t.Errorf("run() pongs %d, fake got %d, want %d (one ping each)", res.Pongs, f.pongs.Load(), clients)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.errs {
		t.Errorf("fake Centrifugo: %s", e)
	}
	// Every client subscribed to its own channels: clientSymbols spreads
	// 3 x 4 over 6 channels, 2 each.
	for _, ch := range channelNames(channels) {
		if f.subsSeen[ch] != clients*perClient/channels {
			t.Errorf("subscribes to %s = %d, want %d (%v)", ch, f.subsSeen[ch], clients*perClient/channels, f.subsSeen)
		}
	}
}

// TestRunFakeCentrifugoRefuses: a subscribe Centrifugo answers with an
// error is a connect error of that client, reported with the reply.
func TestRunFakeCentrifugoRefuses(t *testing.T) {
	f, srv := newFakeCentrifugo(t, "k", "S0001")
	host := srv.Listener.Addr().String()
	args := []string{"-target", "centrifugo", "-url", "ws://" + host + "/connection/websocket", "-api", "http://" + host + "/api",
		"-api-key", "k", "-n", "2", "-k", "2", "-channels", "4", "-duration", "100ms", "-connect-timeout", "10s", "-json"}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run(%q) = %v; stderr: %s", args, err, stderr.String())
	}
	var res result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("run(%q) printed %q: %v", args, stdout.String(), err)
	}
	// Client 0 has S0000 and S0001; client 1 S0002 and S0003.
	if res.Connected != 1 || res.ConnectErrors != 1 || !strings.Contains(res.FirstError, "unknown channel") {
		t.Errorf("run() connected %d, connect errors %d (%q), want 1, 1 naming the refusal", res.Connected, res.ConnectErrors, res.FirstError)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, e := range f.errs {
		t.Errorf("fake Centrifugo: %s", e)
	}
}
