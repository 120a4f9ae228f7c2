package deploy_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/load"
	"chaoslab/internal/promcheck"
	"chaoslab/internal/testutil"
)

// officialEmpty are the metrics that queries of the official Resilience4j dashboard ask for and
// chaoslab does not export, each with the reason. Every other query of both dashboards must
// find data; these must not (when one does, this list is out of date).
var officialEmpty = map[string]string{
	"resilience4j_circuitbreaker_calls_total":        "Resilience4j's old counter of calls by kind: resilience4j-micrometer exports ..._calls_seconds{kind} and ..._not_permitted_calls_total instead, as chaoslab does",
	"resilience4j_circuitbreaker_max_buffered_calls": "removed from resilience4j-micrometer; not exported (issue 21)",
	"resilience4j_bulkhead_":                         "chaoslab has no bulkhead",
}

func emptyReason(expr string) string {
	for metric, why := range officialEmpty {
		if strings.Contains(expr, metric) {
			return why
		}
	}
	return ""
}

// dashboardRun is the moment a dashboard is looked at: the Prometheus, the variables'
// intervals, and the window since the load began.
type dashboardRun struct {
	srv        *promcheck.Server
	iv         promcheck.Intervals
	start, at  time.Time
	allowEmpty bool // the official dashboard: officialEmpty applies
}

// check evaluates every query of the dashboard in file at run.at (an instant query, as a stat
// panel or the annotation asks) and over [run.start, run.at] (a range query, as a graph asks),
// logs each result, and fails on a query without data (or, for officialEmpty's, with data).
// It returns the panels that found data and all of them.
func (run dashboardRun) check(t *testing.T, ctx context.Context, file string) (filled, panels map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	d, err := promcheck.LoadDashboard(data)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(d.Queries) == 0 {
		t.Fatalf("%s: no queries", file)
	}
	vals, err := promcheck.Resolve(ctx, d, run.srv, run.iv)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	filled, panels = map[string]bool{}, map[string]bool{}
	for _, q := range d.Queries {
		expr, err := vals.Expand(q.Expr)
		if err != nil {
			t.Errorf("%s: panel %q: %v", file, q.Panel, err)
			continue
		}
		instant, err := run.srv.Query(ctx, expr, run.at)
		if err != nil {
			t.Errorf("%s: panel %q: %v", file, q.Panel, err)
			continue
		}
		rng, err := run.srv.QueryRange(ctx, expr, run.start, run.at, run.iv.Interval)
		if err != nil {
			t.Errorf("%s: panel %q: %v", file, q.Panel, err)
			continue
		}
		panels[q.Panel] = true
		has := len(instant.Series) > 0 && rng.Finite() > 0
		if has {
			filled[q.Panel] = true
		}
		t.Logf("%s | %s %s | %s\n    during the partition: %s\n    points drawn since the load began: %d", d.Title, q.Panel, q.RefID, expr, instant, rng.Finite())
		why := ""
		if run.allowEmpty {
			why = emptyReason(expr)
		}
		switch {
		case why == "" && !has:
			t.Errorf("%s: panel %q %s: %s\n  no data (instant: %s; %d points since the load began)", file, q.Panel, q.RefID, expr, instant, rng.Finite())
		case why != "" && (len(instant.Series) > 0 || len(rng.Series) > 0):
			t.Errorf("%s: panel %q %s: %s has data, but it was listed as empty (%s): update officialEmpty", file, q.Panel, q.RefID, expr, why)
		}
	}
	return filled, panels
}

// waitQuery waits until expr, evaluated now, returns data.
func waitQuery(t *testing.T, ctx context.Context, srv *promcheck.Server, what, expr string) {
	t.Helper()
	testutil.WaitFor(t, 20*time.Second, what+" ("+expr+")", func() bool {
		r, err := srv.Query(ctx, expr, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return len(r.Series) > 0
	})
}

// Every query of deploy/grafana/chaoslab.json and of the official Resilience4j dashboard,
// evaluated on a real Prometheus that scrapes a running stack (with the shipped prometheus.yml)
// under load and during a partition, finds data. Afterwards Prometheus's fallback and request
// totals equal the load generator's own counts.
func TestDashboardQueriesDuringAPartition(t *testing.T) {
	if _, err := exec.LookPath("prometheus"); err != nil {
		t.Skip("prometheus not installed (Debian: apt-get install prometheus): the dashboards' queries are not evaluated")
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	l := startLab(t)
	const scrape = 250 * time.Millisecond
	srv, err := promcheck.Start(ctx, promcheck.Config{Dir: t.TempDir(), ScrapeConfig: scrapeConfig(t, l, scrape)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	// Prometheus hands its targets to the scrapers a few seconds after it is ready: the load
	// begins once every service is scraped, so the whole load is on the graphs.
	waitQuery(t, ctx, srv, "every target scraped", `count(up == 1) == 3`)
	var counter load.Counter
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	loadDone := make(chan error, 1)
	loadStart := time.Now()
	go func() {
		loadDone <- load.Run(loadCtx, load.Config{Target: l.ClientURL + "/api/data", RPS: 20, Timeout: 10 * time.Second}, nil, counter.Add)
	}()

	waitQuery(t, ctx, srv, "2 s of healthy answers", `sum(resilience4j_retry_calls_total{kind="successful_without_retry"}) >= 40`)
	partitioned := time.Now()
	l.partition(t)
	waitQuery(t, ctx, srv, "the fault window", `chaoslab_fault_active{kind="partition", target="backend"} == 1`)
	waitQuery(t, ctx, srv, "the breaker OPEN", `resilience4j_circuitbreaker_state{state="open"} == 1`)
	waitQuery(t, ctx, srv, "fallbacks", `sum(rate(client_fallback_responses_total[1s])) > 0`)
	waitQuery(t, ctx, srv, "rejections by the breaker", `sum(rate(resilience4j_circuitbreaker_not_permitted_calls_total[1s])) > 0`)
	// The partition's steady state: the breaker OPEN for a whole rate window ($__rate_interval),
	// every call it had let through over, every request a fallback.
	waitQuery(t, ctx, srv, "a rate window without a backend call", `sum(rate(resilience4j_circuitbreaker_calls_seconds_count[1250ms])) == 0`)

	at := time.Now()
	run := dashboardRun{srv: srv, start: loadStart, at: at, iv: promcheck.Intervals{Scrape: scrape, Interval: time.Second, Range: at.Sub(loadStart)}}
	t.Logf("queries evaluated %.1fs after the load began, %.1fs after the partition began; $__interval=%v, $__rate_interval=%v, $__range=%v",
		at.Sub(loadStart).Seconds(), at.Sub(partitioned).Seconds(), run.iv.Interval, run.iv.RateInterval(), run.iv.Range.Round(time.Millisecond))
	filled, panels := run.check(t, ctx, dashboardFile)
	t.Logf("chaoslab.json: %d of %d panels and annotations have data", len(filled), len(panels))
	run.allowEmpty = true
	filled, panels = run.check(t, ctx, resilience4jBoard)
	t.Logf("the official Resilience4j dashboard: %d of %d panels have data", len(filled), len(panels))

	if code, out := testutil.Call(t, http.MethodPost, l.FaultURL+"/reset", ""); code/100 != 2 {
		t.Fatalf("POST /reset: %d %s", code, out)
	}
	stopLoad()
	if err := <-loadDone; err != nil {
		t.Fatalf("load: %v", err)
	}
	checkTotals(t, ctx, srv, counter.Totals())
	if d := time.Since(began); d > 60*time.Second {
		t.Errorf("the test took %v, beyond its 60 s bound", d)
	}
}

// checkTotals compares Prometheus's totals, once it has scraped the last of them, with the load
// generator's own counts: fallbacks, and requests through the retry (every answered request).
func checkTotals(t *testing.T, ctx context.Context, srv *promcheck.Server, tot load.Totals) {
	t.Helper()
	if tot.Errors != 0 || tot.Dropped != 0 || tot.Fallbacks == 0 || tot.Backend == 0 {
		t.Fatalf("load totals %+v: want backend answers, fallbacks, no errors, none dropped", tot)
	}
	want := map[string]int{"sum(client_fallback_responses_total)": tot.Fallbacks, "sum(resilience4j_retry_calls_total)": tot.Backend + tot.Fallbacks}
	got := map[string]string{}
	testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("Prometheus's totals to reach the load's %v", want), func() bool {
		ok := true
		for expr, n := range want {
			r, err := srv.Query(ctx, expr, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			got[expr] = r.String()
			ok = ok && len(r.Series) == 1 && r.Series[0].Value == float64(n)
		}
		return ok
	})
	t.Logf("totals: load sent %d, %d answered by the backend, %d fallbacks; Prometheus: %v", tot.Requests, tot.Backend, tot.Fallbacks, got)
}
