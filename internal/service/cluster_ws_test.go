package service_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tickerd/tickerd/internal/sim"
)

// wsMsg is any server message, with the fields these tests read.
type wsMsg struct {
	Type      string   `json:"type"`
	Symbol    string   `json:"symbol"`
	Seq       uint64   `json:"seq"`
	Symbols   []string `json:"symbols"`
	Epoch     string   `json:"epoch"`
	Recovered []string `json:"recovered"`
	Code      string   `json:"code"`
}

// wsClient is a websocket client whose reader goroutine hands every
// message to msgs, until the connection ends (then msgs is closed).
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	msgs chan wsMsg
}

func dialWS(t *testing.T, base, query string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	u := "ws" + strings.TrimPrefix(base, "http") + "/ws" + query
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{}}})
	if err != nil {
		t.Fatalf("websocket.Dial(%s) = %v", u, err)
	}
	c := &wsClient{t: t, conn: conn, msgs: make(chan wsMsg, 1024)}
	done := make(chan struct{})
	// Exits when the connection ends: closed below, or by the server.
	go func() {
		defer close(done)
		defer close(c.msgs)
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			var m wsMsg
			if err := json.Unmarshal(data, &m); err != nil {
				t.Errorf("server message %q: %v", data, err)
				return
			}
			c.msgs <- m
		}
	}()
	t.Cleanup(func() { conn.CloseNow(); <-done })
	return c
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	data, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(c.t.Context(), testTimeout)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, data); err != nil {
		c.t.Fatalf("websocket Write(%s) = %v", data, err)
	}
}

// next returns the next message satisfying cond; it fails the test if
// the connection ends first or testTimeout passes. Messages skipped are
// passed to each, when not nil.
func (c *wsClient) next(what string, cond func(wsMsg) bool, each func(wsMsg)) wsMsg {
	c.t.Helper()
	timeout := time.After(testTimeout)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				c.t.Fatalf("connection ended waiting for %s", what)
			}
			if each != nil {
				each(m)
			}
			if cond(m) {
				return m
			}
		case <-timeout:
			c.t.Fatalf("no %s within %v", what, testTimeout)
		}
	}
}

// seqChecker fails the test when a quote's seq does not grow strictly per
// symbol, or a reset arrives: on one connection, across a failover, seqs
// may skip but never repeat or go back.
func seqChecker(t *testing.T, name string) func(wsMsg) {
	last := map[string]uint64{}
	return func(m wsMsg) {
		switch m.Type {
		case "quote":
			if m.Seq <= last[m.Symbol] {
				t.Errorf("%s: %s seq %d after %d", name, m.Symbol, m.Seq, last[m.Symbol])
			}
			last[m.Symbol] = m.Seq
		case "reset":
			t.Errorf("%s: reset %+v, want none (the epoch did not change)", name, m)
		}
	}
}

// TestClusterWebsocket: three instances on one NATS; websocket clients of
// every instance see one epoch and one sequence of seqs; a dynamic
// symbol asked for on a follower is collected by the leader and reaches
// the client; when the leader stops, clients of the others see the seqs
// go on without a repeat or a reset; a client that reconnects to another
// instance with "since" gets no quote it had, and the newer ones.
func TestClusterWebsocket(t *testing.T) {
	natsURL := startNATS(t)
	up := startUpstream(t, sim.New(&sim.Options{Seed: 5}))
	names := []string{"a", "b", "c"}
	insts := map[string]*running{}
	for _, n := range names {
		cfg := clusterConfig(natsURL, up.url, n, []string{"AAPL", "MSFT"})
		cfg.Websocket.DynamicSymbols, cfg.Websocket.MaxDynamicSymbols = true, 10
		insts[n] = start(t, cfg, nil)
	}
	var view clusterView
	until(t, "no leader, or not every instance ready", func() bool {
		for _, r := range insts {
			if code, _ := r.get(t, "/readyz"); code != http.StatusOK {
				return false
			}
		}
		insts["a"].getJSON(t, "/api/cluster", &view)
		return view.Leader != ""
	})
	var followers []string
	for _, n := range names {
		if n != view.Leader {
			followers = append(followers, n)
		}
	}

	clients := map[string]*wsClient{}
	checks := map[string]func(wsMsg){}
	for _, n := range names {
		c := dialWS(t, insts[n].url, "")
		c.send(map[string]any{"op": "subscribe", "symbols": []string{"AAPL", "MSFT"}})
		sub := c.next("subscribed", func(m wsMsg) bool { return m.Type == "subscribed" }, nil)
		if sub.Epoch != view.Epoch {
			t.Errorf("instance %s: subscribed epoch %q, want the bucket's %q", n, sub.Epoch, view.Epoch)
		}
		clients[n], checks[n] = c, seqChecker(t, "client of "+n)
		c.next("AAPL seq 2", func(m wsMsg) bool { return m.Type == "quote" && m.Symbol == "AAPL" && m.Seq >= 2 }, checks[n])
	}

	// A dynamic symbol asked for on a follower: the leader collects it.
	dyn := clients[followers[0]]
	dyn.send(map[string]any{"op": "subscribe", "symbols": []string{"DYNA"}})
	dyn.next("a DYNA quote", func(m wsMsg) bool {
		if m.Type == "error" {
			t.Fatalf("subscribe DYNA on a follower: error %+v", m)
		}
		return m.Type == "quote" && m.Symbol == "DYNA"
	}, checks[followers[0]])

	// The leader stops (and resigns): clients of the others carry on.
	if err := insts[view.Leader].stop(t); err != nil {
		t.Fatalf("leader Run() = %v", err)
	}
	var lastSeq uint64
	for _, n := range followers {
		seen := 0
		// A few quotes past the handover, every one checked.
		m := clients[n].next("AAPL quotes after the failover", func(m wsMsg) bool {
			if m.Type == "quote" && m.Symbol == "AAPL" {
				seen++
			}
			return seen >= 3
		}, checks[n])
		lastSeq = m.Seq
	}

	// Resume on the other follower from the first follower's last seq.
	from, to := followers[0], followers[1]
	clients[from].conn.CloseNow()
	since, _ := json.Marshal(map[string]any{"epoch": view.Epoch, "seq": map[string]uint64{"AAPL": lastSeq}})
	c := dialWS(t, insts[to].url, "?symbols=AAPL&since="+url.QueryEscape(string(since)))
	check := seqChecker(t, "resumed client")
	sub := c.next("subscribed", func(m wsMsg) bool { return m.Type == "subscribed" }, nil)
	if sub.Epoch != view.Epoch || len(sub.Recovered) != 1 || sub.Recovered[0] != "AAPL" {
		t.Errorf("resumed subscribed = %+v, want epoch %s and AAPL recovered", sub, view.Epoch)
	}
	m := c.next("a quote after resuming", func(m wsMsg) bool { return m.Type == "quote" }, check)
	if m.Symbol != "AAPL" || m.Seq <= lastSeq {
		t.Errorf("first quote after resuming from AAPL seq %d = %+v, want a newer AAPL quote", lastSeq, m)
	}
}
