package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeResult saves r as tickload -json would, as dir/name, and returns
// its path.
func writeResult(t *testing.T, dir, name string, r result) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("json.Marshal() = %v", err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatalf("WriteFile() = %v", err)
	}
	return p
}

func TestPlot(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, r result) string { return writeResult(t, dir, name, r) }
	// Written out of order: the chart sorts by clients.
	big := write("big.json", result{Clients: 10000, P50ms: 40, P99ms: 120})
	small := write("small.json", result{Clients: 100, P50ms: 2, P99ms: 9})
	before := write("before.json", result{Clients: 100, P50ms: 3, P99ms: 5000})
	var out bytes.Buffer
	args := []string{"plot", "-goal", "100", "after=" + big + "," + small, "before<1>=" + before}
	if err := run(t.Context(), args, &out, io.Discard); err != nil {
		t.Fatalf("run(%q) = %v", args, err)
	}
	// Well-formed XML with one p99 and one p50 line per series.
	var doc struct {
		Polylines []struct {
			Points string `xml:"points,attr"`
		} `xml:"polyline"`
		Circles []struct{} `xml:"circle"`
	}
	if err := xml.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("plot output is not XML: %v\n%s", err, out.String())
	}
	if len(doc.Polylines) != 4 || len(doc.Circles) != 6 {
		t.Fatalf("plot drew %d lines and %d points, want 4 and 6", len(doc.Polylines), len(doc.Circles))
	}
	// The first line is the p99 of "after", left (N=100) to right: the
	// point at 120 ms is higher (a smaller y) than the one at 9 ms.
	var x1, y1, x2, y2 float64
	if _, err := fmt.Sscanf(doc.Polylines[0].Points, "%f,%f %f,%f", &x1, &y1, &x2, &y2); err != nil {
		t.Fatalf("points %q: %v", doc.Polylines[0].Points, err)
	}
	if !(x1 < x2 && y2 < y1) {
		t.Fatalf("p99 line %q: want N rising left to right and 120 ms above 9 ms", doc.Polylines[0].Points)
	}
	if !strings.Contains(out.String(), "before&lt;1&gt; p99") || !strings.Contains(out.String(), "p99 goal 100 ms") {
		t.Fatalf("plot output lacks the escaped legend or the goal:\n%s", out.String())
	}
}

func TestPlotErrors(t *testing.T) {
	dir := t.TempDir()
	notResult := filepath.Join(dir, "x.json")
	if err := os.WriteFile(notResult, []byte(`{"hello":1}`), 0o644); err != nil {
		t.Fatalf("WriteFile() = %v", err)
	}
	tests := []struct {
		name  string
		args  []string
		usage bool
	}{
		{"no_series", []string{"plot"}, true},
		{"no_label", []string{"plot", "=" + notResult}, true},
		{"missing_file", []string{"plot", "a=" + filepath.Join(dir, "none.json")}, false},
		{"not_a_result", []string{"plot", "a=" + notResult}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(t.Context(), tt.args, io.Discard, io.Discard)
			if err == nil || errors.Is(err, errUsage) != tt.usage {
				t.Fatalf("run(%q) = %v, want an error (usage: %v)", tt.args, err, tt.usage)
			}
		})
	}
}

// TestPlotPulse checks that -pulse charts the latency from each pulse's
// start: the same chart as results whose p50 and p99 were those.
func TestPlotPulse(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, r result) string { return writeResult(t, dir, name, r) }
	both := write("both.json", result{Clients: 1000, P50ms: 2, P99ms: 9, PulseP50ms: 50, PulseP99ms: 200})
	pulseOnly := write("pulse.json", result{Clients: 1000, P50ms: 50, P99ms: 200})
	noPulse := write("old.json", result{Clients: 1000, P50ms: 2, P99ms: 9})
	plot := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(t.Context(), append([]string{"plot"}, args...), &out, io.Discard)
		return out.String(), err
	}
	got, err := plot("-pulse", "a="+both)
	if err != nil {
		t.Fatalf("plot -pulse = %v", err)
	}
	want, err := plot("a=" + pulseOnly)
	if err != nil {
		t.Fatalf("plot = %v", err)
	}
	if got != want {
		t.Errorf("plot -pulse of p50/p99 2/9 ms, pulse 50/200 ms differs from the plot of p50/p99 50/200 ms:\n%s\nwant\n%s", got, want)
	}
	if plain, _ := plot("a=" + both); plain == got {
		t.Errorf("plot without -pulse = the -pulse chart, want the latency from collected_at")
	}
	if _, err := plot("-pulse", "a="+noPulse); err == nil {
		t.Errorf("plot -pulse of a result without pulse latency = nil error, want one")
	}
}
