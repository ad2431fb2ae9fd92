package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Centrifugo's client protocol (JSON, one command or reply a line, several
// lines a frame), as far as tickload speaks it:
//
//	-> {"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"S0001"}}\n...
//	<- {"id":1,"connect":{"client":"...","ping":25,"pong":true}}\n{"id":2,"subscribe":{}}
//	<- {"push":{"channel":"S0001","pub":{"data":{...quote...}}}}\n{"push":...}
//	<- {}                                    (a ping)
//	-> {}                                    (its pong)
//
// The publications' data is a tickerd quote without its "type" (see
// appendQuoteData), so a publication's latency is its arrival minus its
// collected_at, as for tickerd.

// The fixed parts of a publication push as Centrifugo lays it out.
const (
	pushPrefix = `{"push":{"channel":"`
	pubData    = `","pub":{"data":`
	pushSuffix = `}}}` // closes pub, push and the reply, after the data
)

// ping is a Centrifugo ping, and the pong that answers it.
var ping = []byte(`{}`)

// parsePush reads a publication push line: its channel (as symbol, aliasing
// line) and its data's collected_at and seq, with typ "quote". Other pushes
// (join, leave, unsubscribe, ...) give a message with typ "". It reads
// the layout Centrifugo writes without decoding the JSON, and falls back
// to looking the keys up anywhere in the line.
func parsePush(line []byte) (message, error) {
	if rest, ok := bytes.CutPrefix(line, []byte(pushPrefix)); ok {
		i := bytes.IndexByte(rest, '"')
		if i > 0 && bytes.HasPrefix(rest[i:], []byte(pubData)) && bytes.HasSuffix(line, []byte(pushSuffix)) {
			from := len(pushPrefix) + i + len(pubData)
			if at, seq, ok := quoteTail(line[:len(line)-len(pushSuffix)], from); ok {
				return message{typ: "quote", symbol: rest[:i], collectedAt: at, seq: seq}, nil
			}
		}
	}
	if !bytes.HasPrefix(line, []byte(`{"push":`)) {
		return message{}, errMessage
	}
	if !bytes.Contains(line, []byte(`"pub":`)) {
		return message{}, nil // not a publication
	}
	ch, ok := stringField(line, `"channel":"`)
	if !ok || len(ch) == 0 {
		return message{}, errMessage
	}
	at, ok := stringField(line, collectedKey)
	if !ok {
		return message{}, errMessage
	}
	t, ok := parseTime(at)
	if !ok {
		return message{}, errMessage
	}
	seq, ok := numberField(line, `"seq":`)
	if !ok {
		return message{}, errMessage
	}
	return message{typ: "quote", symbol: ch, collectedAt: t, seq: seq}, nil
}

// lines returns the lines of a Centrifugo frame, without their newlines,
// skipping empty ones. The lines alias b.
func lines(b []byte) func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			line := b
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				line, b = b[:i], b[i+1:]
			} else {
				b = nil
			}
			if len(line) > 0 && line[len(line)-1] == '\r' {
				line = line[:len(line)-1]
			}
			if len(line) > 0 && !yield(line) {
				return
			}
		}
	}
}

// centrifugoConnect is the first frame a Centrifugo client sends: connect,
// then one subscribe per channel, ids 1, 2, ...
func centrifugoConnect(channels []string) []byte {
	b := []byte(`{"id":1,"connect":{}}`)
	for i, ch := range channels {
		name, _ := json.Marshal(ch) // a string always encodes
		b = fmt.Appendf(b, "\n{\"id\":%d,\"subscribe\":{\"channel\":%s}}", i+2, name)
	}
	return b
}

// connectCentrifugo dials, connects and subscribes to every channel in one
// frame, and waits for all the replies, within ctx. Publications and pings
// arriving meanwhile are handled as readLoop does.
func (c *loadClient) connectCentrifugo(ctx context.Context, t *tally) (*websocket.Conn, error) {
	conn, _, err := websocket.Dial(ctx, c.url, &websocket.DialOptions{HTTPClient: c.http})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	if err := conn.Write(ctx, websocket.MessageText, centrifugoConnect(c.symbols)); err != nil {
		conn.CloseNow()
		return nil, fmt.Errorf("connect: %w", err)
	}
	for replies := 0; replies < len(c.symbols)+1; {
		if err := c.read(ctx, conn); err != nil {
			conn.CloseNow()
			return nil, fmt.Errorf("connect: %w", err)
		}
		n, err := c.centrifugoFrame(ctx, conn, t)
		if err != nil {
			conn.CloseNow()
			return nil, fmt.Errorf("connect: %w", err)
		}
		replies += n
	}
	return conn, nil
}

// centrifugoFrame handles the frame in c.buf: it counts publications into
// t, answers pings, and returns the number of command replies, or an error
// for a reply that is an error.
func (c *loadClient) centrifugoFrame(ctx context.Context, conn *websocket.Conn, t *tally) (replies int, err error) {
	now := time.Now()
	pong := false
	for line := range lines(c.buf) {
		switch {
		case bytes.Equal(line, ping):
			pong = true
		case bytes.HasPrefix(line, []byte(`{"push":`)):
			m, err := parsePush(line)
			if err != nil {
				t.badMessages.Add(1)
				continue
			}
			if m.typ == "quote" {
				c.quote(m, now, t, false)
			}
		case bytes.HasPrefix(line, []byte(`{"id":`)):
			if bytes.Contains(line, []byte(`,"error":`)) {
				return replies, fmt.Errorf("server answered %s", line)
			}
			replies++
		default:
			t.badMessages.Add(1)
		}
	}
	if pong {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := conn.Write(wctx, websocket.MessageText, ping); err != nil {
			return replies, fmt.Errorf("pong: %w", err)
		}
		t.pongs.Add(1)
	}
	return replies, nil
}

// publisher publishes one quote per channel every second through
// Centrifugo's HTTP API, one /api/batch request per pulse, as tickerd's
// collector pulses its symbols. Its counters are safe for concurrent use;
// the rest is owned by the goroutine running run.
type publisher struct {
	api      string // Centrifugo's API endpoint, e.g. http://127.0.0.1:18000/api
	key      string // its X-API-Key
	channels []string
	http     *http.Client

	pulses atomic.Int64 // batches Centrifugo accepted whole
	errors atomic.Int64 // batches that failed, and publishes Centrifugo refused in accepted ones

	prices []float64 // by channel
	body   []byte    // the request being built, reused
}

func newPublisher(api, key string, channels []string) *publisher {
	p := &publisher{api: api, key: key, channels: channels, prices: make([]float64, len(channels)),
		http: &http.Client{Transport: &http.Transport{}}}
	for i := range p.prices {
		p.prices[i] = 100 + float64(i%50)
	}
	return p
}

// run publishes a pulse every second until ctx ends; each request is
// bounded by the pulse interval, so at most one is in flight. Pulses whose
// time came while a request was still in flight are skipped, as tickerd's
// cron skips a busy job.
func (p *publisher) run(ctx context.Context) {
	defer p.http.CloseIdleConnections()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for seq := uint64(1); ; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := p.publish(ctx, seq); err != nil && ctx.Err() == nil {
			p.errors.Add(1)
		}
	}
}

// publish sends one pulse: a quote with the given seq for every channel,
// stamped now.
func (p *publisher) publish(ctx context.Context, seq uint64) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	now := time.Now()
	b := append(p.body[:0], `{"commands":[`...)
	for i, ch := range p.channels {
		if i > 0 {
			b = append(b, ',')
		}
		// A deterministic walk: enough to look like a quote.
		prev := p.prices[i]
		p.prices[i] = math.Max(1, prev+float64(int(seq+uint64(i))%7-3)/100)
		b = append(b, `{"publish":{"channel":`...)
		b = strconv.AppendQuote(b, ch)
		b = append(b, `,"data":`...)
		b = appendQuoteData(b, ch, p.prices[i], p.prices[i]-prev, now, seq)
		b = append(b, `}}`...)
	}
	b = append(b, `]}`...)
	p.body = b
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.api+"/batch", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", p.key)
	resp, err := p.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s/batch: status %d", p.api, resp.StatusCode)
	}
	if n := bytes.Count(body, []byte(`"error":`)); n > 0 {
		p.errors.Add(int64(n))
		return nil
	}
	p.pulses.Add(1)
	return nil
}

// appendQuoteData appends the JSON of a quote as tickerd's websocket API
// lays out a quote of its embedded simulator (bench/fanout.sh's source),
// without its "type": symbol, price, change, change_pct, volume, time,
// prev_close, market_status, collected_at and seq, in that order. So a
// Centrifugo client reads the same fields per quote as a tickerd client.
func appendQuoteData(b []byte, sym string, price, change float64, at time.Time, seq uint64) []byte {
	b = append(b, `{"symbol":`...)
	b = strconv.AppendQuote(b, sym)
	b = append(b, `,"price":`...)
	b = strconv.AppendFloat(b, price, 'f', 2, 64)
	b = append(b, `,"change":`...)
	b = strconv.AppendFloat(b, change, 'f', 2, 64)
	b = append(b, `,"change_pct":`...)
	b = strconv.AppendFloat(b, 100*change/(price-change), 'f', 2, 64)
	b = append(b, `,"volume":`...)
	b = strconv.AppendUint(b, 1000*seq, 10)
	ts := at.UTC()
	b = append(b, `,"time":"`...)
	b = ts.Truncate(time.Second).AppendFormat(b, timeLayout)
	b = append(b, `","prev_close":`...)
	b = strconv.AppendFloat(b, price-change, 'f', 2, 64)
	b = append(b, `,"market_status":"Open","collected_at":"`...)
	b = ts.AppendFormat(b, timeLayout)
	b = append(b, `","seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	return append(b, '}')
}

// timeLayout is tickerd's time format: RFC 3339 in UTC, nine fractional
// digits.
const timeLayout = "2006-01-02T15:04:05.000000000Z"
