package service_test

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/tickerd/tickerd/internal/config"
	"github.com/tickerd/tickerd/internal/sim"
)

// dashboardPath is the Grafana dashboard over the service's metrics.
const dashboardPath = "../../deploy/grafana/tickerd.json"

// grafanaPanel is the part of a Grafana panel the test reads; rows nest
// their panels when collapsed.
type grafanaPanel struct {
	ID      int    `json:"id"`
	Title   string `json:"title"`
	Type    string `json:"type"`
	GridPos struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"`
}

// grafanaDashboard is the part of a dashboard the test reads.
type grafanaDashboard struct {
	UID        string         `json:"uid"`
	Panels     []grafanaPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"` // a string, or {"query": "..."}
		} `json:"list"`
	} `json:"templating"`
}

// grafanaVar matches a Grafana variable: $name, ${name} or ${name:format}.
var grafanaVar = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)`)

// expandGrafana replaces Grafana's variables in a query with what Grafana
// would send: the interval variables with a duration, the dashboard's own
// (vars) with a regular expression matching anything. An unknown variable
// is left as it is, so that the query fails to parse.
func expandGrafana(q string, vars []string) string {
	return grafanaVar.ReplaceAllStringFunc(q, func(v string) string {
		m := grafanaVar.FindStringSubmatch(v)
		name := m[1] + m[2]
		switch {
		case name == "__rate_interval" || name == "__interval" || name == "__range":
			return "5m"
		case name == "__range_s" || name == "__interval_ms":
			return "300"
		case slices.Contains(vars, name):
			return ".*"
		}
		return v
	})
}

// labelValues matches Grafana's label_values(metric, label) and
// label_values(label) variable queries.
var labelValues = regexp.MustCompile(`^label_values\((?:(.+),\s*)?(\w+)\)$`)

// seriesNames returns the series names a scrape holds, by family: a
// histogram's _bucket, _sum and _count, a summary's _sum and _count.
func seriesNames(fams map[string]*dto.MetricFamily) map[string]*dto.MetricFamily {
	out := make(map[string]*dto.MetricFamily)
	for name, f := range fams {
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				out[name+s] = f
			}
		case dto.MetricType_SUMMARY:
			out[name] = f
			out[name+"_sum"], out[name+"_count"] = f, f
		default:
			out[name] = f
		}
	}
	return out
}

// hasLabel reports whether a series of f carries label (le for a
// histogram's buckets, quantile for a summary's).
func hasLabel(f *dto.MetricFamily, label string) bool {
	switch {
	case label == "le" && f.GetType() == dto.MetricType_HISTOGRAM,
		label == "quantile" && f.GetType() == dto.MetricType_SUMMARY:
		return true
	}
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				return true
			}
		}
	}
	return false
}

// scrapeLabels are the labels Prometheus adds to every series it scrapes.
var scrapeLabels = []string{"instance", "job"}

// TestGrafanaDashboard parses every query of deploy/grafana/tickerd.json
// with the PromQL parser and checks that every metric it names is in a
// real scrape of a running service, with the labels it matches or groups
// by; and that the dashboard covers clients, deliveries, latency,
// collection outcomes and staleness.
func TestGrafanaDashboard(t *testing.T) {
	data, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var dash grafanaDashboard
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}

	// A service with a failing and an unknown symbol, after a pulse: the
	// metrics with labels have series.
	up := startUpstream(t, &failFirst{next: sim.New(&sim.Options{Seed: 1}), sym: "MSFT", n: 1 << 30})
	cfg := testConfig(config.KindNasdaq, up.url, neverInTest, []string{"AAPL", "MSFT", "ZZZZ"})
	r := start(t, cfg, nil)
	waitFirstPulse(t, r.svc.Board(), cfg.Symbols)
	status, body := r.get(t, "/metrics")
	if status != http.StatusOK {
		t.Fatalf("GET /metrics = %d, want 200", status)
	}
	tp := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := tp.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	series := seriesNames(fams)

	var vars []string
	for _, v := range dash.Templating.List {
		vars = append(vars, v.Name)
	}
	// The queries: the panels' (rows' nested ones too), then the
	// variables'.
	type query struct{ where, expr string }
	var queries []query
	ids := make(map[int]string)
	var walk func(ps []grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			if other, dup := ids[p.ID]; dup {
				t.Errorf("panels %q and %q have the same id %d", other, p.Title, p.ID)
			}
			ids[p.ID] = p.Title
			if p.GridPos.W < 1 || p.GridPos.X < 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("panel %q gridPos %+v, want within the 24 columns", p.Title, p.GridPos)
			}
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no queries", p.Title)
			}
			refs := make(map[string]bool)
			for _, tg := range p.Targets {
				if refs[tg.RefID] || tg.RefID == "" {
					t.Errorf("panel %q: refId %q empty or repeated", p.Title, tg.RefID)
				}
				refs[tg.RefID] = true
				queries = append(queries, query{"panel " + p.Title + " " + tg.RefID, tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		if json.Unmarshal(v.Query, &q) != nil {
			var obj struct{ Query string }
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				t.Fatalf("variable %s: query %s: %v", v.Name, v.Query, err)
			}
			q = obj.Query
		}
		m := labelValues.FindStringSubmatch(strings.TrimSpace(q))
		if m == nil || m[1] == "" {
			t.Errorf("variable %s: query %q, want label_values(metric, label)", v.Name, q)
			continue
		}
		queries = append(queries, query{"variable " + v.Name, m[1]})
		if !slices.Contains(scrapeLabels, m[2]) {
			queries = append(queries, query{"variable " + v.Name, "group by (" + m[2] + ") (" + m[1] + ")"})
		}
	}

	if len(queries) == 0 {
		t.Fatalf("%s has no queries", dashboardPath)
	}
	used := make(map[string]bool)
	for _, q := range queries {
		if strings.TrimSpace(q.expr) == "" {
			t.Errorf("%s: empty query", q.where)
			continue
		}
		expr, err := parser.NewParser(parser.Options{}).ParseExpr(expandGrafana(q.expr, vars))
		if err != nil {
			t.Errorf("%s: %q does not parse: %v", q.where, q.expr, err)
			continue
		}
		checkSelectors(t, q.where, expr, series, used)
	}

	// What the dashboard is for: one metric at least of each.
	for what, names := range map[string][]string{
		"clients":             {"tickerd_ws_clients"},
		"deliveries":          {"tickerd_ws_messages_sent_total"},
		"latency":             {"tickerd_collection_seconds_bucket"},
		"collection outcomes": {"tickerd_collections_total"},
		"staleness":           {"tickerd_symbols", "tickerd_symbols_fresh_ratio", "tickerd_last_success_timestamp_seconds"},
	} {
		if !slices.ContainsFunc(names, func(n string) bool { return used[n] }) {
			t.Errorf("the dashboard shows no %s: it uses none of %q", what, names)
		}
	}
}

// checkSelectors checks every selector in expr: its metric is in series
// and the labels it matches are on that metric; every label an
// aggregation groups by is on one of the metrics below it. It notes the
// metrics in used.
func checkSelectors(t *testing.T, where string, expr parser.Expr, series map[string]*dto.MetricFamily, used map[string]bool) {
	t.Helper()
	// selectors returns the metric families the selectors below n name.
	selectors := func(n parser.Node) []*dto.MetricFamily {
		var out []*dto.MetricFamily
		parser.Inspect(n, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok && series[metricName(vs)] != nil {
				out = append(out, series[metricName(vs)])
			}
			return nil
		})
		return out
	}
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			name := metricName(n)
			used[name] = true
			f := series[name]
			if f == nil {
				if strings.HasPrefix(name, "process_") && runtime.GOOS != "linux" {
					return nil // the process collector's are complete on linux only
				}
				t.Errorf("%s: metric %q (in %s) is not in a /metrics scrape", where, name, n)
				return nil
			}
			for _, m := range n.LabelMatchers {
				if m.Name != model.MetricNameLabel && !slices.Contains(scrapeLabels, m.Name) && !hasLabel(f, m.Name) {
					t.Errorf("%s: %s matches label %q, which %s does not have", where, n, m.Name, name)
				}
			}
		case *parser.AggregateExpr:
			fams := selectors(n.Expr)
			for _, l := range n.Grouping {
				if slices.Contains(scrapeLabels, l) {
					continue
				}
				if !slices.ContainsFunc(fams, func(f *dto.MetricFamily) bool { return hasLabel(f, l) }) {
					t.Errorf("%s: %s groups by %q, which none of its metrics has", where, n, l)
				}
			}
		}
		return nil
	})
}

// metricName returns the metric a selector names, by name or __name__.
func metricName(vs *parser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel {
			return m.Value
		}
	}
	return ""
}
