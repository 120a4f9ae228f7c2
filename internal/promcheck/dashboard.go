package promcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Query is one PromQL query of a dashboard: a panel's target or an annotation.
type Query struct {
	Panel      string // the panel's title, or the annotation's name
	RefID      string // the target's refId ("" for an annotation)
	Expr       string // as written in the dashboard, variables unexpanded
	Annotation bool
}

// Variable is a template variable of a dashboard.
type Variable struct {
	Name       string
	Type       string // datasource, query, custom, constant, interval, ...
	Query      string // for a query variable: its query, e.g. label_values(metric, label)
	IncludeAll bool
	AllValue   string // what "All" expands to ("" = every value, as a regex alternation)
}

// Dashboard is what a Grafana dashboard's JSON holds for Prometheus: its queries and variables.
type Dashboard struct {
	Title     string
	Queries   []Query
	Variables []Variable
}

// dashboardJSON is the part of Grafana's dashboard model read here; panels nest in rows.
type dashboardJSON struct {
	Title       string      `json:"title"`
	Panels      []panelJSON `json:"panels"`
	Rows        []panelJSON `json:"rows"` // schema < 16
	Annotations struct {
		List []struct {
			Name string `json:"name"`
			Expr string `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Definition string          `json:"definition"`
			IncludeAll bool            `json:"includeAll"`
			AllValue   *string         `json:"allValue"`
		} `json:"list"`
	} `json:"templating"`
}

type panelJSON struct {
	Title   string      `json:"title"`
	Type    string      `json:"type"`
	Panels  []panelJSON `json:"panels"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
		Hide  bool   `json:"hide"`
	} `json:"targets"`
}

// LoadDashboard reads a Grafana dashboard's JSON: every Prometheus target of every panel (rows'
// panels included, hidden targets left out), every annotation with an expr, every variable.
func LoadDashboard(data []byte) (Dashboard, error) {
	var dj dashboardJSON
	if err := json.Unmarshal(data, &dj); err != nil {
		return Dashboard{}, fmt.Errorf("decode the dashboard: %w", err)
	}
	d := Dashboard{Title: dj.Title}
	var walk func(ps []panelJSON)
	walk = func(ps []panelJSON) {
		for _, p := range ps {
			for _, t := range p.Targets {
				if t.Expr != "" && !t.Hide {
					d.Queries = append(d.Queries, Query{Panel: p.Title, RefID: t.RefID, Expr: t.Expr})
				}
			}
			walk(p.Panels)
		}
	}
	walk(dj.Panels)
	walk(dj.Rows)
	for _, a := range dj.Annotations.List {
		if a.Expr != "" {
			d.Queries = append(d.Queries, Query{Panel: a.Name, Expr: a.Expr, Annotation: true})
		}
	}
	for _, v := range dj.Templating.List {
		q, err := variableQuery(v.Query, v.Definition)
		if err != nil {
			return Dashboard{}, fmt.Errorf("variable %s: %w", v.Name, err)
		}
		vr := Variable{Name: v.Name, Type: v.Type, Query: q, IncludeAll: v.IncludeAll}
		if v.AllValue != nil {
			vr.AllValue = *v.AllValue
		}
		d.Variables = append(d.Variables, vr)
	}
	return d, nil
}

// variableQuery reads a variable's query: a string (old schemas) or {"query": "..."}; the
// definition is the fallback.
func variableQuery(raw json.RawMessage, definition string) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return definition, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var o struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return "", fmt.Errorf("query %s is neither a string nor an object with a query: %w", raw, err)
	}
	if o.Query == "" {
		return definition, nil
	}
	return o.Query, nil
}

// Intervals are the values of Grafana's built-in interval variables for one evaluation.
type Intervals struct {
	Scrape   time.Duration // the data source's scrape interval
	Interval time.Duration // $__interval: the step of the panel's query
	Range    time.Duration // $__range: the dashboard's time range
}

// RateInterval is Grafana's $__rate_interval: max($__interval + scrape interval, 4 × scrape
// interval).
func (iv Intervals) RateInterval() time.Duration {
	return max(iv.Interval+iv.Scrape, 4*iv.Scrape)
}

// promDuration writes d as a PromQL duration in whole milliseconds.
func promDuration(d time.Duration) string {
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// Values are the expansions of a dashboard's variables by name.
type Values map[string]string

var labelValuesCall = regexp.MustCompile(`^\s*label_values\(\s*(?:(.*?)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)

// Resolve gives every variable of d the value Grafana would use when the dashboard opens on
// server's data: a label_values(selector, label) query variable is All when it has includeAll
// (its allValue, else every value as a regex alternation (a|b)), else its first value, and ""
// when the label has no values; datasource variables expand to nothing (they are not in
// expressions). The built-in interval variables come from iv.
func Resolve(ctx context.Context, d Dashboard, server *Server, iv Intervals) (Values, error) {
	vals := Values{
		"__interval":      promDuration(iv.Interval),
		"__interval_ms":   strconv.FormatInt(iv.Interval.Milliseconds(), 10),
		"__rate_interval": promDuration(iv.RateInterval()),
		"__range":         promDuration(iv.Range),
		"__range_s":       strconv.FormatInt(int64(iv.Range.Seconds()), 10),
		"__range_ms":      strconv.FormatInt(iv.Range.Milliseconds(), 10),
	}
	for _, v := range d.Variables {
		switch v.Type {
		case "datasource":
			vals[v.Name] = ""
		case "query":
			m := labelValuesCall.FindStringSubmatch(v.Query)
			if m == nil {
				return nil, fmt.Errorf("variable %s: query %q: only label_values(selector, label) is understood", v.Name, v.Query)
			}
			values, err := server.LabelValues(ctx, m[2], m[1])
			if err != nil {
				return nil, fmt.Errorf("variable %s: %w", v.Name, err)
			}
			vals[v.Name] = choose(v, values)
		default:
			return nil, fmt.Errorf("variable %s: type %q is not understood (datasource and query are)", v.Name, v.Type)
		}
	}
	return vals, nil
}

// choose is a variable's value among the values of its query, as Grafana's default selection.
func choose(v Variable, values []string) string {
	switch {
	case len(values) == 0:
		return ""
	case v.IncludeAll && v.AllValue != "":
		return v.AllValue
	case v.IncludeAll:
		quoted := make([]string, len(values))
		for i, s := range values {
			quoted[i] = regexEscape(s)
		}
		return "(" + strings.Join(quoted, "|") + ")"
	default:
		return regexEscape(values[0])
	}
}

// regexEscape escapes a value for a regex matcher inside a PromQL string, as Grafana's
// Prometheus data source does: a regex backslash is itself escaped for the string literal, so
// 127.0.0.1 becomes 127\\.0\\.0\\.1 in the query text.
func regexEscape(s string) string {
	return strings.ReplaceAll(regexp.QuoteMeta(s), `\`, `\\`)
}

// variableRef matches $name, ${name}, ${name:format} and [[name]].
var variableRef = regexp.MustCompile(`\$\{([a-zA-Z0-9_]+)(?::[a-zA-Z0-9_]+)?\}|\[\[([a-zA-Z0-9_]+)\]\]|\$([a-zA-Z0-9_]+)`)

// Expand replaces every variable reference in expr with its value; a reference to a variable
// that vals lacks is an error naming it.
func (vals Values) Expand(expr string) (string, error) {
	var missing []string
	out := variableRef.ReplaceAllStringFunc(expr, func(ref string) string {
		m := variableRef.FindStringSubmatch(ref)
		name := m[1] + m[2] + m[3]
		v, ok := vals[name]
		if !ok {
			missing = append(missing, name)
			return ref
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("expression %q uses variables %v that the dashboard does not define", expr, missing)
	}
	return out, nil
}
