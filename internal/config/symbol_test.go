package config_test

import (
	"errors"
	"testing"

	"github.com/tickerd/tickerd/internal/config"
)

func TestNormalizeSymbol(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" means invalid
	}{
		{"upper", "AAPL", "AAPL"},
		{"lower", "aapl", "AAPL"},
		{"mixed", "mSfT", "MSFT"},
		{"dot", "brk.b", "BRK.B"},
		{"dash", "bf-b", "BF-B"},
		{"caret_index", "^gspc", "^GSPC"},
		{"digits", "00700", "00700"},
		{"one_char", "f", "F"},
		{"twelve_chars", "abcdefghijkl", "ABCDEFGHIJKL"},
		{"thirteen_chars", "abcdefghijklm", ""},
		{"empty", "", ""},
		{"space_inside", "A B", ""},
		{"leading_space", " AAPL", ""},
		{"trailing_newline", "AAPL\n", ""},
		{"underscore", "A_B", ""},
		{"slash", "BTC/USD", ""},
		{"non_ascii_letter", "ÅPL", ""},
		{"long_s_upper_cases_to_ascii", "ſ", ""},
		{"dotless_i_upper_cases_to_ascii", "ı", ""},
		{"nul_byte", "A\x00", ""},
		{"invalid_utf8", "\xff", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := config.NormalizeSymbol(tc.in)
			if tc.want == "" {
				if err == nil || !errors.Is(err, config.ErrInvalidSymbol) || got != "" {
					t.Errorf("NormalizeSymbol(%q) = %q, %v; want \"\", ErrInvalidSymbol", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("NormalizeSymbol(%q) = %q, %v; want %q, nil", tc.in, got, err, tc.want)
			}
		})
	}
}
