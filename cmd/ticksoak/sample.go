package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// sampleEvery is the time between samples of /api/quotes.
const sampleEvery = 250 * time.Millisecond

// freshWithin is how recent a healthy symbol's quote must be to count as
// fresh: two pulses and a half, so that one missed pulse is not stale.
const freshWithin = 2500 * time.Millisecond

// sampler reads a running tickerd's state over HTTP.
type sampler struct {
	base   string
	client *http.Client
	victim string
}

// quotes is the part of GET /api/quotes the sampler reads.
type quotes struct {
	Quotes []struct {
		Symbol      string    `json:"symbol"`
		Stale       bool      `json:"stale"`
		Unknown     bool      `json:"unknown"`
		CollectedAt time.Time `json:"collected_at"`
		Error       string    `json:"error"`
	} `json:"quotes"`
}

// waitReady waits up to 10s for /readyz, or for tickerd to exit.
func (s *sampler) waitReady(ctx context.Context, exited <-chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := s.client.Get(s.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("tickerd exited at start: %v", err)
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("tickerd not ready within 10s")
}

// phase samples for d while the upstream shows fault f.
func (s *sampler) phase(ctx context.Context, f fault, d time.Duration, exited <-chan error) (phaseResult, error) {
	ph := phaseResult{Fault: string(f), VictimStates: map[string]int{}}
	end := time.Now().Add(d)
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	for time.Now().Before(end) {
		select {
		case err := <-exited:
			return ph, fmt.Errorf("tickerd exited: %v", err)
		case <-ctx.Done():
			return ph, context.Cause(ctx)
		case <-tick.C:
		}
		var q quotes
		if err := s.getJSON("/api/quotes", &q); err != nil {
			ph.Unanswered++
			continue
		}
		now := time.Now()
		ph.Samples++
		fresh := true
		for _, x := range q.Quotes {
			if x.Symbol == s.victim {
				state := "fresh"
				switch {
				case x.Unknown:
					state = "unknown"
				case x.Stale:
					state = "stale"
				case now.Sub(x.CollectedAt) > freshWithin:
					state = "late"
				}
				ph.VictimStates[state]++
				continue
			}
			if x.Stale || now.Sub(x.CollectedAt) > freshWithin {
				fresh = false
			}
		}
		if fresh {
			ph.HealthyFresh++
		}
	}
	m, err := s.metrics()
	if err != nil {
		return ph, fmt.Errorf("scrape /metrics: %w", err)
	}
	ph.Goroutines, ph.RSSBytes, ph.OpenFDs = int(m["go_goroutines"]), int64(m["process_resident_memory_bytes"]), int(m["process_open_fds"])
	return ph, nil
}

func (s *sampler) getJSON(path string, v any) error {
	resp, err := s.client.Get(s.base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// metrics returns the value of every unlabelled gauge /metrics exports.
func (s *sampler) metrics() (map[string]float64, error) {
	resp, err := s.client.Get(s.base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64)
	for name, f := range fams {
		if ms := f.GetMetric(); len(ms) == 1 && len(ms[0].GetLabel()) == 0 && ms[0].GetGauge() != nil {
			out[name] = ms[0].GetGauge().GetValue()
		}
	}
	return out, nil
}
