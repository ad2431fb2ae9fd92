package sim

import (
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"dollars_small", dollars(5), "$0.05"},
		{"dollars_thousands", dollars(127050), "$1,270.50"},
		{"dollars_millions", dollars(123456789), "$1,234,567.89"},
		{"signed_up", signedCents(75), "0.75"},
		{"signed_down", signedCents(-12), "-0.12"},
		{"signed_zero", signedCents(0), "0.00"},
		{"thousands_short", thousands(999), "999"},
		{"thousands_exact", thousands(111677), "111,677"},
		{"thousands_zero", thousands(0), "0"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

func TestMarketStatus(t *testing.T) {
	tests := []struct {
		name string
		at   time.Time // UTC; July is EDT, UTC-4
		want string
	}{
		{"monday_night", time.Date(2026, 7, 27, 7, 59, 0, 0, time.UTC), "Closed"},
		{"pre_market", time.Date(2026, 7, 27, 8, 0, 0, 0, time.UTC), "Pre Market"},
		{"open", time.Date(2026, 7, 27, 13, 30, 0, 0, time.UTC), "Open"},
		{"after_hours", time.Date(2026, 7, 27, 20, 0, 0, 0, time.UTC), "After Hours"},
		{"evening", time.Date(2026, 7, 28, 0, 0, 0, 0, time.UTC), "Closed"},
		{"saturday", time.Date(2026, 7, 25, 15, 0, 0, 0, time.UTC), "Closed"},
	}
	for _, tt := range tests {
		if got := marketStatus(tt.at.In(newYork)); got != tt.want {
			t.Errorf("marketStatus(%s) = %q, want %q", tt.at.In(newYork), got, tt.want)
		}
	}
}
