package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"chaoslab/internal/experiment"
	"chaoslab/internal/results"
)

// fakeStack is a plug of the runner whose client is an httptest server answering like
// client-service, and which records what the runner asked of it.
type fakeStack struct {
	t          *testing.T
	prepareErr error
	startErr   error
	faultLeft  string // FaultLeft's detail ("" = nothing left)
	onProblem  string // a problem the stack reports from Close ("" = none)

	srv      *httptest.Server
	blocked  chan struct{} // closed when the experiment's action reaches /block
	died     chan Exit
	mu       sync.Mutex
	calls    []string // Prepare, Start, Snapshot <moment>, Close, in order
	dataHits int
	keys     []string // the experiment's ?key= values
	env      StartEnv
}

func newFakeStack(t *testing.T) *fakeStack {
	f := &fakeStack{t: t, blocked: make(chan struct{}), died: make(chan Exit, 1)}
	var once sync.Once
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/data":
			f.mu.Lock()
			f.dataHits++
			if k := r.URL.Query().Get("key"); k != "" {
				f.keys = append(f.keys, k)
			}
			f.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"source":"backend","data":{"service":"backend-service"},"error":"","attempts":1,"circuitBreakerState":"CLOSED"}`)
		case "/block":
			once.Do(func() { close(f.blocked) })
			<-r.Context().Done()
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeStack) record(c string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

func (f *fakeStack) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeStack) Name() string { return "fake" }

func (f *fakeStack) Prepare(_ context.Context, env map[string]string) (map[string]string, error) {
	f.record("Prepare")
	return env, f.prepareErr
}

func (f *fakeStack) Start(_ context.Context, env StartEnv) (Running, error) {
	f.record("Start")
	if f.startErr != nil {
		return nil, f.startErr
	}
	f.env = env
	env.Say("fake stack up")
	return f, nil
}

func (f *fakeStack) Endpoints() Endpoints {
	return Endpoints{Client: f.srv.URL, Backend: f.srv.URL, Faults: f.srv.URL, Env: map[string]string{"FAKE_KEY": "fake-value"}}
}
func (f *fakeStack) Native() experiment.Native { return nil }
func (f *fakeStack) Died() <-chan Exit         { return f.died }
func (f *fakeStack) Breaker() string           { return "CLOSED" }
func (f *fakeStack) FaultLeft() (bool, string) {
	return f.faultLeft != "", f.faultLeft
}
func (f *fakeStack) Snapshot(_ context.Context, moment string) results.Snapshot {
	f.record("Snapshot " + moment)
	return results.Snapshot{Time: time.Now().UTC(), Moment: moment, Services: map[string]results.ServiceSnapshot{}}
}
func (f *fakeStack) Close(context.Context) error {
	f.record("Close")
	if f.onProblem != "" {
		f.env.Problem("%s", f.onProblem)
	}
	return nil
}

// fakeExperiment calls path on the stack's client (its URL read from the configuration the
// runner sets), after a pause of pause seconds.
func fakeExperiment(t *testing.T, path string, pause float64) *experiment.Experiment {
	t.Helper()
	doc := `{"title": "fake", "description": "d",
	  "configuration": {"client_url": {"type": "env", "key": "CHAOSLAB_CLIENT_URL"}, "fake": {"type": "env", "key": "FAKE_KEY"}},
	  "method": [{"type": "action", "name": "call", "provider": {"type": "http", "url": "${client_url}` + path + `?key=${fake}", "timeout": 30},
	    "pauses": {"after": ` + fmt.Sprintf("%g", pause) + `}}]}`
	exp, err := experiment.Parse([]byte(doc), "json")
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

func runFake(t *testing.T, ctx context.Context, f *fakeStack, exp *experiment.Experiment) (*Outcome, error, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "out")
	var out strings.Builder
	o, err := Run(ctx, RunConfig{Stack: f, Experiment: exp, ExperimentName: "fake", RPS: 50, LoadTimeout: 5 * time.Second,
		Warmup: 60 * time.Millisecond, Recovery: 60 * time.Millisecond, OutDir: dir, Stdout: &syncWriter{w: &out}})
	return o, err, out.String()
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func phases(a *results.Run) []string {
	var ps []string
	for _, e := range a.Events {
		if e.Kind == results.KindPhase {
			ps = append(ps, e.Phase)
		}
	}
	return ps
}

// A run through a plug: the stack is prepared, started, snapshotted before and after, closed
// once; the phases come in order, the experiment sees the stack's endpoints, and the one
// verdict passes.
func TestRunnerDrivesAStack(t *testing.T) {
	f := newFakeStack(t)
	o, err, out := runFake(t, context.Background(), f, fakeExperiment(t, "/api/data", 0))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Prepare", "Start", "Snapshot before", "Snapshot after", "Close"}; !slices.Equal(f.Calls(), want) {
		t.Errorf("calls %v, want %v", f.Calls(), want)
	}
	run, err := results.ReadRun(o.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"starting", "warmup", "experiment", "recovery", "done"}; !slices.Equal(phases(run), want) {
		t.Errorf("phases %v, want %v", phases(run), want)
	}
	if !o.Passed() {
		t.Errorf("verdict %q, want passed", o.Failure())
	}
	if run.Info.Stack != "fake" {
		t.Errorf("run.json stack %q, want the plug's name", run.Info.Stack)
	}
	f.mu.Lock()
	keys := f.keys
	f.mu.Unlock()
	if !slices.Equal(keys, []string{"fake-value"}) {
		t.Errorf("the experiment's call carried %q: want the stack's own configuration key", keys)
	}
	// the load went to the stack's client: every record is an answer of the fake client
	f.mu.Lock()
	hits := f.dataHits
	f.mu.Unlock()
	if n := len(run.Records); n == 0 || hits < n {
		t.Errorf("%d load records, %d requests at the fake client", n, hits)
	}
	if !strings.Contains(out, "fake stack up") {
		t.Errorf("the stack's lines are not shown:\n%s", out)
	}
	for _, file := range []string{results.EventsFile, results.JournalFile, results.ReportHTML, "summary.json"} {
		if _, err := os.Stat(filepath.Join(o.Dir, file)); err != nil {
			t.Errorf("results folder: %v", err)
		}
	}
}

// What goes wrong in the stack fails the run, each for its own reason: a service that died, a
// fault the rollbacks left, a problem found when closing.
func TestRunnerStackProblems(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fakeStack)
		exp   func(t *testing.T) *experiment.Experiment
		want  string
	}{
		{"a service dies", func(f *fakeStack) {
			f.died <- Exit{Service: results.BackendService, How: "killed by signal killed"}
		}, func(t *testing.T) *experiment.Experiment { return fakeExperiment(t, "/api/data", 5) },
			"backend-service exited during the run (killed by signal killed)"},
		{"a fault left in place", func(f *fakeStack) { f.faultLeft = "toxic partition" },
			func(t *testing.T) *experiment.Experiment { return fakeExperiment(t, "/api/data", 0) },
			"the rollbacks left a fault in place (toxic partition)"},
		{"a cleanup problem", func(f *fakeStack) { f.onProblem = "cleanup: NetworkPolicy x could not be removed" },
			func(t *testing.T) *experiment.Experiment { return fakeExperiment(t, "/api/data", 0) },
			"cleanup: NetworkPolicy x could not be removed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeStack(t)
			tt.setup(f)
			start := time.Now()
			o, err, _ := runFake(t, context.Background(), f, tt.exp(t))
			if err != nil {
				t.Fatal(err)
			}
			if o.Passed() || !strings.Contains(o.Failure(), tt.want) {
				t.Errorf("verdict %q, want a failure naming %q", o.Failure(), tt.want)
			}
			if c := f.Calls(); c[len(c)-1] != "Close" || slices.Index(c, "Close") != len(c)-1 {
				t.Errorf("calls %v: want Close once, last", c)
			}
			if time.Since(start) > 4*time.Second {
				t.Errorf("the run took %v: a died service must stop the experiment", time.Since(start))
			}
		})
	}
}

// An interrupt during the experiment ends the run promptly: the stack is still closed, the run
// is recorded as interrupted and fails.
func TestRunnerInterrupted(t *testing.T) {
	f := newFakeStack(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-f.blocked
		cancel()
	}()
	o, err, _ := runFake(t, ctx, f, fakeExperiment(t, "/block", 0))
	if err != nil {
		t.Fatal(err)
	}
	if !o.Analysis.Run.Interrupted || o.Passed() || !strings.Contains(o.Failure(), "interrupted") {
		t.Errorf("interrupted %t, verdict %q", o.Analysis.Run.Interrupted, o.Failure())
	}
	if c := f.Calls(); c[len(c)-1] != "Close" {
		t.Errorf("calls %v: the stack must be closed after an interrupt", c)
	}
}

// A stack that cannot be prepared or started stops the run with its error; nothing of a
// results folder is made before Prepare passed.
func TestRunnerStackErrors(t *testing.T) {
	f := newFakeStack(t)
	f.prepareErr = errors.New("no cluster")
	dir := filepath.Join(t.TempDir(), "out")
	_, err := Run(context.Background(), RunConfig{Stack: f, Experiment: fakeExperiment(t, "/api/data", 0), OutDir: dir, RPS: 1, LoadTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "no cluster") {
		t.Errorf("err = %v, want the stack's", err)
	}
	if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
		t.Errorf("a results folder was made before the stack was prepared: %v", serr)
	}

	f = newFakeStack(t)
	f.startErr = errors.New("the client did not start")
	_, err = Run(context.Background(), RunConfig{Stack: f, Experiment: fakeExperiment(t, "/api/data", 0), OutDir: dir, RPS: 1, LoadTimeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "the client did not start") {
		t.Errorf("err = %v, want the stack's", err)
	}
	if slices.Contains(f.Calls(), "Close") {
		t.Errorf("calls %v: a stack that did not start cleans up itself", f.Calls())
	}
}
