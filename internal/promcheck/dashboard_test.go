package promcheck

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const fixture = `{
  "title": "t",
  "annotations": {"list": [
    {"builtIn": 1, "name": "Annotations & Alerts"},
    {"name": "Faults", "expr": "x == 1"}
  ]},
  "templating": {"list": [
    {"name": "datasource", "type": "datasource", "query": "prometheus"},
    {"name": "a", "type": "query", "query": "label_values(application)", "includeAll": false},
    {"name": "b", "type": "query", "definition": "label_values(m, name)", "query": {"query": "label_values(m{x=\"1\"}, name)", "refId": "q"}, "includeAll": true, "allValue": ".*"},
    {"name": "c", "type": "query", "query": null, "definition": "label_values(m, instance)", "includeAll": true, "allValue": null}
  ]},
  "panels": [
    {"type": "row", "title": "r", "panels": [
      {"type": "graph", "title": "inner", "targets": [{"refId": "A", "expr": "up"}]}
    ]},
    {"type": "timeseries", "title": "p", "targets": [
      {"refId": "A", "expr": "rate(m[$__rate_interval])"},
      {"refId": "B", "expr": "hidden", "hide": true},
      {"refId": "C", "expr": ""}
    ]}
  ]
}`

func TestLoadDashboard(t *testing.T) {
	d, err := LoadDashboard([]byte(fixture))
	if err != nil {
		t.Fatal(err)
	}
	want := []Query{
		{Panel: "inner", RefID: "A", Expr: "up"},
		{Panel: "p", RefID: "A", Expr: "rate(m[$__rate_interval])"},
		{Panel: "Faults", Expr: "x == 1", Annotation: true},
	}
	if !reflect.DeepEqual(d.Queries, want) {
		t.Errorf("queries = %+v\nwant %+v (rows' panels read, hidden and empty targets left out, annotations with an expr)", d.Queries, want)
	}
	wantVars := []Variable{
		{Name: "datasource", Type: "datasource", Query: "prometheus"},
		{Name: "a", Type: "query", Query: "label_values(application)"},
		{Name: "b", Type: "query", Query: `label_values(m{x="1"}, name)`, IncludeAll: true, AllValue: ".*"},
		{Name: "c", Type: "query", Query: "label_values(m, instance)", IncludeAll: true},
	}
	if !reflect.DeepEqual(d.Variables, wantVars) {
		t.Errorf("variables = %+v\nwant %+v", d.Variables, wantVars)
	}
}

func TestLoadDashboardRejectsBadJSON(t *testing.T) {
	if _, err := LoadDashboard([]byte(`{"panels": 3}`)); err == nil || !strings.Contains(err.Error(), "decode the dashboard") {
		t.Errorf("err = %v", err)
	}
}

func TestLabelValuesCall(t *testing.T) {
	for _, tc := range []struct{ in, sel, label string }{
		{"label_values(application)", "", "application"},
		{"label_values(resilience4j_circuitbreaker_state, instance)", "resilience4j_circuitbreaker_state", "instance"},
		{` label_values(m{a="x, y"} , name) `, `m{a="x, y"}`, "name"},
	} {
		m := labelValuesCall.FindStringSubmatch(tc.in)
		if m == nil || m[1] != tc.sel || m[2] != tc.label {
			t.Errorf("%q: match %q, want selector %q label %q", tc.in, m, tc.sel, tc.label)
		}
	}
	if labelValuesCall.MatchString("query_result(up)") {
		t.Error("query_result matched as label_values")
	}
}

func TestChoose(t *testing.T) {
	for _, tc := range []struct {
		name   string
		v      Variable
		values []string
		want   string
	}{
		{"no values", Variable{IncludeAll: true, AllValue: ".*"}, nil, ""},
		{"all value", Variable{IncludeAll: true, AllValue: ".*"}, []string{"a", "b"}, ".*"},
		{"all as alternation, escaped for a PromQL string", Variable{IncludeAll: true}, []string{"127.0.0.1:80", "b"}, `(127\\.0\\.0\\.1:80|b)`},
		{"first value", Variable{}, []string{"backendCB", "other"}, "backendCB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := choose(tc.v, tc.values); got != tc.want {
				t.Errorf("choose = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestExpand(t *testing.T) {
	vals := Values{"tier": ".*", "__rate_interval": "1250ms", "name": "backendCB", "empty": ""}
	for _, tc := range []struct{ in, want string }{
		{`rate(m{tier=~"$tier"}[$__rate_interval])`, `rate(m{tier=~".*"}[1250ms])`},
		{`m{name=~"${name}", x=~"${name:regex}", y=~"[[name]]"}`, `m{name=~"backendCB", x=~"backendCB", y=~"backendCB"}`},
		{`m{application=~"$empty"}`, `m{application=~""}`},
		{`sum(up)`, `sum(up)`},
	} {
		got, err := vals.Expand(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if _, err := vals.Expand(`m{a="$nope"}`); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("an unknown variable: err = %v, want one naming it", err)
	}
}

func TestRateInterval(t *testing.T) {
	for _, tc := range []struct {
		iv   Intervals
		want time.Duration
	}{
		{Intervals{Scrape: 250 * time.Millisecond, Interval: time.Second}, 1250 * time.Millisecond},
		{Intervals{Scrape: 15 * time.Second, Interval: 15 * time.Second}, time.Minute},
		{Intervals{Scrape: 15 * time.Second, Interval: 2 * time.Minute}, 135 * time.Second},
	} {
		if got := tc.iv.RateInterval(); got != tc.want {
			t.Errorf("%+v: RateInterval = %v, want %v", tc.iv, got, tc.want)
		}
	}
	if got := promDuration(1250 * time.Millisecond); got != "1250ms" {
		t.Errorf("promDuration = %q", got)
	}
}
