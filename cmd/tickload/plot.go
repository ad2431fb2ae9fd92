package main

import (
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
)

// series is one line pair of the chart: the results of one build.
type series struct {
	label   string
	results []result // sorted by clients
}

// runPlot is "tickload plot": it writes an SVG chart of p50 and p99
// latency against the number of clients, from results saved with -json.
//
//	tickload plot [-o FILE] [-goal MS] [-pulse] LABEL=RESULT.json,RESULT.json... ...
func runPlot(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tickload plot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the SVG here instead of to standard output")
	goal := fs.Float64("goal", 100, "draw the p99 goal at this many milliseconds (0: none)")
	title := fs.String("title", "Websocket fan-out latency, K=20 symbols per client", "chart title")
	pulse := fs.Bool("pulse", false, "plot the latency from each quote's pulse start (pulse_p50_ms, pulse_p99_ms) instead of from its collected_at")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: plot: want LABEL=FILE[,FILE] arguments", errUsage)
	}
	var all []series
	for _, arg := range fs.Args() {
		label, files, ok := strings.Cut(arg, "=")
		if !ok || label == "" || files == "" {
			return fmt.Errorf("%w: plot: %q: want LABEL=FILE[,FILE]", errUsage, arg)
		}
		s := series{label: label}
		for _, f := range splitList(files) {
			r, err := readResult(f)
			if err != nil {
				return err
			}
			if *pulse {
				if r.PulseP99ms <= 0 {
					return fmt.Errorf("plot: %s: no pulse latency (a result of a tickload before -pulse)", f)
				}
				r.P50ms, r.P99ms = r.PulseP50ms, r.PulseP99ms
			}
			s.results = append(s.results, r)
		}
		slices.SortFunc(s.results, func(a, b result) int { return cmp.Compare(a.Clients, b.Clients) })
		all = append(all, s)
	}
	svg := plotSVG(*title, all, *goal)
	if *out == "" {
		_, err := io.WriteString(stdout, svg)
		return err
	}
	if err := os.WriteFile(*out, []byte(svg), 0o644); err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	return nil
}

func readResult(path string) (result, error) {
	var r result
	b, err := os.ReadFile(path)
	if err != nil {
		return r, fmt.Errorf("plot: %w", err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("plot: %s: %w", path, err)
	}
	if r.Clients <= 0 {
		return r, fmt.Errorf("plot: %s: no clients: not a tickload -json result", path)
	}
	return r, nil
}

// Chart geometry, in SVG user units.
const (
	plotW, plotH             = 780, 440
	marginL, marginR         = 70, 220
	marginT, marginB         = 40, 50
	yMinMs, yMaxMs   float64 = 1, 10000 // the log latency axis
)

var seriesColors = []string{"#c0392b", "#2471a3", "#229954", "#7d3c98"}

// plotSVG draws the chart: clients on a log axis, latency on a log axis,
// p99 solid and p50 dashed for each series, the goal dotted.
func plotSVG(title string, all []series, goal float64) string {
	minN, maxN := math.MaxInt, 0
	for _, s := range all {
		for _, r := range s.results {
			minN, maxN = min(minN, r.Clients), max(maxN, r.Clients)
		}
	}
	loN, hiN := math.Log10(float64(minN)), math.Log10(float64(maxN))
	if hiN-loN < 1 {
		loN, hiN = loN-0.5, hiN+0.5
	} else {
		loN, hiN = loN-0.15, hiN+0.15
	}
	x := func(n int) float64 {
		return marginL + (math.Log10(float64(n))-loN)/(hiN-loN)*(plotW-marginL-marginR)
	}
	y := func(ms float64) float64 {
		ms = min(max(ms, yMinMs), yMaxMs)
		f := (math.Log10(ms) - math.Log10(yMinMs)) / (math.Log10(yMaxMs) - math.Log10(yMinMs))
		return plotH - marginB - f*(plotH-marginT-marginB)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", plotW, plotH, plotW, plotH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", plotW, plotH)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", marginL, xmlEscape(title))
	// Axes, grid and labels.
	x0, x1, y0, y1 := float64(marginL), float64(plotW-marginR), float64(plotH-marginB), float64(marginT)
	fmt.Fprintf(&b, `<path d="M%.1f %.1fV%.1fH%.1f" fill="none" stroke="black"/>`+"\n", x0, y1, y0, x1)
	for ms := yMinMs; ms <= yMaxMs; ms *= 10 {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x0, y(ms), x1, y(ms))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%g</text>`+"\n", x0-6, y(ms)+4, ms)
	}
	fmt.Fprintf(&b, `<text transform="translate(18 %.1f) rotate(-90)" text-anchor="middle">latency, ms (log)</text>`+"\n", (y0+y1)/2)
	var ticks []int
	for _, s := range all {
		for _, r := range s.results {
			if !slices.Contains(ticks, r.Clients) {
				ticks = append(ticks, r.Clients)
			}
		}
	}
	for _, n := range ticks {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x(n), y0, x(n), y1)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%d</text>`+"\n", x(n), y0+16, n)
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">websocket clients (log)</text>`+"\n", (x0+x1)/2, y0+36)
	if goal > 0 {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black" stroke-dasharray="2 3"/>`+"\n", x0, y(goal), x1, y(goal))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">p99 goal %g ms</text>`+"\n", x1-4, y(goal)-5, goal)
	}
	// The series and the legend.
	for i, s := range all {
		color := seriesColors[i%len(seriesColors)]
		for _, line := range []struct {
			name string
			ms   func(result) float64
			dash string
		}{
			{"p99", func(r result) float64 { return r.P99ms }, ""},
			{"p50", func(r result) float64 { return r.P50ms }, ` stroke-dasharray="6 4"`},
		} {
			var pts []string
			for _, r := range s.results {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(r.Clients), y(line.ms(r))))
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), color, line.dash)
			for _, r := range s.results {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s %s, N=%d: %.1f ms</title></circle>`+"\n",
					x(r.Clients), y(line.ms(r)), color, xmlEscape(s.label), line.name, r.Clients, line.ms(r))
			}
			ly := float64(marginT+20) + float64(i)*40
			if line.name == "p50" {
				ly += 18
			}
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", x1+14, ly, x1+44, ly, color, line.dash)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s %s</text>`+"\n", x1+50, ly+4, xmlEscape(s.label), line.name)
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
