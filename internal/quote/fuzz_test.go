package quote

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addSeeds adds every testdata file, asked for as each symbol, to f's corpus.
func addSeeds(f *testing.F, symbols ...string) {
	files, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, s := range symbols {
			f.Add(s, data)
		}
	}
}

// fuzzParse parses body for symbol and checks what every Parse promises for
// an in-memory 200 body: an error wraps one of the parse sentinels, and a
// quote is for symbol with a finite positive price and finite changes.
func fuzzParse(t *testing.T, src Source, symbol string, body []byte) {
	q, err := src.Parse(symbol, readerResponse(200, bytes.NewReader(body)))
	if err != nil {
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownSymbol) &&
			!errors.Is(err, ErrUpstream) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Parse(%q) error = %v, want one of the sentinels", symbol, err)
		}
		return
	}
	if q.Symbol != strings.ToUpper(symbol) || q.Symbol == "" {
		t.Fatalf("Parse(%q).Symbol = %q, want %q", symbol, q.Symbol, strings.ToUpper(symbol))
	}
	if math.IsNaN(q.Price) || math.IsInf(q.Price, 0) || q.Price <= 0 {
		t.Fatalf("Parse(%q).Price = %v, want finite > 0", symbol, q.Price)
	}
	for _, f := range []float64{q.Change, q.ChangePct} {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			t.Fatalf("Parse(%q) = %+v, want finite changes", symbol, q)
		}
	}
	if q.Volume < 0 || (!q.HasVolume && q.Volume != 0) {
		t.Fatalf("Parse(%q) volume = %d, %v, want >= 0 and 0 when unknown", symbol, q.Volume, q.HasVolume)
	}
}

func FuzzNasdaq(f *testing.F) {
	addSeeds(f, "AAPL", "msft", "")
	src := NewNasdaq("", "")
	f.Fuzz(func(t *testing.T, symbol string, body []byte) {
		fuzzParse(t, src, symbol, body)
	})
}

func FuzzStooq(f *testing.F) {
	addSeeds(f, "AAPL", "aaplx", "")
	src := NewStooq("", "")
	f.Fuzz(func(t *testing.T, symbol string, body []byte) {
		fuzzParse(t, src, symbol, body)
	})
}
