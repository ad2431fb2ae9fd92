package service_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tickerd/tickerd/internal/api"
	"github.com/tickerd/tickerd/internal/config"
)

// rates is a json-kind upstream: GET /rates?pair=EUR/USD answers
// {"pair":"EUR/USD","rate":1.25}.
func rates(w http.ResponseWriter, r *http.Request) {
	pair := r.URL.Query().Get("pair")
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"pair": pair, "rate": 1 + float64(len(pair))/40})
}

// TestServiceJSONSourceSymbols: a json source configured in config.yaml
// collects symbols in its own spelling (EUR/USD), from the config and
// from a websocket client's dynamic subscribe, and a client's symbol the
// source cannot take is refused in its words.
func TestServiceJSONSourceSymbols(t *testing.T) {
	up := startUpstream(t, http.HandlerFunc(rates))
	yaml := fmt.Sprintf(`listen: "127.0.0.1:0"
source:
  kind: json
  json:
    url: %s/rates?pair={symbol}
    symbol: pair
    price: rate
schedule: "@every 1h"
symbols: [eur/usd]
websocket: {dynamic_symbols: true, max_dynamic_symbols: 4}
`, up.url)
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("Parse() = %v", err)
	}
	r := start(t, cfg, nil)
	waitFirstPulse(t, r.svc.Board(), []string{"EUR/USD"})

	var q api.Quote
	if code := r.getJSON(t, "/api/quotes/EUR%2FUSD", &q); code != http.StatusOK || q.Symbol != "EUR/USD" || q.Price != 1+7.0/40 {
		t.Errorf("GET /api/quotes/EUR%%2FUSD = %d %+v, want 200 and EUR/USD at %v", code, q, 1+7.0/40)
	}

	c := dialWS(t, r.url, "")
	c.send(map[string]any{"op": "subscribe", "symbols": []string{"gbp/usd"}})
	m := c.next("a GBP/USD quote", func(m wsMsg) bool {
		if m.Type == "error" {
			t.Fatalf("subscribe gbp/usd: %+v", m)
		}
		return m.Type == "quote"
	}, nil)
	if m.Symbol != "GBP/USD" {
		t.Errorf("quote for %q, want GBP/USD", m.Symbol)
	}
	c.send(map[string]any{"op": "subscribe", "symbols": []string{"GBP USD"}})
	e := c.next("an error", func(m wsMsg) bool { return m.Type == "error" }, nil)
	if e.Code != "invalid_symbol" {
		t.Errorf("subscribe \"GBP USD\" = %+v, want invalid_symbol", e)
	}
	if code, body := r.get(t, "/api/quotes?symbols=GBP%20USD"); code != http.StatusBadRequest || !strings.Contains(body, "want letters, digits") {
		t.Errorf("GET /api/quotes?symbols=GBP USD = %d %s, want 400 saying the json kind's syntax", code, body)
	}
}
