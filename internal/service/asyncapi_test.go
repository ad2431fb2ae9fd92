package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/getkin/kin-openapi/openapi3"
	"gopkg.in/yaml.v3"

	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/fanout"
	"github.com/tickerd/tickerd/internal/service"
	"github.com/tickerd/tickerd/internal/sim"
)

// asyncPath is the websocket API's AsyncAPI document, from this package.
const asyncPath = "../../docs/asyncapi.yaml"

// asyncMaxClientMessage is the largest client message, as the spec's
// description says (a larger one closes the connection).
const asyncMaxClientMessage = 4096

// asyncChannel is the spec's one channel, GET /ws.
const asyncChannel = "ws"

// asyncSpec is docs/asyncapi.yaml made checkable. There is no well-kept
// AsyncAPI 3 parser in Go; the spec's schemas are plain JSON Schema, and their
// $refs (#/components/schemas/...) mean the same in an OpenAPI 3.1
// document: so components.schemas is loaded as one with kin-openapi, and
// every message is validated with its JSON Schema 2020-12 validation
// (openapi3.EnableJSONSchema2020). The rest of the document (channel,
// messages, operations) is checked by hand in parseAsyncSpec. Read-only
// once loaded.
type asyncSpec struct {
	payload map[string]*openapi3.Schema // message id -> its payload schema
	server  map[string]string           // a server message's type -> its message id
	client  map[string]string           // a client message's op -> its message id
	batch   string                      // the message id of a batch frame
	query   *openapi3.Schema            // the channel's ws binding query
	order   map[string][]string         // message id -> its payload's properties, in the spec's order
	codes   []string                    // the error message's codes
	// examples are the messages' examples, as JSON (their fields
	// reordered: Go sorts a map's keys).
	examples []asyncExample
}

// asyncExample is an example of message id.
type asyncExample struct {
	id   string
	data []byte
}

// loadAsyncSpec reads docs/asyncapi.yaml.
func loadAsyncSpec(t *testing.T) (*asyncSpec, []byte) {
	t.Helper()
	data, err := os.ReadFile(asyncPath)
	if err != nil {
		t.Fatalf("read %s: %v", asyncPath, err)
	}
	s, err := parseAsyncSpec(t.Context(), data)
	if err != nil {
		t.Fatalf("%s: %v", asyncPath, err)
	}
	return s, data
}

// parseAsyncSpec checks an AsyncAPI document for one channel and compiles
// its messages' payloads.
func parseAsyncSpec(ctx context.Context, data []byte) (*asyncSpec, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	var raw struct {
		AsyncAPI   string `yaml:"asyncapi"`
		Channels   map[string]asyncChannelDoc
		Operations map[string]struct {
			Action   string
			Channel  asyncRef
			Messages []asyncRef
			Reply    *struct {
				Channel  asyncRef
				Messages []asyncRef
			}
		}
		Components struct {
			Messages map[string]struct {
				Name     string
				Payload  asyncRef
				Examples []struct{ Payload any }
			}
			Schemas map[string]any
		}
	}
	if err := root.Decode(&raw); err != nil {
		return nil, err
	}
	if raw.AsyncAPI != "3.0.0" {
		return nil, fmt.Errorf("asyncapi %q, want 3.0.0", raw.AsyncAPI)
	}
	ch, ok := raw.Channels[asyncChannel]
	if !ok || len(raw.Channels) != 1 || ch.Address != "/ws" {
		return nil, fmt.Errorf("channels %v, want one, %s at /ws", slices.Sorted(maps.Keys(raw.Channels)), asyncChannel)
	}

	// components.schemas as an OpenAPI 3.1 document.
	wrapper, err := json.Marshal(map[string]any{
		"openapi":    "3.1.0",
		"info":       map[string]any{"title": "schemas of " + asyncPath, "version": "1"},
		"paths":      map[string]any{},
		"components": map[string]any{"schemas": raw.Components.Schemas},
	})
	if err != nil {
		return nil, fmt.Errorf("components.schemas: %w", err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(wrapper)
	if err != nil {
		return nil, fmt.Errorf("load components.schemas: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("components.schemas: %w", err)
	}
	schemaOf := func(ref asyncRef) (string, *openapi3.Schema, error) {
		name, ok := strings.CutPrefix(ref.Ref, "#/components/schemas/")
		sr := doc.Components.Schemas[name]
		if !ok || sr == nil || sr.Value == nil {
			return "", nil, fmt.Errorf("$ref %q: want #/components/schemas/<a schema>", ref.Ref)
		}
		return name, sr.Value, nil
	}

	s := &asyncSpec{
		payload: make(map[string]*openapi3.Schema),
		server:  make(map[string]string),
		client:  make(map[string]string),
		order:   make(map[string][]string),
	}
	if _, s.query, err = schemaOf(ch.Bindings.WS.Query); err != nil {
		return nil, fmt.Errorf("channels.%s.bindings.ws.query: %w", asyncChannel, err)
	}
	if ch.Bindings.WS.Method != http.MethodGet {
		return nil, fmt.Errorf("channels.%s.bindings.ws.method %q, want GET", asyncChannel, ch.Bindings.WS.Method)
	}
	schemaNames := make(map[string]string) // message id -> schema name
	for id, ref := range ch.Messages {
		name, ok := strings.CutPrefix(ref.Ref, "#/components/messages/")
		m, found := raw.Components.Messages[name]
		if !ok || !found {
			return nil, fmt.Errorf("channels.%s.messages.%s: $ref %q: no such message", asyncChannel, id, ref.Ref)
		}
		if m.Name != id {
			return nil, fmt.Errorf("message %s: name %q, want %q", id, m.Name, id)
		}
		if schemaNames[id], s.payload[id], err = schemaOf(m.Payload); err != nil {
			return nil, fmt.Errorf("message %s: payload: %w", id, err)
		}
		for i, ex := range m.Examples {
			b, err := json.Marshal(ex.Payload)
			if err != nil {
				return nil, fmt.Errorf("message %s: example %d: %w", id, i, err)
			}
			s.examples = append(s.examples, asyncExample{id, b})
		}
	}

	// The operations: receive takes client messages, send and replies
	// give server messages; each message goes one way only.
	way := make(map[string]string) // message id -> "client" or "server"
	note := func(where string, ref asyncRef, w string) error {
		id, ok := strings.CutPrefix(ref.Ref, "#/channels/"+asyncChannel+"/messages/")
		if _, found := s.payload[id]; !ok || !found {
			return fmt.Errorf("%s: $ref %q: not a message of channel %s", where, ref.Ref, asyncChannel)
		}
		if old, seen := way[id]; seen && old != w {
			return fmt.Errorf("%s: message %s is both a %s and a %s message", where, id, old, w)
		}
		way[id] = w
		return nil
	}
	for name, op := range raw.Operations {
		w := map[string]string{"receive": "client", "send": "server"}[op.Action]
		if w == "" {
			return nil, fmt.Errorf("operations.%s: action %q, want send or receive", name, op.Action)
		}
		if op.Channel.Ref != "#/channels/"+asyncChannel {
			return nil, fmt.Errorf("operations.%s: channel %q, want #/channels/%s", name, op.Channel.Ref, asyncChannel)
		}
		for _, ref := range op.Messages {
			if err := note("operations."+name, ref, w); err != nil {
				return nil, err
			}
		}
		if op.Reply != nil {
			if op.Action != "receive" || op.Reply.Channel.Ref != "#/channels/"+asyncChannel {
				return nil, fmt.Errorf("operations.%s: a reply on %q, want one on #/channels/%s to a receive", name, op.Reply.Channel.Ref, asyncChannel)
			}
			for _, ref := range op.Reply.Messages {
				if err := note("operations."+name+".reply", ref, "server"); err != nil {
					return nil, err
				}
			}
		}
	}

	// Each message is told by its discriminator: a client message by its
	// op, a server message by its type, a batch by being an array.
	props := yamlNodeAt(&root, "components", "schemas")
	for id, p := range s.payload {
		w, ok := way[id]
		if !ok {
			return nil, fmt.Errorf("message %s is in no operation", id)
		}
		if p.Type.Is("array") {
			if w != "server" || s.batch != "" {
				return nil, fmt.Errorf("message %s: an array payload, want only one, a server message (batch)", id)
			}
			s.batch = id
			continue
		}
		key := map[string]string{"client": "op", "server": "type"}[w]
		d := p.Properties[key]
		if d == nil || d.Value == nil || !slices.Contains(p.Required, key) {
			return nil, fmt.Errorf("message %s: its payload has no required %q, want one with a const", id, key)
		}
		v, ok := d.Value.Const.(string)
		if !ok {
			return nil, fmt.Errorf("message %s: %s is not a string const", id, key)
		}
		m := map[string]map[string]string{"client": s.client, "server": s.server}[w]
		if old, dup := m[v]; dup {
			return nil, fmt.Errorf("messages %s and %s have the same %s %q", old, id, key, v)
		}
		m[v] = id
		s.order[id] = append(s.order[id], yamlKeys(yamlNodeAt(props, schemaNames[id], "properties"))...)
	}
	if s.batch == "" {
		return nil, errors.New("no batch message (an array payload)")
	}
	if e := s.payload[s.server["error"]]; e != nil && e.Properties["code"] != nil {
		for _, c := range e.Properties["code"].Value.Enum {
			s.codes = append(s.codes, fmt.Sprint(c))
		}
	}
	return s, nil
}

// asyncRef is a $ref.
type asyncRef struct {
	Ref string `yaml:"$ref"`
}

// asyncChannelDoc is the part of a channel that parseAsyncSpec reads.
type asyncChannelDoc struct {
	Address  string
	Messages map[string]asyncRef
	Bindings struct {
		WS struct {
			Method string
			Query  asyncRef
		} `yaml:"ws"`
	}
}

// yamlNodeAt returns the node at path of mapping keys under n, or nil.
func yamlNodeAt(n *yaml.Node, path ...string) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for _, k := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// yamlKeys returns the keys of a mapping node, in order.
func yamlKeys(n *yaml.Node) []string {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var keys []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	return keys
}

// asyncMsg is one server message as checked, with the fields the test
// reads.
type asyncMsg struct {
	ID        string   `json:"-"` // the spec's message id
	Keys      []string `json:"-"` // its fields, in the order sent
	Type      string   `json:"type"`
	Symbol    string   `json:"symbol"`
	Seq       uint64   `json:"seq"`
	Symbols   []string `json:"symbols"`
	Epoch     string   `json:"epoch"`
	Recovered []string `json:"recovered"`
	Code      string   `json:"code"`
	Unknown   bool     `json:"unknown"`
	Stale     bool     `json:"stale"`
}

// checkFrame validates one frame from the server, a JSON array of
// messages (the batch message) when batch is set, else one message, and
// returns its messages.
func (s *asyncSpec) checkFrame(data []byte, batch bool) ([]asyncMsg, error) {
	if !batch {
		m, err := s.checkServer(data)
		if err != nil {
			return nil, err
		}
		return []asyncMsg{m}, nil
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("batch frame %s: %w", data, err)
	}
	if err := s.payload[s.batch].VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return nil, fmt.Errorf("batch frame %s: %w", data, err)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(data, &items); err != nil {
		return nil, fmt.Errorf("batch frame %s: %w", data, err)
	}
	var out []asyncMsg
	for _, item := range items {
		m, err := s.checkServer(item)
		if err != nil {
			return nil, fmt.Errorf("in a batch: %w", err)
		}
		out = append(out, m)
	}
	return out, nil
}

// checkServer validates one server message against the payload of the
// message its type names, and its fields' order against the order of the
// payload's properties.
func (s *asyncSpec) checkServer(data []byte) (asyncMsg, error) {
	keys, err := jsonObjectKeys(data)
	if err != nil {
		return asyncMsg{}, fmt.Errorf("server message %s: %w", data, err)
	}
	var m asyncMsg
	if err := json.Unmarshal(data, &m); err != nil {
		return asyncMsg{}, fmt.Errorf("server message %s: %w", data, err)
	}
	id, ok := s.server[m.Type]
	if !ok {
		return asyncMsg{}, fmt.Errorf("server message %s: type %q is none of the spec's", data, m.Type)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return asyncMsg{}, fmt.Errorf("server message %s: %w", data, err)
	}
	if err := s.payload[id].VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return asyncMsg{}, fmt.Errorf("%s message %s does not match the spec: %w", id, data, err)
	}
	last := -1
	for _, k := range keys {
		i := slices.Index(s.order[id], k)
		if i < last {
			return asyncMsg{}, fmt.Errorf("%s message %s: %q comes after %q, want the spec's order %q", id, data, k, s.order[id][last], s.order[id])
		}
		last = i
	}
	m.ID, m.Keys = id, keys
	return m, nil
}

// checkClient validates a client message against the payload of the
// message its op names, and returns that message's id.
func (s *asyncSpec) checkClient(data []byte) (string, error) {
	if len(data) > asyncMaxClientMessage {
		return "", fmt.Errorf("client message of %d bytes, want at most %d", len(data), asyncMaxClientMessage)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return "", fmt.Errorf("client message %s is not JSON: %w", data, err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return "", fmt.Errorf("client message %s is not a JSON object", data)
	}
	op, _ := obj["op"].(string)
	id, ok := s.client[op]
	if !ok {
		return "", fmt.Errorf("client message %s: op %q is none of the spec's", data, op)
	}
	if err := s.payload[id].VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return "", fmt.Errorf("%s message %s does not match the spec: %w", id, data, err)
	}
	return id, nil
}

// checkQuery validates the query of an upgrade request against the
// channel's ws binding, and its since, if any, against the subscribe's.
func (s *asyncSpec) checkQuery(q url.Values) error {
	v := make(map[string]any)
	for k, vals := range q {
		if len(vals) != 1 {
			return fmt.Errorf("query %s given %d times, want once", k, len(vals))
		}
		v[k] = vals[0]
	}
	if err := s.query.VisitJSON(v); err != nil {
		return fmt.Errorf("query %s does not match the spec: %w", q.Encode(), err)
	}
	if since, ok := q["since"]; ok {
		var sv any
		if err := json.Unmarshal([]byte(since[0]), &sv); err != nil {
			return fmt.Errorf("query since %s is not JSON: %w", since[0], err)
		}
		if err := s.payload[s.client["subscribe"]].Properties["since"].Value.VisitJSON(sv, openapi3.EnableJSONSchema2020()); err != nil {
			return fmt.Errorf("query since %s does not match the spec: %w", since[0], err)
		}
	}
	return nil
}

// jsonObjectKeys returns the keys of a JSON object, in order.
func jsonObjectKeys(data []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// asyncFrame is a frame a client sent or got, kept to check mutated specs
// against.
type asyncFrame struct {
	data   []byte
	batch  bool // a server frame of a ?batch=1 client
	client bool // a message the client sent
}

// asyncSeen notes what the clients of a test sent and got. Safe for
// concurrent use.
type asyncSeen struct {
	mu     sync.Mutex
	msgs   map[string]bool            // message ids
	fields map[string]map[string]bool // server message id -> fields seen
	codes  map[string]bool            // error codes
	frames []asyncFrame
}

func newAsyncSeen() *asyncSeen {
	return &asyncSeen{msgs: make(map[string]bool), fields: make(map[string]map[string]bool), codes: make(map[string]bool)}
}

func (s *asyncSeen) frame(f asyncFrame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frames = append(s.frames, f)
}

func (s *asyncSeen) message(id string, m *asyncMsg) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs[id] = true
	if m == nil {
		return
	}
	if s.fields[id] == nil {
		s.fields[id] = make(map[string]bool)
	}
	for _, k := range m.Keys {
		s.fields[id][k] = true
	}
	if m.Code != "" {
		s.codes[m.Code] = true
	}
}

// asyncClient is a websocket client whose reader goroutine validates every
// frame against the spec and hands each message to msgs, until the
// connection ends.
type asyncClient struct {
	t     *testing.T
	name  string
	spec  *asyncSpec
	seen  *asyncSeen
	batch bool
	conn  *websocket.Conn
	msgs  chan asyncMsg
}

// dialAsync connects to the service at base with query q, which must
// match the spec.
func dialAsync(t *testing.T, name string, spec *asyncSpec, seen *asyncSeen, base string, q url.Values) *asyncClient {
	t.Helper()
	if err := spec.checkQuery(q); err != nil {
		t.Errorf("%s: %v", name, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	u := "ws" + strings.TrimPrefix(base, "http") + "/ws?" + q.Encode()
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{}}})
	if err != nil {
		t.Fatalf("websocket.Dial(%s) = %v", u, err)
	}
	c := &asyncClient{t: t, name: name, spec: spec, seen: seen, batch: q.Get("batch") == "1", conn: conn, msgs: make(chan asyncMsg, 1024)}
	done, quit := make(chan struct{}), make(chan struct{})
	// Exits when the connection ends (closed by the cleanup, or by the
	// server) or, blocked on msgs, when the cleanup closes quit.
	go func() {
		defer close(done)
		for {
			typ, data, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			if typ != websocket.MessageText {
				t.Errorf("%s: a %v frame %q, want text", name, typ, data)
				continue
			}
			seen.frame(asyncFrame{data: data, batch: c.batch})
			msgs, err := spec.checkFrame(data, c.batch)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			if c.batch {
				seen.message(spec.batch, nil)
			}
			for _, m := range msgs {
				seen.message(m.ID, &m)
				select {
				case c.msgs <- m:
				case <-quit:
					return
				}
			}
		}
	}()
	t.Cleanup(func() { conn.CloseNow(); close(quit); <-done })
	return c
}

// send sends a client message, which must match the spec when valid is
// set and must not otherwise (the test sends it to see the error).
func (c *asyncClient) send(msg string, valid bool) {
	c.t.Helper()
	id, err := c.spec.checkClient([]byte(msg))
	switch {
	case err != nil && valid:
		c.t.Errorf("%s: %v", c.name, err)
	case err == nil && !valid:
		c.t.Errorf("%s: client message %s matches the spec (%s), want it not to", c.name, msg, id)
	case err == nil:
		c.seen.message(id, nil)
		c.seen.frame(asyncFrame{data: []byte(msg), client: true})
	}
	c.write(websocket.MessageText, []byte(msg))
}

func (c *asyncClient) write(typ websocket.MessageType, data []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), testTimeout)
	defer cancel()
	if err := c.conn.Write(ctx, typ, data); err != nil {
		c.t.Fatalf("%s: websocket Write(%s) = %v", c.name, data, err)
	}
}

// close closes the connection with the close handshake, after which the
// server has sent its last frame.
func (c *asyncClient) close() {
	c.t.Helper()
	if err := c.conn.Close(websocket.StatusNormalClosure, ""); err != nil {
		c.t.Errorf("%s: Close() = %v, want nil", c.name, err)
	}
}

// await returns once each of want has matched a message of its own (in any
// order, skipping the others), with those messages in want's order; it
// fails the test if the connection ends first or testTimeout passes.
func (c *asyncClient) await(what string, want ...func(asyncMsg) bool) []asyncMsg {
	c.t.Helper()
	got := make([]asyncMsg, len(want))
	matched := make([]bool, len(want))
	left := len(want)
	timeout := time.After(testTimeout)
	for left > 0 {
		select {
		case m := <-c.msgs:
			for i, w := range want {
				if !matched[i] && w(m) {
					got[i], matched[i] = m, true
					left--
					break
				}
			}
		case <-timeout:
			c.t.Fatalf("%s: no %s within %v", c.name, what, testTimeout)
		}
	}
	return got
}

func asyncType(typ string) func(asyncMsg) bool {
	return func(m asyncMsg) bool { return m.Type == typ }
}

func asyncQuote(sym string) func(asyncMsg) bool {
	return func(m asyncMsg) bool { return m.Type == "quote" && m.Symbol == sym }
}

func asyncError(code string) func(asyncMsg) bool {
	return func(m asyncMsg) bool { return m.Type == "error" && m.Code == code }
}

// TestAsyncAPI validates real messages of a running service against
// docs/asyncapi.yaml, in single and batch mode: every frame the server
// sends, every client message and query the test sends (those meant to be
// bad must break the spec), every message type and error code the spec
// lists must be seen, and specs broken on purpose must fail on the same
// messages.
func TestAsyncAPI(t *testing.T) {
	spec, specData := loadAsyncSpec(t)
	cfg := testConfig(config.KindSim, "", neverInTest, []string{"AAPL", "MSFT", "NVDA", "ZZZZ"}) // ZZZZ: unknown to the simulator
	cfg.Websocket.MaxSymbolsPerClient = 3
	r := start(t, cfg, &service.Options{Sim: &sim.Options{Seed: 1}})
	b := r.svc.Board()
	waitFirstPulse(t, b, cfg.Symbols)
	seen := newAsyncSeen()
	epoch := b.Epoch()

	// The spec's own examples match it.
	for _, ex := range spec.examples {
		var v any
		if err := json.Unmarshal(ex.data, &v); err != nil {
			t.Fatalf("example of %s %s: %v", ex.id, ex.data, err)
		}
		if err := spec.payload[ex.id].VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
			t.Errorf("example of %s %s does not match its payload: %v", ex.id, ex.data, err)
		}
	}
	if len(spec.examples) < len(spec.payload) {
		t.Errorf("%d examples for %d messages, want one each at least", len(spec.examples), len(spec.payload))
	}

	// a: subscribed on connect, then each op and each error.
	a := dialAsync(t, "a", spec, seen, r.url, url.Values{"symbols": {"AAPL,zzzz"}})
	got := a.await("the subscribe on connect", asyncType("subscribed"), asyncQuote("AAPL"), asyncType("status"))
	if want := []string{"AAPL", "ZZZZ"}; !slices.Equal(got[0].Symbols, want) || got[0].Epoch != epoch {
		t.Errorf("subscribed on connect = %+v, want symbols %q, epoch %q", got[0], want, epoch)
	}
	if st := got[2]; st.Symbol != "ZZZZ" || !st.Unknown {
		t.Errorf("status on connect = %+v, want ZZZZ unknown", st)
	}
	a.send(`{"op":"list"}`, true)
	a.await("list's subscribed", asyncType("subscribed"))
	a.send(`{"op":"subscribe","symbols":["msft"]}`, true)
	a.await("subscribe's subscribed and quote", asyncType("subscribed"), asyncQuote("MSFT"))
	a.send(`{"op":"unsubscribe","symbols":["MSFT"]}`, true)
	if m := a.await("unsubscribe's subscribed", asyncType("subscribed"))[0]; !slices.Equal(m.Symbols, []string{"AAPL", "ZZZZ"}) {
		t.Errorf("unsubscribe MSFT: subscribed %q, want [AAPL ZZZZ]", m.Symbols)
	}

	errorTests := []struct {
		name  string
		msg   string
		valid bool // the message matches the spec (but not the server's state)
		code  string
	}{
		{"not_json", `hello`, false, fanout.CodeBadRequest},
		{"array", `[{"op":"list"}]`, false, fanout.CodeBadRequest},
		{"missing_op", `{"symbols":["AAPL"]}`, false, fanout.CodeBadRequest},
		{"no_symbols", `{"op":"subscribe"}`, false, fanout.CodeBadRequest},
		{"empty_symbols", `{"op":"unsubscribe","symbols":[]}`, false, fanout.CodeBadRequest},
		{"since_on_list", `{"op":"list","since":{"epoch":"` + epoch + `"}}`, false, fanout.CodeBadRequest},
		{"since_without_epoch", `{"op":"subscribe","symbols":["NVDA"],"since":{"seq":{"NVDA":1}}}`, false, fanout.CodeBadRequest},
		{"since_negative_seq", `{"op":"subscribe","symbols":["NVDA"],"since":{"epoch":"` + epoch + `","seq":{"NVDA":-1}}}`, false, fanout.CodeBadRequest},
		{"unknown_op", `{"op":"nope"}`, false, fanout.CodeUnknownOp},
		{"invalid_symbol", `{"op":"subscribe","symbols":["A B"]}`, false, fanout.CodeInvalidSymbol},
		{"unknown_symbol", `{"op":"subscribe","symbols":["NOPE"]}`, true, fanout.CodeUnknownSymbol},
		{"too_many_symbols", `{"op":"subscribe","symbols":["*"]}`, true, fanout.CodeTooManySymbols}, // 2 + 2 of at most 3
	}
	// Not subtests: one connection goes through them in order, and the
	// checks at the end need every one to have run.
	for _, tc := range errorTests {
		a.send(tc.msg, tc.valid)
		if m := a.await(tc.name+"'s error", asyncType("error"))[0]; m.Code != tc.code {
			t.Errorf("%s: %s got error %q, want %q", tc.name, tc.msg, m.Code, tc.code)
		}
	}
	a.write(websocket.MessageBinary, []byte(`{"op":"list"}`))
	a.await("binary frame's error", asyncError(fanout.CodeBadRequest))
	a.send(`{"op":"list"}`, true) // rejected requests changed nothing
	if m := a.await("list's subscribed", asyncType("subscribed"))[0]; !slices.Equal(m.Symbols, []string{"AAPL", "ZZZZ"}) {
		t.Errorf("after the errors: subscribed %q, want [AAPL ZZZZ]", m.Symbols)
	}

	// b: resumes on connect, with since in the query.
	aapl := snapshot(t, b, "AAPL").Quote.Seq
	since := fmt.Sprintf(`{"epoch":%q,"seq":{"AAPL":%d}}`, epoch, aapl)
	bc := dialAsync(t, "b", spec, seen, r.url, url.Values{"symbols": {"AAPL,MSFT"}, "since": {since}})
	if m := bc.await("the resume's subscribed", asyncType("subscribed"), asyncQuote("MSFT"))[0]; !slices.Equal(m.Recovered, []string{"AAPL"}) {
		t.Errorf("resume with %s: recovered %q, want [AAPL]", since, m.Recovered)
	}

	// c: batch mode; resumes with another epoch's since: reset first.
	c := dialAsync(t, "c", spec, seen, r.url, url.Values{"batch": {"1"}})
	other := strings.Repeat("0", 16)
	if other == epoch {
		other = strings.Repeat("1", 16)
	}
	c.send(`{"op":"subscribe","symbols":["AAPL","ZZZZ"],"since":{"epoch":"`+other+`","seq":{"AAPL":1}}}`, true)
	got = c.await("the resume's reset and snapshot", asyncType("reset"), asyncType("subscribed"), asyncQuote("AAPL"), asyncType("status"))
	if got[0].Epoch != epoch || got[1].Recovered == nil || len(got[1].Recovered) != 0 {
		t.Errorf("resume of another epoch: %+v then %+v, want reset to %q and recovered []", got[0], got[1], epoch)
	}
	c.send(`{"op":"subscribe","symbols":["NOPE"]}`, true)
	c.await("unknown_symbol error", asyncError(fanout.CodeUnknownSymbol))

	// A pulse: quotes for everyone.
	pulse(t, r.svc.Collector())
	for _, cl := range []*asyncClient{a, bc, c} {
		cl.await("the pulse's quote", asyncQuote("AAPL"))
	}

	// A new epoch: reset for everyone, then the new epoch's quotes.
	next := board.NewEpoch()
	b.SetEpoch(next)
	for _, cl := range []*asyncClient{a, bc, c} {
		if m := cl.await("reset", asyncType("reset"))[0]; m.Epoch != next {
			t.Errorf("%s: reset to %q, want %q", cl.name, m.Epoch, next)
		}
	}
	pulse(t, r.svc.Collector())
	for _, cl := range []*asyncClient{a, bc, c} {
		cl.await("the new epoch's quote", asyncQuote("AAPL"))
	}

	// MSFT no longer collected: b is told and unsubscribed.
	reloaded := *cfg
	reloaded.Symbols = []string{"AAPL", "NVDA", "ZZZZ"}
	if err := r.svc.Reload(&reloaded); err != nil {
		t.Fatalf("Reload() = %v", err)
	}
	got = bc.await("MSFT's unknown_symbol and subscribed", asyncError(fanout.CodeUnknownSymbol), asyncType("subscribed"))
	if !slices.Equal(got[0].Symbols, []string{"MSFT"}) || !slices.Equal(got[1].Symbols, []string{"AAPL"}) {
		t.Errorf("MSFT removed: %+v then %+v, want an error naming MSFT, then subscribed [AAPL]", got[0], got[1])
	}

	// d: past the op rate (burst 40 at 20/s): rate_limited.
	d := dialAsync(t, "d", spec, seen, r.url, url.Values{})
	d.send(`{"op":"list"}`, true)
	for range 119 { // the same message, checked once: sent as fast as it goes
		d.write(websocket.MessageText, []byte(`{"op":"list"}`))
	}
	d.await("rate_limited error", asyncError(fanout.CodeRateLimited))

	// With auth configured, a token in the query.
	auth := start(t, authConfig(t), nil)
	f := dialAsync(t, "f", spec, seen, auth.url, url.Values{"token": {hs256(t, authSecret, time.Minute)}, "symbols": {"AAPL"}})
	f.await("the subscribe on connect", asyncType("subscribed"), asyncQuote("AAPL"))
	narrow := dialAsync(t, "narrow", spec, seen, auth.url, url.Values{"token": {hs256Claims(t, authSecret, map[string]any{"symbols": []string{"AAPL"}})}})
	narrow.send(`{"op":"subscribe","symbols":["MSFT"]}`, true)
	narrow.await("forbidden error", asyncError(fanout.CodeForbidden))
	narrow.send(`{"op":"auth","token":"not-a-token"}`, true)
	narrow.await("invalid_token error", asyncError(fanout.CodeInvalidToken))
	narrow.send(`{"op":"auth","token":"`+hs256(t, authSecret, time.Hour)+`"}`, true)
	narrow.await("subscribed after a fresh token", asyncType("subscribed"))
	narrow.send(`{"op":"auth"}`, false)
	narrow.await("bad auth op's error", asyncError(fanout.CodeBadRequest))
	soon := dialAsync(t, "soon", spec, seen, auth.url, url.Values{"token": {hs256(t, authSecret, time.Minute)}})
	soon.send(`{"op":"auth","token":"`+hs256(t, authSecret, -time.Hour)+`"}`, true)
	soon.await("token_expired error before the close", asyncError(fanout.CodeTokenExpired))

	// With auth.ws_first_message, no token at the upgrade: an auth op
	// first. The clients the server closes are not closed here.
	firstCfg := authConfig(t)
	firstCfg.Auth.WSFirstMessage = true
	first := start(t, firstCfg, nil)
	g := dialAsync(t, "g", spec, seen, first.url, url.Values{"symbols": {"AAPL"}})
	g.send(`{"op":"auth","token":"`+hs256(t, authSecret, time.Hour)+`"}`, true)
	g.await("the upgrade's subscribe after the auth op", asyncType("subscribed"), asyncQuote("AAPL"))
	h := dialAsync(t, "h", spec, seen, first.url, url.Values{})
	h.send(`{"op":"list"}`, true)
	h.await("auth_required error before the close", asyncError(fanout.CodeAuthRequired))
	k := dialAsync(t, "k", spec, seen, first.url, url.Values{})
	k.send(`{"op":"auth","token":"not-a-token"}`, true)
	k.await("invalid_token error before the close", asyncError(fanout.CodeInvalidToken))

	// Close every client, so that every frame is in.
	for _, cl := range []*asyncClient{a, bc, c, d, f, narrow, g} {
		cl.close()
	}

	asyncAPIFullQuotes(t, spec, seen)

	seen.mu.Lock()
	frames := slices.Clone(seen.frames)
	for id := range spec.payload {
		if !seen.msgs[id] {
			t.Errorf("message %s of %s was never seen", id, asyncPath)
		}
	}
	// The spec's codes are the fan-out's, and each was seen, but
	// internal: it stands for a message that cannot be encoded, which
	// messages of strings, bools and integers never are.
	codes := []string{fanout.CodeBadRequest, fanout.CodeUnknownOp, fanout.CodeInvalidSymbol,
		fanout.CodeUnknownSymbol, fanout.CodeTooManySymbols, fanout.CodeRateLimited,
		fanout.CodeForbidden, fanout.CodeTokenExpired, fanout.CodeInvalidToken, fanout.CodeAuthRequired, "internal"}
	if !slices.Equal(slices.Sorted(slices.Values(spec.codes)), slices.Sorted(slices.Values(codes))) {
		t.Errorf("%s error codes %q, want %q", asyncPath, spec.codes, codes)
	}
	for _, code := range spec.codes {
		if !seen.codes[code] && code != "internal" {
			t.Errorf("error code %s was never seen", code)
		}
	}
	// Every field of every server message was seen.
	for _, id := range spec.server {
		for _, f := range spec.order[id] {
			if !seen.fields[id][f] {
				t.Errorf("field %s of message %s was never seen", f, id)
			}
		}
	}

	seen.mu.Unlock()

	t.Run("broken_spec", func(t *testing.T) {
		testAsyncAPIBroken(t, specData, frames)
	})
}

// asyncAPIFullQuotes runs a service on a JSON source that gives every
// field of a quote (the simulator gives no open, high, low, bid or ask),
// and fails, so that a client sees every field of a quote and a symbol
// turn stale and recover.
func asyncAPIFullQuotes(t *testing.T, spec *asyncSpec, seen *asyncSeen) {
	var fail atomic.Bool
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if fail.Load() {
			fmt.Fprint(w, `{"message":"no price today"}`)
			return
		}
		fmt.Fprint(w, `{"symbol":"FULL","last":101.5,"chg":1.5,"pct":1.5,"vol":1200,"ts":"2026-11-21T15:04:00Z",`+
			`"open":100,"high":102,"low":99.5,"prev":100,"bid":101.4,"ask":101.6,"status":"Open"}`)
	}))
	cfg, err := config.Parse("config.yaml", []byte(`
listen: 127.0.0.1:0
schedule: "`+neverInTest+`"
symbols: [FULL]
source:
  kind: json
  stale_after: 1
  json:
    url: `+up.url+`/quote/{symbol}
    symbol: symbol
    price: last
    change: chg
    change_pct: pct
    volume: vol
    time: ts
    time_format: rfc3339
    open: open
    high: high
    low: low
    prev_close: prev
    bid: bid
    ask: ask
    market_status: status
`))
	if err != nil {
		t.Fatalf("config.Parse(json source) = %v", err)
	}
	r := start(t, cfg, nil)
	b := r.svc.Board()
	waitFirstPulse(t, b, cfg.Symbols)
	e := dialAsync(t, "e", spec, seen, r.url, url.Values{"symbols": {"FULL"}, "batch": {"0"}})
	m := e.await("FULL's quote", asyncType("subscribed"), asyncQuote("FULL"))[1]
	if want := 16; len(m.Keys) != want {
		t.Errorf("FULL's quote has fields %q, want all %d", m.Keys, want)
	}
	fail.Store(true)
	pulse(t, r.svc.Collector())
	isStale := func(stale bool) func(asyncMsg) bool {
		return func(m asyncMsg) bool { return m.Type == "status" && m.Stale == stale }
	}
	e.await("FULL's stale status", isStale(true))
	fail.Store(false)
	pulse(t, r.svc.Collector())
	e.await("FULL's recovery", isStale(false))
	e.close()
}

// testAsyncAPIBroken checks that specs broken on purpose fail on the
// frames of a real run: each mutation must make at least one of them fail.
func testAsyncAPIBroken(t *testing.T, specData []byte, frames []asyncFrame) {
	schema := func(root *yaml.Node, path ...string) *yaml.Node {
		n := yamlNodeAt(root, append([]string{"components", "schemas"}, path...)...)
		if n == nil {
			t.Fatalf("%s has no components.schemas.%s", asyncPath, strings.Join(path, "."))
		}
		return n
	}
	deleteKey := func(n *yaml.Node, key string) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				n.Content = slices.Delete(n.Content, i, i+2)
				return
			}
		}
		t.Fatalf("no key %s to delete", key)
	}
	replace := func(n *yaml.Node, text string) {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
			t.Fatalf("yaml.Unmarshal(%s) = %v", text, err)
		}
		*n = *doc.Content[0]
	}
	tests := []struct {
		name   string
		mutate func(root *yaml.Node) // nil: the spec as it is, which every frame passes
	}{
		{"unchanged", nil},
		{"quote_seq_not_a_property", func(root *yaml.Node) { deleteKey(schema(root, "Quote", "properties"), "seq") }},
		{"quote_fields_reordered", func(root *yaml.Node) {
			p := schema(root, "Quote", "properties")
			p.Content[2], p.Content[3], p.Content[4], p.Content[5] = p.Content[4], p.Content[5], p.Content[2], p.Content[3] // symbol after price
		}},
		{"subscribed_requires_more", func(root *yaml.Node) {
			req := schema(root, "Subscribed", "required")
			req.Content = append(req.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "bogus"})
		}},
		{"status_unknown_false", func(root *yaml.Node) {
			schema(root, "Status", "properties", "unknown", "const").Value = "false"
		}},
		{"error_code_dropped", func(root *yaml.Node) {
			enum := schema(root, "Error", "properties", "code", "enum")
			enum.Content = slices.DeleteFunc(enum.Content, func(n *yaml.Node) bool { return n.Value == fanout.CodeUnknownOp })
		}},
		{"reset_epoch_too_short", func(root *yaml.Node) { schema(root, "Epoch", "pattern").Value = "^[0-9a-f]{8}$" }},
		{"batch_of_one", func(root *yaml.Node) {
			schema(root, "Batch").Content = append(schema(root, "Batch").Content,
				&yaml.Node{Kind: yaml.ScalarNode, Value: "maxItems"}, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "1"})
		}},
		{"error_symbols_never", func(root *yaml.Node) {
			replace(schema(root, "Error", "then"), "{not: {required: [symbols]}}")
		}},
		{"status_error_never", func(root *yaml.Node) {
			replace(schema(root, "Status", "then"), "{not: {required: [error]}}")
		}},
		{"subscribe_without_since", func(root *yaml.Node) { deleteKey(schema(root, "Subscribe", "properties"), "since") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var root yaml.Node
			if err := yaml.Unmarshal(specData, &root); err != nil {
				t.Fatalf("yaml.Unmarshal(%s) = %v", asyncPath, err)
			}
			if tc.mutate != nil {
				tc.mutate(&root)
			}
			data, err := yaml.Marshal(&root)
			if err != nil {
				t.Fatalf("yaml.Marshal = %v", err)
			}
			spec, err := parseAsyncSpec(t.Context(), data)
			if err != nil {
				t.Fatalf("parseAsyncSpec(mutated) = %v, want a spec that loads", err)
			}
			var failed []error
			for _, f := range frames {
				if f.client {
					_, err = spec.checkClient(f.data)
				} else {
					_, err = spec.checkFrame(f.data, f.batch)
				}
				if err != nil {
					failed = append(failed, err)
				}
			}
			switch {
			case tc.mutate == nil && len(failed) > 0:
				t.Errorf("the spec as it is, written again: %d of %d frames fail, want none; first: %v", len(failed), len(frames), failed[0])
			case tc.mutate != nil && len(failed) == 0:
				t.Errorf("mutated spec %s: all %d frames pass, want some to fail", tc.name, len(frames))
			}
		})
	}
}
