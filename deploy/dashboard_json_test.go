package deploy_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// grafanaDashboard is the part of deploy/grafana/chaoslab.json that Grafana's provisioning and
// import depend on.
type grafanaDashboard struct {
	Inputs        json.RawMessage `json:"__inputs"`
	UID           string          `json:"uid"`
	Title         string          `json:"title"`
	SchemaVersion int             `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *dsRef          `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Name       string `json:"name"`
			BuiltIn    int    `json:"builtIn"`
			Datasource *dsRef `json:"datasource"`
			Expr       string `json:"expr"`
			Enable     bool   `json:"enable"`
		} `json:"list"`
	} `json:"annotations"`
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *dsRef `json:"datasource"`
		GridPos    struct {
			H, W, X, Y int
		} `json:"gridPos"`
		Targets []struct {
			RefID      string `json:"refId"`
			Expr       string `json:"expr"`
			Datasource *dsRef `json:"datasource"`
		} `json:"targets"`
	} `json:"panels"`
}

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

func readDashboard(t *testing.T) grafanaDashboard {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// The dashboard provisions as it is: no __inputs (provisioning does not resolve them), a
// datasource variable of type prometheus that every panel, target and annotation query uses,
// a recent schema, unique panel ids and rows of panels that do not overlap.
func TestDashboardForProvisioning(t *testing.T) {
	d := readDashboard(t)
	if d.Inputs != nil {
		t.Error("__inputs: provisioning does not resolve them; use the datasource variable")
	}
	if d.SchemaVersion < 36 || d.UID == "" || d.Title == "" {
		t.Errorf("schemaVersion %d, uid %q, title %q: want a schema of Grafana 9+ (datasource references as objects), a uid and a title", d.SchemaVersion, d.UID, d.Title)
	}
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
		if v.Name == "datasource" && (v.Type != "datasource" || string(v.Query) != `"prometheus"`) {
			t.Errorf("variable datasource: type %q query %s, want a datasource variable of type prometheus", v.Type, v.Query)
		}
		if v.Type == "query" && !isOurs(v.Datasource) {
			t.Errorf("variable %s: datasource %+v, want ${datasource}", v.Name, v.Datasource)
		}
	}
	if !slices.Contains(vars, "datasource") {
		t.Fatalf("variables %v: no datasource variable", vars)
	}
	ids := map[int]string{}
	type cell struct{ x, y int }
	used := map[cell]string{}
	for _, p := range d.Panels {
		if other, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", p.Title, other, p.ID)
		}
		ids[p.ID] = p.Title
		for x := p.GridPos.X; x < p.GridPos.X+p.GridPos.W; x++ {
			for y := p.GridPos.Y; y < p.GridPos.Y+p.GridPos.H; y++ {
				if other, taken := used[cell{x, y}]; taken {
					t.Fatalf("panels %q and %q overlap at %d,%d", p.Title, other, x, y)
				}
				used[cell{x, y}] = p.Title
			}
		}
		if p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q is wider than the grid (x %d + w %d > 24)", p.Title, p.GridPos.X, p.GridPos.W)
		}
		if p.Type == "row" {
			continue
		}
		if !isOurs(p.Datasource) || len(p.Targets) == 0 {
			t.Errorf("panel %q: datasource %+v, %d targets; want ${datasource} and a query", p.Title, p.Datasource, len(p.Targets))
		}
		for _, tg := range p.Targets {
			if !isOurs(tg.Datasource) || tg.Expr == "" || tg.RefID == "" {
				t.Errorf("panel %q target %q: datasource %+v, expr %q", p.Title, tg.RefID, tg.Datasource, tg.Expr)
			}
		}
	}
}

func isOurs(ds *dsRef) bool {
	return ds != nil && ds.Type == "prometheus" && ds.UID == "${datasource}"
}

// The fault windows are an annotation on chaoslab_fault_active == 1, on the datasource variable.
func TestDashboardFaultWindows(t *testing.T) {
	d := readDashboard(t)
	var found int
	for _, a := range d.Annotations.List {
		if a.BuiltIn == 1 {
			continue
		}
		if !isOurs(a.Datasource) || !a.Enable {
			t.Errorf("annotation %q: datasource %+v, enabled %v", a.Name, a.Datasource, a.Enable)
		}
		if strings.Contains(a.Expr, "chaoslab_fault_active") && strings.HasSuffix(strings.TrimSpace(a.Expr), "== 1") {
			found++
		}
	}
	if found != 1 {
		t.Errorf("%d annotations on chaoslab_fault_active == 1, want one", found)
	}
}

// Every panel the issue asks for is there, each asking for the meter that answers it.
func TestDashboardPanels(t *testing.T) {
	d := readDashboard(t)
	exprs := map[string]string{}
	for _, p := range d.Panels {
		var all []string
		for _, tg := range p.Targets {
			all = append(all, tg.Expr)
		}
		exprs[p.Title] = strings.Join(all, "\n")
	}
	for title, want := range map[string]string{
		"Circuit breaker state per tier":                 `max by \(tier, instance, name\) \(resilience4j_circuitbreaker_state`,
		"CircuitBreaker states (Resilience4j)":           `resilience4j_circuitbreaker_state\{`,
		"Buffered calls":                                 `resilience4j_circuitbreaker_buffered_calls`,
		"Failure rate and slow-call rate":                `(?s)resilience4j_circuitbreaker_failure_rate.*resilience4j_circuitbreaker_slow_call_rate`,
		"Slow calls":                                     `resilience4j_circuitbreaker_slow_calls\{`,
		"Not-permitted calls":                            `rate\(resilience4j_circuitbreaker_not_permitted_calls_total`,
		"Retry: requests by outcome":                     `sum by \(tier, name, kind\) \(rate\(resilience4j_retry_calls_total`,
		"Attempts per request":                           `rate\(resilience4j_circuitbreaker_calls_seconds_count.*\) / sum by \(tier\) \(rate\(resilience4j_retry_calls_total`,
		"Fallback rate":                                  `rate\(client_fallback_responses_total.*/.*http_server_requests_total\{uri="GET /api/data"`,
		"Latency percentiles: client-service /api/data":  `histogram_quantile\(0\.99, .*http_server_requests_seconds_bucket`,
		"Latency percentiles: backend-service /api/data": `histogram_quantile\(0\.99, .*http_server_requests_seconds_bucket.*unless on \(instance\) client_fallback_responses_total`,
		"Backend queue and workers":                      `backend_requests_queued`,
		"Backend goodput and wasted work":                `(?s)rate\(backend_requests_completed_total.*rate\(backend_requests_wasted_total`,
		"Backend rejections and expirations":             `rate\(backend_requests_rejected_total`,
		"Faults active":                                  `chaoslab_fault_active`,
	} {
		got, ok := exprs[title]
		if !ok {
			t.Errorf("no panel %q", title)
			continue
		}
		if !regexp.MustCompile(want).MatchString(got) {
			t.Errorf("panel %q asks %s\nwant a match of %s", title, got, want)
		}
	}
}
