package api_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/tickerd/tickerd/internal/api"
	"github.com/tickerd/tickerd/internal/collector"
)

func TestStatus(t *testing.T) {
	f := newFakeDoer()
	f.vendor["NVDA"] = true
	clock := now
	c, b := newCollector(f, []string{"AAPL", "MSFT", "NVDA", "TSLA"}, &collector.Options{Now: func() time.Time { return clock }})
	url := serve(t, b, &api.Options{Now: func() time.Time { return clock }})

	read := func(step string) api.Status {
		t.Helper()
		resp, body := do(t, http.MethodGet, url+"/api/status", nil)
		var st api.Status
		if err := json.Unmarshal(body, &st); resp.StatusCode != 200 || err != nil {
			t.Fatalf("%s: GET /api/status = %d %s (%v), want 200 and a Status", step, resp.StatusCode, body, err)
		}
		return st
	}
	st := read("before_pulse")
	if st.Health != "starting" || st.Symbols != 4 || st.FreshRatio != 0 || st.SecondsSinceLastSuccess != nil || st.LastSuccess != nil ||
		!reflect.DeepEqual(st.States, map[string]int{"fresh": 0, "stale": 0, "pending": 4, "unknown": 0}) || st.Epoch != b.Epoch() {
		t.Errorf("before_pulse: status = %+v, want starting, 4 pending, no last success, epoch %s", st, b.Epoch())
	}

	collect(t, c) // NVDA fails
	clock = clock.Add(3 * time.Second)
	st = read("one_failing")
	if st.Health != "degraded" || st.FreshRatio != 0.75 || !reflect.DeepEqual(st.States, map[string]int{"fresh": 3, "stale": 1, "pending": 0, "unknown": 0}) {
		t.Errorf("one_failing: status = %+v, want degraded, 0.75, 3 fresh 1 stale", st)
	}
	if st.SecondsSinceLastSuccess == nil || *st.SecondsSinceLastSuccess != 3 || st.LastSuccess == nil || !st.LastSuccess.Equal(now) {
		t.Errorf("one_failing: last success %v, %v seconds ago; want %v, 3", st.LastSuccess, st.SecondsSinceLastSuccess, now)
	}

	// An unchanged quote keeps its collection time: without a LastSuccess
	// hook the status can only say when a price last changed.
	clock = clock.Add(20 * time.Second)
	if st = read("later"); *st.SecondsSinceLastSuccess != 23 {
		t.Errorf("later: %v s since last success, want 23", *st.SecondsSinceLastSuccess)
	}

	f.mu.Lock()
	f.vendor["NVDA"] = false
	f.mu.Unlock()
	f.set("AAPL", 200, 1)
	collect(t, c)
	st = read("all_fresh")
	if st.Health != "ok" || st.FreshRatio != 1 || st.States["fresh"] != 4 || *st.SecondsSinceLastSuccess != 0 {
		t.Errorf("all_fresh: status = %+v, want ok, ratio 1, 4 fresh, 0 s", st)
	}

	f.mu.Lock()
	f.vendor["AAPL"], f.vendor["MSFT"], f.vendor["NVDA"], f.vendor["TSLA"] = true, true, true, true
	f.mu.Unlock()
	collect(t, c)
	if st = read("all_failing"); st.Health != "down" || st.FreshRatio != 0 || st.States["stale"] != 4 {
		t.Errorf("all_failing: status = %+v, want down, ratio 0, 4 stale", st)
	}
}

// TestStatusLastSuccessHook: the service's hook, not the quotes' times,
// says when a collection last succeeded.
func TestStatusLastSuccessHook(t *testing.T) {
	f := newFakeDoer()
	c, b := newCollector(f, []string{"AAPL"}, &collector.Options{Now: func() time.Time { return now }})
	collect(t, c)
	last := now.Add(time.Minute)
	url := serve(t, b, &api.Options{Now: func() time.Time { return last.Add(1500 * time.Millisecond) }, LastSuccess: func() time.Time { return last }})
	_, body := do(t, http.MethodGet, url+"/api/status", nil)
	var st api.Status
	if err := json.Unmarshal(body, &st); err != nil || st.SecondsSinceLastSuccess == nil || *st.SecondsSinceLastSuccess != 1.5 || !st.LastSuccess.Equal(last) {
		t.Errorf("GET /api/status = %s, want last_success %v, 1.5 s ago", body, last)
	}
}
