package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// result is one run's figures; -json prints it as is. Durations are in
// milliseconds, memory in bytes unless named KiB.
type result struct {
	Target          string         `json:"target"`             // tickerd or centrifugo
	Batch           bool           `json:"batch,omitempty"`    // tickerd batch frames (-batch)
	Clients         int            `json:"clients"`            // -n
	PerClient       int            `json:"symbols_per_client"` // -k
	Symbols         int            `json:"symbols"`            // distinct symbols the clients spread over
	Connected       int            `json:"connected"`          // clients subscribed when the window opened
	Unlaunched      int            `json:"unlaunched"`         // clients not even tried before the connect timeout
	ConnectErrors   int64          `json:"connect_errors"`     // dials or subscriptions that failed
	FirstError      string         `json:"first_connect_error,omitempty"`
	ConnectSeconds  float64        `json:"connect_seconds"` // time to connect and subscribe every client
	SettleSeconds   float64        `json:"settle_seconds"`  // -settle
	WindowSeconds   float64        `json:"window_seconds"`
	Delivered       int64          `json:"delivered"` // quotes received in the window
	Frames          int64          `json:"frames"`    // data frames received in the window (for centrifugo its pings too: see pongs)
	QuotesPerFrame  float64        `json:"quotes_per_frame"`
	BytesPerQuote   float64        `json:"frame_bytes_per_quote"` // frame payload bytes received in the window per delivered quote
	QuotesPerSecond float64        `json:"quotes_per_second"`
	P50ms           float64        `json:"p50_ms"` // collected_at to arrival
	P99ms           float64        `json:"p99_ms"`
	P999ms          float64        `json:"p999_ms"`
	MaxMs           float64        `json:"max_ms"`
	MeanMs          float64        `json:"mean_ms"`
	PulseP50ms      float64        `json:"pulse_p50_ms"` // the start of the quote's pulse to arrival (-pulse)
	PulseP99ms      float64        `json:"pulse_p99_ms"`
	Coalesced       int64          `json:"coalesced"`   // quotes the server skipped (seq gaps) in the window
	Disconnects     int64          `json:"disconnects"` // connections the server or network ended
	CloseCodes      map[string]int `json:"disconnect_close_codes,omitempty"`
	BadMessages     int64          `json:"bad_messages"` // unreadable or "error" messages
	ServerPID       int            `json:"server_pid,omitempty"`
	RSSBefore       int64          `json:"server_rss_before,omitempty"`
	RSSAfter        int64          `json:"server_rss_after,omitempty"`
	RSSPerClientKiB float64        `json:"server_rss_per_client_kib,omitempty"`
	ServerCPU       float64        `json:"server_cpu_cores,omitempty"`        // CPU seconds per second in the window
	ServerCPUPerMsg float64        `json:"server_cpu_ns_per_quote,omitempty"` // server CPU time in the window per delivered quote
	LoadCPU         float64        `json:"tickload_cpu_cores"`
	LoadCPUPerMsg   float64        `json:"tickload_cpu_ns_per_quote"` // tickload's CPU time in the window per delivered quote
	LoadAvgStart    float64        `json:"load_avg_start"`            // the machine's 1-minute load average as the window opened
	LoadAvgEnd      float64        `json:"load_avg_end"`              // and as it closed
	Pongs           int64          `json:"pongs,omitempty"`           // centrifugo: pings answered
	Pulses          int64          `json:"pulses,omitempty"`          // centrifugo: publish batches accepted in the window
	PublishErrors   int64          `json:"publish_errors,omitempty"`  // centrifugo: failed batches and refused publishes, whole run
	Slow            int            `json:"slow_clients,omitempty"`    // -slow clients connected, never reading; not in the figures above
}

// fill copies t's figures, over a window of elapsed, into r. The clients
// must have stopped counting.
func (r *result) fill(t *tally, elapsed time.Duration) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	r.WindowSeconds = elapsed.Seconds()
	r.Delivered = t.delivered.Load()
	r.Frames = t.frames.Load()
	if r.Frames > 0 {
		r.QuotesPerFrame = float64(r.Delivered) / float64(r.Frames)
	}
	if r.Delivered > 0 {
		r.BytesPerQuote = float64(t.frameBytes.Load()) / float64(r.Delivered)
	}
	r.QuotesPerSecond = float64(r.Delivered) / elapsed.Seconds()
	r.P50ms, r.P99ms, r.P999ms = ms(t.lat.quantile(0.5)), ms(t.lat.quantile(0.99)), ms(t.lat.quantile(0.999))
	r.MaxMs, r.MeanMs = ms(time.Duration(t.lat.max.Load())), ms(t.lat.mean())
	r.PulseP50ms, r.PulseP99ms = ms(t.pulseLat.quantile(0.5)), ms(t.pulseLat.quantile(0.99))
	r.Coalesced = t.coalesced.Load()
	r.Disconnects = t.disconnects.Load()
	r.ConnectErrors = t.connectErrs.Load()
	r.BadMessages = t.badMessages.Load()
	r.Pongs = t.pongs.Load()
	if r.Delivered > 0 {
		perMsg := func(cores float64) float64 { return cores * elapsed.Seconds() * 1e9 / float64(r.Delivered) }
		r.LoadCPUPerMsg = perMsg(r.LoadCPU)
		if r.ServerPID != 0 {
			r.ServerCPUPerMsg = perMsg(r.ServerCPU)
		}
	}
	t.mu.Lock()
	r.FirstError = t.firstErr
	if len(t.closeCodes) > 0 {
		r.CloseCodes = maps.Clone(t.closeCodes)
	}
	t.mu.Unlock()
}

// tableHeader heads the rows of row, as a Markdown table.
const tableHeader = "| target | N | K | connected | quotes/s | p50 ms | p99 ms | p99.9 ms | max ms | pulse p50 / p99 ms | coalesced | disconnects | connect errors | server RSS/client KiB | server CPU | tickload CPU | tickload ns/quote | quotes/frame | bytes/quote | load avg |\n" +
	"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"

// row returns r as a Markdown table row.
func (r *result) row() string {
	rss, cpu := "-", "-"
	if r.ServerPID != 0 {
		rss, cpu = fmt.Sprintf("%.1f", r.RSSPerClientKiB), fmt.Sprintf("%.2f", r.ServerCPU)
	}
	disc := fmt.Sprint(r.Disconnects)
	if len(r.CloseCodes) > 0 {
		var parts []string
		for _, code := range slices.Sorted(maps.Keys(r.CloseCodes)) {
			parts = append(parts, fmt.Sprintf("%s:%d", code, r.CloseCodes[code]))
		}
		disc += " (" + strings.Join(parts, " ") + ")"
	}
	target := r.Target
	if r.Batch {
		target += " batch"
	}
	return fmt.Sprintf("| %s | %d | %d | %d | %.0f | %.1f | %.1f | %.1f | %.1f | %.1f / %.1f | %d | %s | %d | %s | %s | %.2f | %.0f | %.1f | %.0f | %.1f–%.1f |",
		target, r.Clients, r.PerClient, r.Connected, r.QuotesPerSecond, r.P50ms, r.P99ms, r.P999ms, r.MaxMs, r.PulseP50ms, r.PulseP99ms,
		r.Coalesced, disc, r.ConnectErrors, rss, cpu, r.LoadCPU, r.LoadCPUPerMsg, r.QuotesPerFrame, r.BytesPerQuote, r.LoadAvgStart, r.LoadAvgEnd)
}
