package lab_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"chaoslab/chaos"
	"chaoslab/internal/backend"
	"chaoslab/internal/cli"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/experiment"
	"chaoslab/internal/lab"
	"chaoslab/internal/report"
	"chaoslab/internal/results"
)

// envServe makes the test binary act as the chaoslab binary: the local stack re-executes
// "itself" as `chaoslab serve backend|client`.
const envServe = "CHAOSLAB_LAB_TEST_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(envServe) == "1" {
		cmdutil.Main("chaoslab", cli.Run)
	}
	os.Exit(m.Run())
}

// backendCounters are the backend's own figures at the end of a run, read just before the
// stack stops: its GET /api/capacity and its backend_* metrics.
type backendCounters struct {
	capacity backend.Capacity
	metrics  map[string]float64
}

// observed is the local stack, which reads the backend's own counters when the run closes it.
type observed struct {
	lab.Processes
	end *backendCounters
	t   *testing.T
}

func (o observed) Start(ctx context.Context, env lab.StartEnv) (lab.Running, error) {
	r, err := o.Processes.Start(ctx, env)
	if err != nil {
		return nil, err
	}
	return observedRunning{Running: r, o: o}, nil
}

type observedRunning struct {
	lab.Running
	o observed
}

func (r observedRunning) Close(ctx context.Context) error {
	base := r.Endpoints().Backend
	if err := getJSON(base+"/api/capacity", &r.o.end.capacity); err != nil {
		r.o.t.Errorf("the backend's /api/capacity at the end: %v", err)
	}
	r.o.end.metrics = scrapeBackend(r.o.t, base+"/metrics")
	return r.Running.Close(ctx)
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// scrapeBackend reads the backend_* series without labels from a Prometheus text page.
func scrapeBackend(t *testing.T, url string) map[string]float64 {
	resp, err := http.Get(url)
	if err != nil {
		t.Errorf("the backend's /metrics at the end: %v", err)
		return nil
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if ok && strings.HasPrefix(name, "backend_") {
			if v, err := strconv.ParseFloat(value, 64); err == nil {
				out[name] = v
			}
		}
	}
	return out
}

// A short real run on the local stack with the backend's capacity model on (2 workers, 5 ms):
// the lab samples it about once a second from before the load to after it, writes
// capacity.csv, and its last sample equals the backend's own counters at the end (its
// /api/capacity and its backend_* metrics) and, independently, the client's successful calls
// (its attempt records): each one the backend completed. The report shows the goodput and the
// capacity.
func TestCapacitySampledOnARealRun(t *testing.T) {
	if testing.Short() {
		t.Skip("a real lab run (about 10 s)")
	}
	t.Setenv(envServe, "1")
	t.Setenv("BACKEND_WORKERS", "2")
	t.Setenv("BACKEND_SERVICE_TIME", "5ms")
	en, ok := chaos.Lookup("http-errors")
	if !ok {
		t.Fatal("no http-errors in the catalogue")
	}
	exp, err := experiment.Parse(en.Data, "json")
	if err != nil {
		t.Fatal(err)
	}
	end := &backendCounters{}
	var stdout bytes.Buffer
	out, err := lab.Run(context.Background(), lab.RunConfig{
		Stack: observed{Processes: lab.Processes{Kind: "local"}, end: end, t: t}, Experiment: exp, ExperimentName: "http-errors",
		Vars: map[string]any{"fault_duration": int64(2), "error_percentage": int64(30)},
		RPS:  20, LoadTimeout: 5 * time.Second, Warmup: 2 * time.Second, Recovery: 3 * time.Second,
		OutDir: filepath.Join(t.TempDir(), "run"), Stdout: &stdout,
		ClientEnv: map[string]string{"ATTEMPT_TIMEOUT": "200ms", "REQUEST_TIMEOUT": "2s", "RETRY_INITIAL_BACKOFF": "20ms",
			"RETRY_MAX_BACKOFF": "200ms", "CB_WAIT_DURATION": "1s"},
	})
	if err != nil {
		t.Fatalf("lab.Run: %v\n%s", err, stdout.String())
	}
	run, err := results.ReadRun(out.Dir)
	if err != nil {
		t.Fatal(err)
	}
	samples := run.Capacity
	if len(samples) < 6 {
		t.Fatalf("%d capacity samples in %s for a run of about 10 s: want about one a second", len(samples), results.CapacityFile)
	}
	first, last := samples[0], samples[len(samples)-1]
	if firstReq := run.Records[0].Start; !first.Time.Before(firstReq) || first.Completed > 1 {
		t.Errorf("the first sample (%v, %d completed) is not from before the load (%v)", first.Time, first.Completed, firstReq)
	}
	for i := 1; i < len(samples); i++ {
		if gap := samples[i].Time.Sub(samples[i-1].Time); gap > 2500*time.Millisecond {
			t.Errorf("samples %d and %d are %v apart: want about a second", i-1, i, gap)
		}
	}
	// The last sample against the backend's own counters at the end.
	c := end.capacity
	if last.Completed != c.Completed || last.Wasted != c.Wasted || last.Rejected != c.Rejected || last.Expired != c.Expired ||
		last.Queued != c.Queued || last.InService != c.InService || last.Workers != 2 || last.ServiceTime != "5ms" {
		t.Errorf("last sample %+v, the backend's /api/capacity at the end %+v", last, c)
	}
	for name, v := range map[string]int64{"backend_requests_completed_total": last.Completed, "backend_requests_wasted_total": last.Wasted,
		"backend_requests_rejected_total": last.Rejected, "backend_requests_expired_total": last.Expired} {
		if got, ok := end.metrics[name]; !ok || int64(got) != v {
			t.Errorf("the backend's %s = %v (present %t), the last sample says %d", name, got, ok, v)
		}
	}
	// Independently: every successful call the client logged was one the backend completed.
	success, backendAnswers := 0, 0
	for _, e := range run.Events {
		if e.Kind == results.KindAttempt && e.Outcome == results.OutcomeSuccess {
			success++
		}
	}
	for _, r := range run.Records {
		if r.Source == results.SourceBackend {
			backendAnswers++
		}
	}
	if int64(success) != last.Completed || success < backendAnswers || backendAnswers == 0 {
		t.Errorf("the client logged %d successful calls (%d backend answers to the load); the backend completed %d", success, backendAnswers, last.Completed)
	}
	a := out.Analysis
	if a.Capacity == nil || a.Capacity.Completed != last.Completed-first.Completed || !a.ShowsGoodput() || a.Goodput.Before == nil {
		t.Errorf("analysis: capacity %+v, goodput %+v", a.Capacity, a.Goodput)
	}
	if g := *a.Goodput.Before; g < 15 || g > 21 {
		t.Errorf("goodput before the fault %.1f/s at 20 rps, all answered by the backend: want about 20", g)
	}
	s, err := report.ReadSummaryJSON(filepath.Join(out.Dir, report.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	if s.Capacity == nil || s.Goodput == nil || len(s.Capacity.Samples) != len(samples) {
		t.Errorf("summary.json capacity %v, goodput %v", s.Capacity, s.Goodput)
	}
	html, err := os.ReadFile(filepath.Join(out.Dir, results.ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(html, []byte(`data-series="queued"`)) || !bytes.Contains(html, []byte(`data-series="goodput"`)) {
		t.Error("report.html lacks the capacity chart")
	}
	if !strings.Contains(stdout.String(), "backend capacity (") {
		t.Errorf("the terminal summary lacks the backend's capacity:\n%s", stdout.String())
	}
	t.Logf("%d samples; completed %d, wasted %d, rejected %d; goodput before %.1f/s; %d successful calls logged",
		len(samples), last.Completed, last.Wasted, last.Rejected, *a.Goodput.Before, success)
}
