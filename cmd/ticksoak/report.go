package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// result is a whole soak.
type result struct {
	Phase       string        `json:"phase"`
	Symbols     int           `json:"healthy_symbols"`
	Phases      []phaseResult `json:"phases"`
	StopSeconds float64       `json:"stop_seconds"`
	ExitCode    int           `json:"exit_code"`
	Panicked    bool          `json:"panicked"`
	Log         string        `json:"-"`
}

// phaseResult is one phase: one fault for the phase's duration.
type phaseResult struct {
	Fault        string         `json:"fault"`
	Samples      int            `json:"samples"`
	HealthyFresh int            `json:"healthy_fresh"` // samples in which every healthy symbol was fresh
	Unanswered   int            `json:"unanswered"`    // samples /api/quotes did not answer
	VictimStates map[string]int `json:"victim_states"` // samples per state of the victim
	Goroutines   int            `json:"goroutines"`    // at the phase's end
	RSSBytes     int64          `json:"rss_bytes"`
	OpenFDs      int            `json:"open_fds"`
	Requests     int64          `json:"upstream_requests"`
	Conns        int64          `json:"upstream_connections"`
}

func (p phaseResult) freshPct() float64 {
	if p.Samples == 0 {
		return 0
	}
	return 100 * float64(p.HealthyFresh) / float64(p.Samples)
}

func (r *result) writeTable(w io.Writer) {
	fmt.Fprintf(w, "| fault (%s each) | samples | healthy fresh | victim | unanswered | goroutines | RSS MiB | fds | upstream req | upstream conns |\n", r.Phase)
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	for _, p := range r.Phases {
		var states []string
		for _, s := range slices.Sorted(maps.Keys(p.VictimStates)) {
			states = append(states, fmt.Sprintf("%s %d", s, p.VictimStates[s]))
		}
		fmt.Fprintf(w, "| %s | %d | %.1f%% | %s | %d | %d | %.1f | %d | %d | %d |\n", p.Fault, p.Samples, p.freshPct(), strings.Join(states, ", "),
			p.Unanswered, p.Goroutines, float64(p.RSSBytes)/(1<<20), p.OpenFDs, p.Requests, p.Conns)
	}
	fmt.Fprintf(w, "\nSIGTERM: exit %d after %.2fs; panicked: %v\n", r.ExitCode, r.StopSeconds, r.Panicked)
}

// verdict returns why the soak failed, nil if it did not: a panic, a
// non-zero exit, unanswered samples, or growth past the margins from the
// warm-up (the first phase) to the last healthy phase.
func (r *result) verdict() error {
	var errs []error
	if r.Panicked {
		errs = append(errs, errors.New("tickerd panicked"))
	}
	if r.ExitCode != 0 {
		errs = append(errs, fmt.Errorf("tickerd exited %d after SIGTERM", r.ExitCode))
	}
	for _, p := range r.Phases {
		if p.Unanswered > 0 {
			errs = append(errs, fmt.Errorf("%s: /api/quotes unanswered in %d samples", p.Fault, p.Unanswered))
		}
	}
	if n := len(r.Phases); n >= 2 {
		first, last := r.Phases[0], r.Phases[n-1]
		if d := last.Goroutines - first.Goroutines; d > maxGoroutineGrowth {
			errs = append(errs, fmt.Errorf("goroutines grew by %d (%d to %d)", d, first.Goroutines, last.Goroutines))
		}
		if d := last.OpenFDs - first.OpenFDs; d > maxFDGrowth {
			errs = append(errs, fmt.Errorf("open descriptors grew by %d (%d to %d)", d, first.OpenFDs, last.OpenFDs))
		}
		if d := last.RSSBytes - first.RSSBytes; d > maxRSSGrowth {
			errs = append(errs, fmt.Errorf("RSS grew by %d MiB", d>>20))
		}
	}
	return errors.Join(errs...)
}
