package quote

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// endless is an io.Reader that never ends: b repeated forever.
type endless byte

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e)
	}
	return len(p), nil
}

// bodyCases are a valid document per source and the filler that may follow
// it without changing its meaning.
var bodyCases = []struct {
	name   string
	src    Source
	file   string
	filler byte
}{
	{"nasdaq", NewNasdaq("", ""), "nasdaq_aapl_premarket.json", ' '},
	{"stooq", NewStooq("", ""), "stooq_aapl_crlf.csv", '\n'},
}

func TestBodyLimit(t *testing.T) {
	for _, bc := range bodyCases {
		doc, err := os.ReadFile(filepath.Join("testdata", bc.file))
		if err != nil {
			t.Fatal(err)
		}
		pad := func(n int) io.Reader {
			return bytes.NewReader(append(bytes.Clone(doc), bytes.Repeat([]byte{bc.filler}, n-len(doc))...))
		}
		tests := []struct {
			name    string
			body    io.Reader
			wantErr error
		}{
			{"exactly_max", pad(MaxBody), nil},
			{"one_byte_over", pad(MaxBody + 1), ErrTooLarge},
			{"endless_filler", io.MultiReader(bytes.NewReader(doc), endless(bc.filler)), ErrTooLarge},
			{"endless_garbage", endless('7'), ErrTooLarge},
			{"one_byte_reads", iotest.OneByteReader(bytes.NewReader(doc)), nil},
			{"data_then_error", iotest.DataErrReader(bytes.NewReader(doc)), nil},
		}
		for _, tt := range tests {
			t.Run(bc.name+"/"+tt.name, func(t *testing.T) {
				q, err := bc.src.Parse("AAPL", readerResponse(200, tt.body))
				if tt.wantErr == nil {
					if err != nil || q.Price <= 0 {
						t.Fatalf("Parse(%s) = %+v, %v, want a quote", tt.name, q, err)
					}
					return
				}
				if !errors.Is(err, tt.wantErr) || errors.Is(err, ErrMalformed) {
					t.Fatalf("Parse(%s) error = %v, want %v only", tt.name, err, tt.wantErr)
				}
			})
		}
	}
}

func TestBodyReadError(t *testing.T) {
	broken := errors.New("connection reset")
	for _, bc := range bodyCases {
		doc, err := os.ReadFile(filepath.Join("testdata", bc.file))
		if err != nil {
			t.Fatal(err)
		}
		for _, cut := range []int{0, 1, len(doc) / 2, len(doc) - 1} {
			body := io.MultiReader(bytes.NewReader(doc[:cut]), iotest.ErrReader(broken))
			_, err := bc.src.Parse("AAPL", readerResponse(200, body))
			if !errors.Is(err, broken) || errors.Is(err, ErrMalformed) {
				t.Errorf("%s Parse(body cut at %d then %v) error = %v, want %v and not ErrMalformed", bc.name, cut, broken, err, broken)
			}
		}
	}
}

func TestBodyLimiterAfterLimit(t *testing.T) {
	l := newBodyLimiter(strings.NewReader(strings.Repeat("x", MaxBody+10)), nil)
	n, err := io.Copy(io.Discard, l)
	if n != MaxBody || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("io.Copy(bodyLimiter) = %d, %v, want %d, %v", n, err, MaxBody, ErrTooLarge)
	}
	if n, err := l.Read(make([]byte, 8)); n != 0 || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Read after limit = %d, %v, want 0, %v", n, err, ErrTooLarge)
	}
}
