package main

import (
	"strings"
	"testing"
	"time"
)

func TestResultRow(t *testing.T) {
	tl := newTally()
	for _, ms := range []int{10, 20, 30, 40} {
		tl.lat.record(time.Duration(ms) * time.Millisecond)
		tl.pulseLat.record(time.Duration(100+ms) * time.Millisecond)
	}
	tl.delivered.Store(4000)
	tl.coalesced.Store(7)
	tl.frames.Store(250)         // 16 quotes a frame
	tl.frameBytes.Store(1200000) // 300 bytes a quote
	tl.disconnect(nil)           // no close frame
	tl.connectError(errMessage)
	tests := []struct {
		name string
		r    result
		want string
	}{
		// 0.25 cores over 2 s for 4000 quotes: 125 µs a quote.
		{"with_server", result{Target: "tickerd", Batch: true, Clients: 100, PerClient: 20, Connected: 99, ServerPID: 1, RSSPerClientKiB: 12.34, ServerCPU: 0.5, LoadCPU: 0.25, LoadAvgStart: 1.5, LoadAvgEnd: 2.25},
			"| tickerd batch | 100 | 20 | 99 | 2000 | 20.0 | 40.0 | 40.0 | 40.0 | 120.0 / 140.0 | 7 | 1 (none:1) | 1 | 12.3 | 0.50 | 0.25 | 125000 | 16.0 | 300 | 1.5–2.2 |"},
		{"without_server", result{Target: "centrifugo", Clients: 100, PerClient: 20, Connected: 99},
			"| centrifugo | 100 | 20 | 99 | 2000 | 20.0 | 40.0 | 40.0 | 40.0 | 120.0 / 140.0 | 7 | 1 (none:1) | 1 | - | - | 0.00 | 0 | 16.0 | 300 | 0.0–0.0 |"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			r.fill(tl, 2*time.Second)
			if r.Frames != 250 || r.QuotesPerFrame != 16 || r.BytesPerQuote != 300 {
				t.Errorf("fill() frames %d, quotes per frame %v, bytes per quote %v, want 250, 16, 300", r.Frames, r.QuotesPerFrame, r.BytesPerQuote)
			}
			if tt.r.ServerPID != 0 && r.ServerCPUPerMsg != 250000 {
				t.Errorf("fill() server CPU per quote = %v ns, want 250000 (0.5 cores, 2 s, 4000 quotes)", r.ServerCPUPerMsg)
			}
			// p50 of 10..40 ms is 20 ms, within the histogram's 0.8%.
			if got := r.row(); !sameRow(got, tt.want) {
				t.Errorf("row() = %s, want %s", got, tt.want)
			}
			head := strings.Split(tableHeader, "\n")[0]
			if h, w := strings.Count(head, "|"), strings.Count(tt.want, "|"); h != w {
				t.Errorf("tableHeader has %d columns, want the row's %d", h-1, w-1)
			}
		})
	}
}

// sameRow compares rows, allowing the latency cells the histogram's
// rounding: their first digits must match.
func sameRow(got, want string) bool {
	g, w := strings.Split(got, "|"), strings.Split(want, "|")
	if len(g) != len(w) {
		return false
	}
	for i := range g {
		a, b := strings.TrimSpace(g[i]), strings.TrimSpace(w[i])
		if i >= 6 && i <= 10 { // p50 .. max, and the pulse p50 / p99
			as, bs := strings.Split(a, " / "), strings.Split(b, " / ")
			if len(as) != len(bs) {
				return false
			}
			for j := range as {
				if len(as[j]) < 2 || len(bs[j]) < 2 || as[j][:2] != bs[j][:2] {
					return false
				}
			}
			continue
		}
		if a != b {
			return false
		}
	}
	return true
}

func TestPulseStart(t *testing.T) {
	at := time.Date(2026, 12, 4, 1, 2, 3, 250_000_000, time.UTC)
	tests := []struct {
		name  string
		pulse time.Duration
		want  time.Time
	}{
		{"every_second", time.Second, time.Date(2026, 12, 4, 1, 2, 3, 0, time.UTC)},
		{"every_minute", time.Minute, time.Date(2026, 12, 4, 1, 2, 0, 0, time.UTC)},
		{"stamped_at_start", 0, at}, // the Centrifugo publisher's stamp
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTally()
			tl.pulse = tt.pulse
			if got := tl.pulseStart(at); !got.Equal(tt.want) {
				t.Errorf("pulseStart(%v) with pulse %v = %v, want %v", at, tt.pulse, got, tt.want)
			}
		})
	}
}
