package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/go-chi/chi/v5"

	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/service"
)

// specPath is the REST API's OpenAPI document, from this package.
const specPath = "../../docs/openapi.yaml"

// loadSpec loads and validates docs/openapi.yaml.
func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(specPath)
	if err != nil {
		t.Fatalf("load %s: %v", specPath, err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", specPath, err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("%s: openapi %q, want 3.1", specPath, doc.OpenAPI)
	}
	return doc
}

// specRouter returns a router over doc's operations for requests to base.
func specRouter(t *testing.T, doc *openapi3.T, base string) routers.Router {
	t.Helper()
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("gorillamux.NewRouter: %v", err)
	}
	return router
}

// specCheck sends requests to a running service and validates each request
// and response against the spec, noting which documented responses it saw.
type specCheck struct {
	doc    *openapi3.T
	router routers.Router
	seen   map[string]bool // "GET /path/{param} 200"
	open   []io.Closer     // the connections of 101 answers, for the caller to close
}

// roundTrip sends req with client, validates both sides against the spec
// (the request must break it when invalid is set) and returns the response with its body (none for a 101, whose
// connection is closed by the test's cleanup).
func (c *specCheck) roundTrip(t *testing.T, client *http.Client, req *http.Request, invalid bool) (*http.Response, []byte) {
	t.Helper()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: no operation in the spec: %v", req.Method, req.URL, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route}
	switch err := openapi3filter.ValidateRequest(req.Context(), in); {
	case err != nil && !invalid:
		t.Errorf("%s %s: the request does not match the spec: %v", req.Method, req.URL, err)
	case err == nil && invalid:
		t.Errorf("%s %s: the request matches the spec, want it not to (the test sends it to see the answer)", req.Method, req.URL)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	var body []byte
	if resp.StatusCode == http.StatusSwitchingProtocols {
		c.open = append(c.open, resp.Body)
	} else {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		t.Errorf("%s %s = %d %s: the response does not match the spec: %v", req.Method, req.URL, resp.StatusCode, body, err)
	}
	c.seen[req.Method+" "+route.Path+" "+strconv.Itoa(resp.StatusCode)] = true
	return resp, body
}

// unseen returns the documented responses roundTrip never saw, except
// those in skip.
func (c *specCheck) unseen(skip ...string) []string {
	var out []string
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status := range op.Responses.Map() {
				key := method + " " + path + " " + status
				if !c.seen[key] && !slices.Contains(skip, key) {
					out = append(out, key)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// checkErrorBody validates an error answer outside the spec's operations
// (404 for unknown paths, 405 for other methods) against the documented
// response name.
func checkErrorBody(t *testing.T, doc *openapi3.T, name string, resp *http.Response, body []byte) {
	t.Helper()
	ref := doc.Components.Responses[name]
	if ref == nil || ref.Value == nil {
		t.Fatalf("the spec has no components.responses.%s", name)
	}
	mt := ref.Value.Content.Get("application/json")
	if got := resp.Header.Get("Content-Type"); got != "application/json" {
		t.Errorf("%s Content-Type = %q, want application/json", name, got)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("%s body %q: %v", name, body, err)
	}
	if err := mt.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("%s body %s does not match the spec: %v", name, body, err)
	}
	for h, hr := range ref.Value.Headers {
		got := resp.Header.Get(h)
		if hr.Value.Required && got == "" {
			t.Errorf("%s: no %s header, want one", name, h)
			continue
		}
		if err := hr.Value.Schema.Value.VisitJSON(got, openapi3.EnableJSONSchema2020()); err != nil {
			t.Errorf("%s header %s = %q does not match the spec: %v", name, h, got, err)
		}
	}
}

// TestOpenAPI validates real answers of a running service against
// docs/openapi.yaml: every request the table sends and every answer must
// match the spec, every documented response must be seen, and the router's
// routes and the spec's paths must be the same set.
func TestOpenAPI(t *testing.T) {
	doc := loadSpec(t)
	// ZZZZ is unknown to the simulator: its quote carries the status fields.
	cfg := testConfig(config.KindSim, "", neverInTest, []string{"AAPL", "MSFT", "ZZZZ"})
	cfg.Websocket.MaxClients = 1 // the second handshake gets 503
	r := start(t, cfg, nil)
	waitFirstPulse(t, r.svc.Board(), cfg.Symbols)
	pulse(t, r.svc.Collector()) // a history of more than one point
	pulse(t, r.svc.Collector())
	c := &specCheck{doc: doc, router: specRouter(t, doc, r.url), seen: make(map[string]bool)}
	defer func() {
		for _, conn := range c.open {
			conn.Close()
		}
	}()

	wsHandshake := http.Header{
		"Connection":            {"Upgrade"},
		"Upgrade":               {"websocket"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
	}
	with := func(h http.Header, k, v string) http.Header {
		h = h.Clone()
		h.Set(k, v)
		return h
	}
	tests := []struct {
		name    string
		path    string
		header  http.Header
		etag    bool // send If-None-Match with the ETag of a first GET
		invalid bool // the request breaks the spec on purpose
		status  int
	}{
		{"quotes", "/api/quotes", nil, false, false, 200},
		{"quotes_listed", "/api/quotes?symbols=aapl,ZZZZ,NOPE", nil, false, false, 200},
		{"quotes_not_modified", "/api/quotes", nil, true, false, 304},
		{"quotes_bad_symbols", "/api/quotes?symbols=A%20B", nil, false, false, 400},
		{"quote", "/api/quotes/AAPL", nil, false, false, 200},
		{"quote_unknown_to_source", "/api/quotes/ZZZZ", nil, false, false, 200},
		{"quote_not_modified", "/api/quotes/MSFT", nil, true, false, 304},
		{"quote_not_collected", "/api/quotes/NOPE", nil, false, false, 404},
		{"history", "/api/quotes/AAPL/history", nil, false, false, 200},
		{"history_limit", "/api/quotes/AAPL/history?limit=2", nil, false, false, 200},
		{"history_not_modified", "/api/quotes/AAPL/history?limit=1", nil, true, false, 304},
		{"history_bad_limit", "/api/quotes/AAPL/history?limit=0", nil, false, true, 400},
		{"history_not_collected", "/api/quotes/NOPE/history", nil, false, false, 404},
		{"status", "/api/status", nil, false, false, 200},
		{"cluster_single", "/api/cluster", nil, false, false, 200},
		{"healthz", "/healthz", nil, false, false, 200},
		{"readyz", "/readyz", nil, false, false, 200},
		{"metrics", "/metrics", nil, false, false, 200},
		{"ws_not_a_handshake", "/ws", nil, false, false, 426},
		{"ws_bad_query", "/ws?batch=maybe", wsHandshake, false, true, 400},
		{"ws_foreign_origin", "/ws", with(wsHandshake, "Origin", "http://elsewhere.example"), false, false, 403},
		{"ws_upgrade", "/ws?symbols=AAPL", wsHandshake, false, false, 101}, // stays connected: the one client
		{"ws_full", "/ws", wsHandshake, false, false, 503},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := newRequest(t, r.url+tc.path, tc.header)
			if tc.etag {
				first, _ := c.roundTrip(t, r.client, newRequest(t, r.url+tc.path, nil), false)
				req.Header.Set("If-None-Match", first.Header.Get("ETag"))
			}
			resp, body := c.roundTrip(t, r.client, req, tc.invalid)
			if resp.StatusCode != tc.status {
				t.Errorf("GET %s = %d %s, want %d", tc.path, resp.StatusCode, body, tc.status)
			}
		})
	}

	// Not ready: a built service that is not running.
	idle, err := service.New(testConfig(config.KindSim, "", neverInTest, []string{"AAPL"}), nil)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	defer idle.Close()
	srv := httptest.NewServer(idle.Handler())
	defer srv.Close()
	idleCheck := &specCheck{doc: doc, router: specRouter(t, loadSpec(t), srv.URL), seen: c.seen}
	if resp, body := idleCheck.roundTrip(t, srv.Client(), newRequest(t, srv.URL+"/readyz", nil), false); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz before Run = %d %s, want 503", resp.StatusCode, body)
	}

	// The answers outside the operations: 404 and 405, as documented.
	for _, path := range []string{"/api/nope", "/api/quotes/AAPL/nope", "/api"} {
		resp, body := send(t, r.client, http.MethodGet, r.url+path)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, resp.StatusCode)
		}
		checkErrorBody(t, doc, "NotFound", resp, body)
	}
	for path := range doc.Paths.Map() {
		if path == "/ws" || path == "/metrics" {
			continue // not the API's: its own handlers answer other methods
		}
		url := r.url + strings.ReplaceAll(path, "{symbol}", "AAPL")
		for _, method := range []string{http.MethodPost, http.MethodDelete} {
			resp, body := send(t, r.client, method, url)
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s = %d, want 405", method, path, resp.StatusCode)
			}
			checkErrorBody(t, doc, "MethodNotAllowed", resp, body)
		}
	}

	// With auth on: 401 without a token on every route but the public
	// probes, 403 for a symbol the token's claim does not cover.
	acfg := authConfig(t)
	acfg.Symbols = []string{"AAPL", "MSFT"}
	ar := start(t, acfg, nil)
	authCheck := &specCheck{doc: doc, router: specRouter(t, loadSpec(t), ar.url), seen: c.seen}
	for path := range doc.Paths.Map() {
		if path == "/healthz" || path == "/readyz" {
			continue
		}
		url := ar.url + strings.ReplaceAll(path, "{symbol}", "AAPL")
		h := http.Header(nil)
		if path == "/ws" {
			h = wsHandshake
		}
		if resp, body := authCheck.roundTrip(t, ar.client, newRequest(t, url, h), false); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without a token = %d %s, want 401", path, resp.StatusCode, body)
		}
	}
	narrow := hs256Claims(t, authSecret, map[string]any{"symbols": []string{"AAPL"}})
	for _, path := range []string{"/api/quotes?symbols=MSFT", "/api/quotes/MSFT", "/api/quotes/MSFT/history"} {
		req := newRequest(t, ar.url+path, http.Header{"Authorization": {"Bearer " + narrow}})
		if resp, body := authCheck.roundTrip(t, ar.client, req, false); resp.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s with a token for AAPL only = %d %s, want 403", path, resp.StatusCode, body)
		}
	}

	if missed := c.unseen(); len(missed) > 0 {
		t.Errorf("documented responses no request produced: %q", missed)
	}

	// The router's routes are the spec's paths, and the reverse.
	routes, ok := r.svc.Handler().(chi.Routes)
	if !ok {
		t.Fatalf("Handler() is a %T, want a chi.Routes to walk", r.svc.Handler())
	}
	var served []string
	err = chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if route == "/*" {
			return nil // the dashboard's files
		}
		route = strings.TrimSuffix(route, "/")
		served = append(served, route)
		if item := doc.Paths.Find(route); item == nil || item.GetOperation(method) == nil {
			t.Errorf("route %s %s is not in %s", method, route, specPath)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("chi.Walk: %v", err)
	}
	for path := range doc.Paths.Map() {
		if !slices.Contains(served, path) {
			t.Errorf("%s documents %s, which the router does not serve", specPath, path)
		}
	}
}

// newRequest is a GET of url with header h, bounded by the test.
func newRequest(t *testing.T, url string, h http.Header) *http.Request {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("NewRequest(%q) = %v", url, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	return req
}

// send sends method url and returns the response with its body.
func send(t *testing.T, client *http.Client, method, url string) (*http.Response, []byte) {
	t.Helper()
	req := newRequest(t, url, nil)
	req.Method = method
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp, body
}
