package quote

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// closeCounter is a response body that counts Close calls, so tests can check
// that Parse leaves closing to its caller.
type closeCounter struct {
	io.Reader
	closes int
}

func (c *closeCounter) Close() error {
	c.closes++
	return nil
}

// fileResponse returns a 200 response streaming testdata/name.
func fileResponse(t *testing.T, name string) *http.Response {
	t.Helper()
	return statusFileResponse(t, http.StatusOK, "", name)
}

// statusFileResponse returns a response with status code and Content-Type
// ct (none when "") streaming testdata/name.
func statusFileResponse(t *testing.T, code int, ct, name string) *http.Response {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	resp := &http.Response{StatusCode: code, Header: http.Header{}, Body: f}
	if ct != "" {
		resp.Header.Set("Content-Type", ct)
	}
	return resp
}

// readerResponse returns a response with status code and body r.
func readerResponse(code int, r io.Reader) *http.Response {
	return &http.Response{StatusCode: code, Header: http.Header{}, Body: io.NopCloser(r)}
}

// parseCase is one row of a Parse table.
type parseCase struct {
	name    string
	file    string
	status  int    // the response's status; 0 means 200
	ct      string // the response's Content-Type; "" means none
	symbol  string
	want    Quote
	wantErr error // a sentinel; when set, want is ignored
}

// sentinels are the errors a Parse error wraps exactly one of (a not-found
// status also wraps a *StatusError).
var sentinels = []error{ErrUnknownSymbol, ErrWrongSymbol, ErrNotQuote, ErrUpstream, ErrMalformed, ErrTooLarge}

// checkQuote compares every field Parse sets, floats to within 1e-9.
func checkQuote(t *testing.T, call string, got, want Quote) {
	t.Helper()
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9 }
	if got.Symbol != want.Symbol || !near(got.Price, want.Price) || !near(got.Change, want.Change) ||
		!near(got.ChangePct, want.ChangePct) || got.Volume != want.Volume || got.HasVolume != want.HasVolume ||
		!near(got.Open, want.Open) || !near(got.High, want.High) || !near(got.Low, want.Low) ||
		!near(got.PrevClose, want.PrevClose) || !near(got.Bid, want.Bid) || !near(got.Ask, want.Ask) ||
		got.MarketStatus != want.MarketStatus ||
		!got.Time.Equal(want.Time) || !got.CollectedAt.IsZero() || got.Seq != 0 {
		t.Errorf("%s = %+v, want %+v", call, got, want)
	}
}

// runParseCases runs a Parse table against src.
func runParseCases(t *testing.T, src Source, tests []parseCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status := tt.status
			if status == 0 {
				status = http.StatusOK
			}
			got, err := src.Parse(tt.symbol, statusFileResponse(t, status, tt.ct, tt.file))
			call := "Parse(" + tt.symbol + ", " + tt.file + ")"
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("%s error = %v, want %v", call, err, tt.wantErr)
				}
				for _, other := range sentinels {
					if other != tt.wantErr && errors.Is(err, other) {
						t.Errorf("%s error = %v, also wraps %v", call, err, other)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("%s error = %v, want nil", call, err)
			}
			checkQuote(t, call, got, tt.want)
		})
	}
}

func TestStatusError(t *testing.T) {
	for _, src := range []Source{NewNasdaq("", ""), NewStooq("", "")} {
		for _, code := range []int{http.StatusForbidden, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusNotModified} {
			_, err := src.Parse("AAPL", readerResponse(code, nil))
			var se *StatusError
			if !errors.As(err, &se) || se.Code != code {
				t.Errorf("%T.Parse(status %d) error = %v, want *StatusError{%d}", src, code, err, code)
			}
		}
	}
}

func TestNoClose(t *testing.T) {
	for _, src := range []Source{NewNasdaq("", ""), NewStooq("", "")} {
		for _, file := range []string{"nasdaq_aapl_premarket.json", "stooq_aapl_crlf.csv"} {
			data, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			body := &closeCounter{Reader: bytes.NewReader(data)}
			src.Parse("AAPL", &http.Response{StatusCode: http.StatusOK, Body: body})
			if body.closes != 0 {
				t.Errorf("%T.Parse(%s) closed the body %d times, want 0", src, file, body.closes)
			}
		}
	}
}

// readFixture returns testdata/name.
func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
