package fanout

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestNoDataWritePath pins the first framing invariant: the Hub writes
// text frames by hand, so nothing of it may hold a way to coder/websocket's
// data writes (Conn.Write, Conn.Writer), whose frames could cut into the
// Hub's. Only wsConn is held, which lacks them.
func TestNoDataWritePath(t *testing.T) {
	conn := reflect.TypeFor[*websocket.Conn]()
	for _, name := range []string{"Write", "Writer"} {
		if _, ok := conn.MethodByName(name); !ok {
			t.Fatalf("*websocket.Conn has no %s: update this test", name)
		}
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[client](), reflect.TypeFor[Hub](), reflect.TypeFor[entry]()} {
		for i := range typ.NumField() {
			f := typ.Field(i)
			ft := f.Type
			if ft == conn || ft == conn.Elem() {
				t.Errorf("%s.%s is a %v: hold it as a wsConn", typ.Name(), f.Name, ft)
				continue
			}
			if ft.Kind() != reflect.Interface {
				continue
			}
			for _, name := range []string{"Write", "Writer"} {
				if m, ok := ft.MethodByName(name); ok && m.Type.NumIn() > 0 && m.Type.In(0) == reflect.TypeFor[context.Context]() {
					t.Errorf("%s.%s (%v) has %s(ctx, ...): coder/websocket's data writes are reachable", typ.Name(), f.Name, ft, name)
				}
			}
		}
	}
	ws := reflect.TypeFor[wsConn]()
	for _, name := range []string{"Write", "Writer"} {
		if _, ok := ws.MethodByName(name); ok {
			t.Errorf("wsConn has %s: coder/websocket's data writes are reachable", name)
		}
	}
}

// TestNoCompression pins the second: a client offering permessage-deflate
// gets no extension, so the Hub's uncompressed frames are valid.
func TestNoCompression(t *testing.T) {
	src := newFakeSource("AAPL", "MSFT", "GOOG")
	h := newHarness(t, src, nil, nil)
	t.Run("raw_offer", func(t *testing.T) {
		rc := h.dialRaw(t, "?symbols=AAPL", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, permessage-deflate")
		if got := rc.resp.Header.Values("Sec-WebSocket-Extensions"); len(got) != 0 {
			t.Fatalf("handshake Sec-WebSocket-Extensions = %q, want none", got)
		}
		// The first frame is plain: RSV1 (compressed) clear.
		_ = rc.conn.SetReadDeadline(time.Now().Add(waitLimit))
		f, err := readRawFrame(rc.br)
		if err != nil || f.op != wsOpText || !bytes.Contains(f.payload, []byte(`"subscribed"`)) {
			t.Fatalf("readRawFrame() = %#x %q, %v, want an uncompressed subscribed", f.op, f.payload, err)
		}
	})
	for sym, mode := range map[string]websocket.CompressionMode{"MSFT": websocket.CompressionContextTakeover, "GOOG": websocket.CompressionNoContextTakeover} {
		t.Run(fmt.Sprintf("library_mode_%d", mode), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, h.url("?symbols="+sym), &websocket.DialOptions{CompressionMode: mode})
			if err != nil {
				t.Fatalf("Dial() = %v", err)
			}
			defer c.CloseNow()
			if got := resp.Header.Values("Sec-WebSocket-Extensions"); len(got) != 0 {
				t.Fatalf("handshake Sec-WebSocket-Extensions = %q, want none", got)
			}
			w := &wsClient{t: t, name: "deflate", c: c}
			w.expectSubscribed(sym)
			src.set(t, sym, snapQuote(sym, 1))
			w.expectQuote(sym, 1)
		})
	}
}

// TestOversizeFrameRefusedAtHeader: a frame header announcing a message
// past readLimit closes the connection with 1009 at once, without the
// server reading or waiting for the payload (none is sent here; pings
// are far off, so only the header can have caused the close).
// coder/websocket's read limit alone would wait for readLimit bytes of it.
func TestOversizeFrameRefusedAtHeader(t *testing.T) {
	tests := []struct {
		name  string
		frame []byte // sent as is, unmasked headers made masked below
	}{
		{"len16", header16(wsOpText, true, readLimit+1)},
		{"len64", header64(wsOpText, true, 1<<40)},
		{"len64_top_bit", header64(wsOpBinary, true, 1<<63)},
		{"fragments_add_up", append(append(header16(wsOpText, false, readLimit-10), bytes.Repeat([]byte{0}, readLimit-10)...),
			header7(wsOpCont, true, 11)...)},
	}
	src := newFakeSource("AAPL")
	h := newHarness(t, src, nil, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := h.dialRaw(t, "")
			if _, err := rc.conn.Write(tt.frame); err != nil {
				t.Fatalf("Write() = %v", err)
			}
			_ = rc.conn.SetReadDeadline(time.Now().Add(waitLimit))
			var s serverStream
			for {
				f, err := readRawFrame(rc.br)
				if err != nil {
					t.Fatalf("readRawFrame() = %v, want a close frame 1009", err)
				}
				if _, err := s.add(f); err != nil {
					t.Fatal(err)
				}
				if f.op != wsOpClose {
					continue
				}
				if len(f.payload) < 2 || binary.BigEndian.Uint16(f.payload) != uint16(websocket.StatusMessageTooBig) {
					t.Fatalf("close frame %q, want code 1009", f.payload)
				}
				return
			}
		})
	}
}

// Masked frame headers (a zero mask key) of the three length forms.
func header7(op byte, fin bool, l int) []byte {
	return append([]byte{finBit(fin) | op, 0x80 | byte(l)}, 0, 0, 0, 0)
}

func header16(op byte, fin bool, l int) []byte {
	return append([]byte{finBit(fin) | op, 0x80 | 126, byte(l >> 8), byte(l)}, 0, 0, 0, 0)
}

func header64(op byte, fin bool, l uint64) []byte {
	b := binary.BigEndian.AppendUint64([]byte{finBit(fin) | op, 0x80 | 127}, l)
	return append(b, 0, 0, 0, 0)
}

func finBit(fin bool) byte {
	if fin {
		return 0x80
	}
	return 0
}

// TestFrameGateScan: the gate passes whole streams of frames within the
// limit, however they are cut into reads, and stops right before the
// header of the first message past it (the bytes of it in the same read,
// that is: a header cut across reads has passed in part).
func TestFrameGateScan(t *testing.T) {
	small := append(header7(wsOpText, true, 5), "hello"...)
	ping := append(header7(wsOpPing, true, 3), "abc"...)
	atLimit := append(header16(wsOpText, true, 100), bytes.Repeat([]byte{'x'}, 100)...)
	frag := append(append(header7(wsOpText, false, 60), bytes.Repeat([]byte{'y'}, 60)...), ping...)
	frag = append(append(frag, header7(wsOpCont, true, 40)...), bytes.Repeat([]byte{'z'}, 40)...)
	big := header16(wsOpBinary, true, 101)
	tests := []struct {
		name    string
		stream  []byte
		pass    int // bytes passed; -1: all
		refused bool
	}{
		{"small_ping_limit", concat(small, ping, atLimit), -1, false},
		{"fragments_at_limit", concat(frag, small), -1, false},
		{"big_after_small", concat(small, big, []byte("payload")), len(small), true},
		{"fragments_past_limit", concat(frag[:len(frag)-40-6], header7(wsOpCont, true, 41), []byte("more")), len(frag) - 40 - 6, true},
	}
	for _, tt := range tests {
		want := tt.pass
		if want < 0 {
			want = len(tt.stream)
		}
		for _, chunk := range []int{1, 2, 3, 7, 64, len(tt.stream)} {
			t.Run(fmt.Sprintf("%s_chunk%d", tt.name, chunk), func(t *testing.T) {
				g := frameGate{limit: 100}
				passed, want := 0, want
				for off := 0; off < len(tt.stream) && g.err == nil; off += chunk {
					passed += g.scan(tt.stream[off:min(off+chunk, len(tt.stream))])
					if g.err != nil {
						want = max(want, off) // the header's bytes in earlier reads have passed
					}
				}
				if passed != want || tt.refused != errors.Is(g.err, errTooBig) {
					t.Fatalf("scan() passed %d of %d bytes, err %v; want %d, refused %v", passed, len(tt.stream), g.err, want, tt.refused)
				}
			})
		}
	}
}

func concat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// FuzzFrameGate: whatever a client sends, the gate never panics, passes
// only a prefix of the stream, and decides the same however the stream
// is cut into reads, and frame by frame.
func FuzzFrameGate(f *testing.F) {
	f.Add([]byte{0x81, 0x85, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'}, uint8(1))
	f.Add(header64(wsOpText, true, 1<<62), uint8(3))
	f.Add(concat(header16(wsOpText, false, 50), make([]byte, 50), header7(wsOpCont, true, 60)), uint8(7))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		whole := frameGate{limit: 100}
		n := whole.scan(stream)
		if n > len(stream) || (n < len(stream) && whole.err == nil) {
			t.Fatalf("scan(%d bytes) = %d with err %v, want all or a refusal", len(stream), n, whole.err)
		}
		cut := frameGate{limit: 100}
		step, passed := int(chunk)%16+1, 0
		for off := 0; off < len(stream) && cut.err == nil; off += step {
			passed += cut.scan(stream[off:min(off+step, len(stream))])
		}
		// Cut, a refused header's bytes in earlier reads have passed: at
		// most 13 of them.
		if passed < n || passed > n+13 || (cut.err == nil) != (whole.err == nil) || (whole.err == nil && passed != n) {
			t.Fatalf("scan in %d-byte reads passed %d (err %v), at once %d (err %v)", step, passed, cut.err, n, whole.err)
		}
		// Frame by frame (batchConn.Read's scanFrame), the gate passes
		// what it passes at once, and every call but the last ends at a
		// frame's end.
		one := frameGate{limit: 100}
		off := 0
		for off < len(stream) && one.err == nil {
			k := one.scanFrame(stream[off:])
			off += k
			if k == 0 || off == len(stream) {
				break
			}
			if one.err == nil && !one.atBoundary() {
				t.Fatalf("scanFrame stopped at %d of %d, inside a frame", off, len(stream))
			}
		}
		if off != n || (one.err == nil) != (whole.err == nil) {
			t.Fatalf("scanFrame passed %d (err %v), scan at once %d (err %v)", off, one.err, n, whole.err)
		}
	})
}

// TestFramingStress: clients read the raw TCP stream with the strict
// frame parser while the Hub sends large batches (250 symbols republished
// 5 times a second, more than the clients read under -race), pings, and
// is pinged as often as it answers, and connections close mid-stream: some
// clients send a close, some drop the socket, the rest are closed by the
// Hub's shutdown. Every frame must be valid RFC 6455 framing, whole,
// never interleaved with another, nothing may follow a close frame, and
// every message must be valid JSON of the connection's mode, with seqs
// that never go down.
func TestFramingStress(t *testing.T) {
	syms := manySymbols(250)
	src := newFakeSource(syms...)
	for _, s := range syms {
		src.set(t, s, snapQuote(s, 1))
	}
	h := newHarness(t, src, &Options{PingInterval: 2 * time.Second, WriteTimeout: 5 * time.Second, MaxSymbolsPerClient: len(syms), SendBuffer: 8 << 10}, nil)

	stopPub := make(chan struct{})
	pubDone := make(chan struct{})
	// Exits when stopPub is closed.
	go func() {
		defer close(pubDone)
		tick := time.NewTicker(200 * time.Millisecond) // paces the rounds: 1,250 quotes/s, each round about 50 KB per client
		defer tick.Stop()
		for seq := uint64(2); ; seq++ {
			for _, s := range syms {
				src.set(t, s, snapQuote(s, seq))
			}
			select {
			case <-stopPub:
				return
			case <-tick.C:
			}
		}
	}()

	const minMessages = 1000 // read by each client before it closes, or before shutdown
	type kind int
	const (
		closer  kind = iota // sends a close frame
		dropper             // drops the socket
		stayer              // closed by the Hub's shutdown
	)
	type result struct {
		name string
		err  error
		code uint16 // the server's close code; 0 for a dropper
	}
	const clients = 6
	results := make(chan result, clients)
	enough := make(chan struct{}, clients) // a stayer has read minMessages and answered a ping
	var wg sync.WaitGroup
	stayers := 0
	for i := range clients {
		k := kind(i % 3)
		if k == stayer {
			stayers++
		}
		// Stayers read in batch mode: under -race a client reading a frame
		// per message falls so far behind that the server's pings are not
		// answered within PingInterval, and the Hub rightly drops it.
		batch := i%2 == 0 || k == stayer
		q := "?symbols=*"
		if batch {
			q += "&batch=1"
		}
		rc := h.dialRaw(t, q)
		// Small buffers on both sides (SendBuffer above) keep what waits
		// for the client, and so the round trip of the server's pings,
		// short even when -race makes the client slow.
		_ = rc.conn.(*net.TCPConn).SetReadBuffer(8 << 10)
		name := fmt.Sprintf("client%d(kind %d, batch %v)", i, k, batch)
		wg.Add(1)
		// Exits when the connection has ended: after the server's close
		// frame and EOF, after a drop, or on the first violation.
		go func() {
			defer wg.Done()
			code, err := rc.stress(k == closer, k == dropper, k == stayer, batch, minMessages, enough)
			results <- result{name, err, code}
		}()
	}
	for range stayers {
		select {
		case <-enough:
		case <-time.After(4 * waitLimit):
			t.Fatal("stayers did not read enough messages")
		}
	}
	h.stop() // closes the stayers with 1001, in the middle of batches
	close(stopPub)
	<-pubDone
	wg.Wait()
	close(results)
	for r := range results {
		if r.err != nil {
			t.Errorf("%s: %v", r.name, r.err)
		}
	}
}

// stress runs one client of TestFramingStress over rc and returns the
// server's close code. It answers every ping, sends a ping every 10th
// message once the last one is answered (each pong waits behind the
// frames queued before it, and the server's reader answers one ping at
// a time), and, after minMessages messages, closes (closer), drops the
// socket (dropper), or, once it has answered a ping of the server too,
// signals enough and reads on until the server closes (stayer).
func (rc *rawClient) stress(closer, dropper, stayer bool, batch bool, minMessages int, enough chan<- struct{}) (code uint16, err error) {
	defer rc.conn.Close()
	signalled := !stayer
	defer func() {
		if !signalled { // ended early: the test reports err
			enough <- struct{}{}
		}
	}()
	if err := rc.writeFrame(wsOpText, true, []byte(`{"op":"subscribe","symbols":["*"]}`)); err != nil {
		return 0, err
	}
	_ = rc.conn.SetReadDeadline(time.Now().Add(4 * waitLimit))
	var s serverStream
	seqs := make(map[string]uint64)
	pings := make(map[string]int) // payload of each ping sent: its number
	sent, answered := 0, 0        // pings sent; the number of the last one answered
	msgs, serverPings := 0, 0
	closing := false // our close frame is sent
	for {
		f, err := readRawFrame(rc.br)
		if err != nil {
			if s.closed && errors.Is(err, io.EOF) {
				return code, nil // the server closed the socket after its close frame
			}
			return code, fmt.Errorf("readRawFrame() after %d messages = %w", msgs, err)
		}
		m, err := s.add(f)
		if err != nil {
			return code, err
		}
		switch f.op {
		case wsOpPing:
			// Not answered after our close: the server closes the socket
			// once it has read our close, and bytes it has not read would
			// make that a reset.
			if !closing {
				if err := rc.writeFrame(wsOpPong, true, f.payload); err != nil {
					return code, fmt.Errorf("write pong: %w", err)
				}
				if serverPings++; stayer && !signalled && serverPings >= 1 && msgs >= minMessages {
					signalled = true
					enough <- struct{}{}
				}
			}
		case wsOpPong:
			n, ok := pings[string(f.payload)]
			if !ok || n <= answered {
				return code, fmt.Errorf("pong %q answers no outstanding ping (last answered %d)", f.payload, answered)
			}
			answered = n
		case wsOpClose:
			code = binary.BigEndian.Uint16(f.payload)
			// 1000 echoes a closer's close, unless the shutdown's 1001 came
			// first; 1001 closes the others.
			if code != uint16(websocket.StatusGoingAway) && (!closer || code != uint16(websocket.StatusNormalClosure)) {
				return code, fmt.Errorf("close code %d, want 1001 (or 1000 after a close of ours)", code)
			}
			if !closing {
				_ = rc.writeFrame(wsOpClose, true, f.payload[:2]) // the echo; the server may have gone already
				closing = true
			}
		case wsOpText:
			n, err := checkMessages(m, batch, seqs)
			if err != nil {
				return code, err
			}
			before := msgs
			msgs += n
			if before/10 != msgs/10 && !closing && answered == sent {
				sent++
				p := fmt.Sprintf("%d:", sent) // unique, of 2 to 125 bytes
				p += strings.Repeat("x", max(0, (sent*7)%126-len(p)))
				pings[p] = sent
				if err := rc.writeFrame(wsOpPing, true, []byte(p)); err != nil {
					return code, fmt.Errorf("write ping: %w", err)
				}
			}
			if before < minMessages && msgs >= minMessages {
				switch {
				case closer:
					closing = true
					if err := rc.writeFrame(wsOpClose, true, []byte{0x03, 0xe8, 'b', 'y', 'e'}); err != nil {
						return code, fmt.Errorf("write close: %w", err)
					}
				case dropper:
					if tc, ok := rc.conn.(*net.TCPConn); ok {
						_ = tc.SetLinger(0) // RST, in the middle of whatever the server sends
					}
					return 0, nil
				case stayer && serverPings >= 1:
					signalled = true
					enough <- struct{}{}
				}
			}
		}
	}
}

// checkMessages decodes a text frame's payload: one message, or with
// batch a non-empty array of them, each with a type; a quote's seq must
// not go down for its symbol. It returns how many messages it held.
func checkMessages(b []byte, batch bool, seqs map[string]uint64) (int, error) {
	// Only the fields checked: decoding is most of the client's work.
	type message struct {
		Type   string `json:"type"`
		Symbol string `json:"symbol"`
		Seq    uint64 `json:"seq"`
	}
	var ms []message
	if batch {
		if err := json.Unmarshal(b, &ms); err != nil || len(ms) == 0 {
			return 0, fmt.Errorf("batch frame %.80q: %v, want a non-empty JSON array", b, err)
		}
	} else {
		var m message
		if err := json.Unmarshal(b, &m); err != nil {
			return 0, fmt.Errorf("frame %.80q: %v, want a JSON object", b, err)
		}
		ms = []message{m}
	}
	for _, m := range ms {
		switch m.Type {
		case "":
			return 0, fmt.Errorf("message without a type in %.80q", b)
		case "quote":
			if m.Seq < seqs[m.Symbol] {
				return 0, fmt.Errorf("quote %s seq %d after seq %d", m.Symbol, m.Seq, seqs[m.Symbol])
			}
			seqs[m.Symbol] = m.Seq
		}
	}
	return len(ms), nil
}
