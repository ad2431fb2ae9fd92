package fanout

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/tickerd/tickerd/internal/board"
	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/quote"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name string
		in   string
		op   string // on success
		code string // on failure
	}{
		{"subscribe", `{"op":"subscribe","symbols":["AAPL","msft"]}`, opSubscribe, ""},
		{"unsubscribe", `{"op":"unsubscribe","symbols":["*"]}`, opUnsubscribe, ""},
		{"list", `{"op":"list"}`, opList, ""},
		{"list_ignores_symbols", `{"op":"list","symbols":["AAPL"]}`, opList, ""},
		{"unknown_fields_ignored", `{"op":"list","id":7}`, opList, ""},
		{"not_json", `subscribe AAPL`, "", CodeBadRequest},
		{"array", `[{"op":"list"}]`, "", CodeBadRequest},
		{"trailing_data", `{"op":"list"} {}`, "", CodeBadRequest},
		{"empty_object", `{}`, "", CodeBadRequest},
		{"op_not_string", `{"op":1}`, "", CodeBadRequest},
		{"unknown_op", `{"op":"dance"}`, "", CodeUnknownOp},
		{"subscribe_without_symbols", `{"op":"subscribe"}`, "", CodeBadRequest},
		{"subscribe_empty_symbols", `{"op":"subscribe","symbols":[]}`, "", CodeBadRequest},
		{"symbols_not_list", `{"op":"subscribe","symbols":"AAPL"}`, "", CodeBadRequest},
		{"symbol_not_string", `{"op":"subscribe","symbols":[1]}`, "", CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, werr := parseRequest([]byte(tt.in), 100, config.NormalizeSymbol)
			switch {
			case tt.code == "" && werr != nil:
				t.Fatalf("parseRequest(%s) = error %s %q, want op %q", tt.in, werr.Code, werr.Message, tt.op)
			case tt.code == "" && req.Op != tt.op:
				t.Fatalf("parseRequest(%s) = op %q, want %q", tt.in, req.Op, tt.op)
			case tt.code != "" && (werr == nil || werr.Code != tt.code || werr.Message == ""):
				t.Fatalf("parseRequest(%s) = %+v, %+v, want error %q", tt.in, req, werr, tt.code)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	star := []string{"AAPL", "MSFT"}
	tests := []struct {
		name string
		in   []string
		want []string
		code string
	}{
		{"normalised", []string{"aapl", "brk.b", "^gspc"}, []string{"AAPL", "BRK.B", "^GSPC"}, ""},
		{"duplicates_dropped", []string{"AAPL", "aapl", "MSFT"}, []string{"AAPL", "MSFT"}, ""},
		{"star", []string{"*"}, []string{"AAPL", "MSFT"}, ""},
		{"star_and_more", []string{"nvda", "*", "msft"}, []string{"NVDA", "AAPL", "MSFT"}, ""},
		{"invalid_rejects_all", []string{"AAPL", "A B"}, nil, CodeInvalidSymbol},
		{"empty", []string{""}, nil, CodeInvalidSymbol},
		{"too_long", []string{"ABCDEFGHIJKLM"}, nil, CodeInvalidSymbol},
		{"non_ascii", []string{"ſ"}, nil, CodeInvalidSymbol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, werr := resolve(tt.in, star, config.NormalizeSymbol)
			if tt.code != "" {
				if werr == nil || werr.Code != tt.code {
					t.Fatalf("resolve(%q) = %q, %+v, want error %q", tt.in, got, werr, tt.code)
				}
				return
			}
			if werr != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("resolve(%q) = %q, %+v, want %q", tt.in, got, werr, tt.want)
			}
		})
	}
}

func TestNewQuoteMessage(t *testing.T) {
	full := quote.Quote{
		Symbol: "AAPL", Price: 267.85, Change: 0.75, ChangePct: 0.28, Volume: 111677, HasVolume: true,
		Time:        time.Date(2026, 11, 21, 10, 4, 0, 0, time.FixedZone("EST", -5*3600)),
		CollectedAt: time.Date(2026, 11, 21, 15, 4, 5, 123456789, time.UTC),
		Seq:         17,
	}
	rich := full
	rich.Open, rich.High, rich.Low, rich.PrevClose, rich.Bid, rich.Ask, rich.MarketStatus = 265, 268.5, 264.25, 267.1, 267.8, 267.9, "Open"
	bare := full
	bare.HasVolume, bare.Volume, bare.Time = false, 0, time.Time{}
	bare.CollectedAt = time.Date(2026, 11, 21, 15, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		q    quote.Quote
		want string
	}{
		{"full", full, `{"type":"quote","symbol":"AAPL","price":267.85,"change":0.75,"change_pct":0.28,"volume":111677,` +
			`"time":"2026-11-21T15:04:00.000000000Z","collected_at":"2026-11-21T15:04:05.123456789Z","seq":17}`},
		{"with_day_fields", rich, `{"type":"quote","symbol":"AAPL","price":267.85,"change":0.75,"change_pct":0.28,"volume":111677,` +
			`"time":"2026-11-21T15:04:00.000000000Z","open":265,"high":268.5,"low":264.25,"prev_close":267.1,"bid":267.8,"ask":267.9,` +
			`"market_status":"Open","collected_at":"2026-11-21T15:04:05.123456789Z","seq":17}`},
		{"no_volume_no_time", bare, `{"type":"quote","symbol":"AAPL","price":267.85,"change":0.75,"change_pct":0.28,` +
			`"collected_at":"2026-11-21T15:04:05.000000000Z","seq":17}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(NewQuoteMessage(tt.q))
			if err != nil || string(b) != tt.want {
				t.Fatalf("json.Marshal(NewQuoteMessage(%+v)) = %s, %v, want %s", tt.q, b, err, tt.want)
			}
		})
	}
}

func TestNewUpdate(t *testing.T) {
	tests := []struct {
		name       string
		snap       board.Snapshot
		wantQuote  bool
		wantStatus string
	}{
		{"quote", snapQuote("AAPL", 3), true, `{"type":"status","symbol":"AAPL","stale":false,"failures":0}`},
		{"stale_with_quote", stale(snapQuote("AAPL", 3), "boom", 2), true,
			`{"type":"status","symbol":"AAPL","stale":true,"error":"boom","failures":2}`},
		{"stale_without_quote", stale(board.Snapshot{Symbol: "AAPL"}, "boom", 1), false,
			`{"type":"status","symbol":"AAPL","stale":true,"error":"boom","failures":1}`},
		{"unknown", board.Snapshot{Symbol: "AAPL", Attempted: true, Unknown: true, Err: "unknown symbol", Failures: 4}, false,
			`{"type":"status","symbol":"AAPL","stale":false,"unknown":true,"error":"unknown symbol","failures":4}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpdate("AAPL", tt.snap, 9, epochRef{})
			if (u.quote != nil) != tt.wantQuote || string(u.status) != tt.wantStatus || u.ver != 9 || u.stale != (tt.snap.Stale || tt.snap.Unknown) {
				t.Fatalf("newUpdate(%+v) = quote %s, status %s, ver %d, want quote %v, status %s, ver 9",
					tt.snap, u.quote, u.status, u.ver, tt.wantQuote, tt.wantStatus)
			}
		})
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"op":"subscribe","symbols":["AAPL","MSFT"]}`, `{"op":"unsubscribe","symbols":["*"]}`,
		`{"op":"list"}`, `{}`, `[]`, `{"op":"subscribe","symbols":[null,"a b"]}`, "\xff", `{"op":"list"}x`,
		`{"op":"subscribe","symbols":["AAPL","MSFT"],"since":{"epoch":"E","seq":{"AAPL":17,"MSFT":4}}}`,
		`{"op":"subscribe","symbols":["*"],"since":{"epoch":"E","seq":{"aapl":1,"AAPL":2}}}`,
		`{"op":"subscribe","symbols":["AAPL"],"since":{"epoch":"E","seq":{"AAPL":-1}}}`,
		`{"op":"subscribe","symbols":["AAPL"],"since":{"epoch":"","seq":{"AAPL":1.5}}}`,
		`{"op":"subscribe","symbols":["AAPL"],"since":null}`, `{"op":"list","since":{}}`,
	} {
		f.Add([]byte(s))
	}
	const maxSyms = 3
	f.Fuzz(func(t *testing.T, data []byte) {
		req, werr := parseRequest(data, maxSyms, config.NormalizeSymbol)
		if werr != nil {
			if werr.Code == "" || werr.Message == "" {
				t.Fatalf("parseRequest(%q) = error %+v, want a code and a message", data, werr)
			}
			return
		}
		switch req.Op {
		case opList:
		case opAuth:
			if req.Token == "" || len(req.Token) > maxTokenLen || len(req.Symbols) > 0 {
				t.Fatalf("parseRequest(%q) = %+v, want a token of 1 to %d bytes and no symbols", data, req, maxTokenLen)
			}
		case opSubscribe, opUnsubscribe:
			if len(req.Symbols) == 0 {
				t.Fatalf("parseRequest(%q) = %+v, want symbols", data, req)
			}
		default:
			t.Fatalf("parseRequest(%q) = op %q, want a known op", data, req.Op)
		}
		if sn := req.since; sn != nil {
			if req.Op != opSubscribe || sn.epoch == "" || len(sn.epoch) > maxEpochLen || len(sn.seq) > maxSyms {
				t.Fatalf("parseRequest(%q) = %+v with since %+v, want since only on subscribe, a 1 to %d byte epoch and at most %d symbols",
					data, req, sn, maxEpochLen, maxSyms)
			}
			for n := range sn.seq {
				if again, err := config.NormalizeSymbol(n); err != nil || again != n {
					t.Fatalf("parseRequest(%q) gave since symbol %q, which NormalizeSymbol maps to %q, %v", data, n, again, err)
				}
			}
		}
		names, werr := resolve(req.Symbols, []string{"AAPL"}, config.NormalizeSymbol)
		if werr != nil {
			return
		}
		for _, n := range names {
			if again, err := config.NormalizeSymbol(n); err != nil || again != n {
				t.Fatalf("resolve(%q) gave %q, which NormalizeSymbol maps to %q, %v", req.Symbols, n, again, err)
			}
		}
	})
}
