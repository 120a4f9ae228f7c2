package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"chaoslab/internal/backend"
	"chaoslab/internal/live"
	"chaoslab/internal/results"
)

// fakeCapacity is a backend whose /metrics has the capacity model's series unless off, and
// whose /api/capacity answers as backend-service's does (its own Capacity type), counting one
// more completed request at each reading.
type fakeCapacity struct {
	mu        sync.Mutex
	off       bool // /metrics without the model's series
	completed int64
	status    int    // the answer's status; 0 = 200
	body      string // an answer other than the model's; "" = the model
	paths     []string
}

func (f *fakeCapacity) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paths = append(f.paths, r.URL.Path)
	switch {
	case r.URL.Path == "/metrics" && f.off:
		io.WriteString(w, "# TYPE http_server_requests_total counter\nhttp_server_requests_total{method=\"GET\",status=\"200\",uri=\"GET /api/data\"} 3\n")
		return
	case r.URL.Path == "/metrics":
		io.WriteString(w, "# HELP backend_workers Requests served at once (0 = unlimited).\n# TYPE backend_workers gauge\nbackend_workers 2\n")
		return
	case r.URL.Path != "/api/capacity":
		http.NotFound(w, r)
		return
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
		return
	}
	if f.body != "" {
		io.WriteString(w, f.body)
		return
	}
	f.completed++
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(backend.Capacity{Workers: 2, QueueLimit: 100, QueueOrder: "fifo", ServiceTime: "5ms", Factor: 1,
		InService: 1, Queued: 3, Rejected: 4, Expired: 5, Completed: f.completed, Wasted: 6})
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// The sampler reads the model at the start, on its period and at the end, in time order, every
// field as the backend's Capacity type encodes it, and tells each reading as it is read.
func TestSamplerReadsTheModel(t *testing.T) {
	f := &fakeCapacity{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	told := make(chan results.CapacitySample, 100)
	s := startSamplerEvery(context.Background(), srv.URL+"/", 5*time.Millisecond, discard(), func(c results.CapacitySample) { told <- c })
	if s == nil {
		t.Fatal("no sampler for a backend with a capacity model")
	}
	for range 3 { // the start and two periodic readings
		select {
		case <-told:
		case <-time.After(5 * time.Second):
			t.Fatal("the sampler did not read the model on its period")
		}
	}
	got := s.finish(context.Background())
	if len(got) < 4 || len(got) != len(told)+3 {
		t.Fatalf("%d samples, %d told; want at least the start, two periodic and the end, every one told", len(got), len(told)+3)
	}
	for i, smp := range got {
		want := results.CapacitySample{Time: smp.Time, Workers: 2, QueueLimit: 100, QueueOrder: "fifo", ServiceTime: "5ms", Factor: 1,
			InService: 1, Queued: 3, Rejected: 4, Expired: 5, Completed: int64(i + 1), Wasted: 6}
		if smp != want || smp.Time.IsZero() || (i > 0 && smp.Time.Before(got[i-1].Time)) {
			t.Errorf("sample %d = %+v, want %+v in time order", i, smp, want)
		}
	}
}

// A backend without the model is asked only its /metrics, which counts no request, so it is
// left as a run before sampling left it; one whose /api/capacity is not the model's, and no
// backend URL, give no sampler either: nothing is sampled, and finish on it returns nothing.
func TestSamplerOff(t *testing.T) {
	for name, tt := range map[string]struct {
		f     *fakeCapacity
		paths string
	}{
		"off":                    {&fakeCapacity{off: true, status: http.StatusConflict}, "/metrics"},
		"on, but 409":            {&fakeCapacity{status: http.StatusConflict}, "/metrics /api/capacity"},
		"on, but not a model":    {&fakeCapacity{body: "<html>hello</html>"}, "/metrics /api/capacity"},
		"on, but an empty model": {&fakeCapacity{body: "{}"}, "/metrics /api/capacity"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(tt.f)
			defer srv.Close()
			s := startSampler(context.Background(), srv.URL, discard(), nil)
			if s != nil || s.finish(context.Background()) != nil {
				t.Errorf("a sampler for a backend without the model")
			}
			if got := strings.Join(tt.f.paths, " "); got != tt.paths {
				t.Errorf("asked the backend %q, want %q", got, tt.paths)
			}
		})
	}
	if startSampler(context.Background(), "", discard(), nil) != nil {
		t.Error("a sampler without a backend URL")
	}
}

// The runner (with the fake stack, whose backend has no capacity model) writes no
// capacity.csv: a run without the model has today's files.
func TestRunWithoutCapacityWritesNoSamples(t *testing.T) {
	f := newFakeStack(t)
	out, err := Run(context.Background(), RunConfig{Stack: f, Experiment: fakeExperiment(t, "/api/data", 0), RPS: 20,
		LoadTimeout: time.Second, OutDir: filepath.Join(t.TempDir(), "out"), Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out.Dir, results.CapacityFile)); !os.IsNotExist(err) {
		t.Errorf("capacity.csv written for a backend without the model (stat: %v)", err)
	}
	if out.Analysis.Capacity != nil || out.Analysis.ShowsGoodput() {
		t.Error("the analysis shows capacity or goodput for a run without the model")
	}
}

// capacityStack is the fake stack with a backend that has the capacity model.
type capacityStack struct {
	*fakeStack
	backend string
}

func (s capacityStack) Start(ctx context.Context, env StartEnv) (Running, error) {
	r, err := s.fakeStack.Start(ctx, env)
	if err != nil {
		return nil, err
	}
	return capacityRunning{Running: r, backend: s.backend}, nil
}

type capacityRunning struct {
	Running
	backend string
}

func (r capacityRunning) Endpoints() Endpoints {
	e := r.Running.Endpoints()
	e.Backend = r.backend
	return e
}

// The runner hands the samples to the results folder, the analysis and the live page, whose
// stream then carries the capacity chart.
func TestRunHandsSamplesOn(t *testing.T) {
	srv := httptest.NewServer(&fakeCapacity{})
	defer srv.Close()
	hub := live.NewHub()
	out, err := Run(context.Background(), RunConfig{Stack: capacityStack{newFakeStack(t), srv.URL}, Experiment: fakeExperiment(t, "/api/data", 0),
		RPS: 20, LoadTimeout: time.Second, OutDir: filepath.Join(t.TempDir(), "out"), Logger: discard(), Live: hub})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out.Dir, results.CapacityFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	samples, err := results.ReadCapacity(f)
	if err != nil || len(samples) < 2 || samples[len(samples)-1].Completed != int64(len(samples)) {
		t.Fatalf("capacity.csv: %d samples, %v; want the start's and the end's at least, in order", len(samples), err)
	}
	if c := out.Analysis.Capacity; c == nil || len(c.Samples) != len(samples) {
		t.Errorf("the analysis has %+v, want the %d samples", c, len(samples))
	}
	page, err := live.Start(live.Config{Hub: hub})
	if err != nil {
		t.Fatal(err)
	}
	defer page.Close(context.Background())
	if !streamHasCapacityChart(t, page.URL()+"events") {
		t.Error("the live page's stream never carried the capacity chart")
	}
}

// streamHasCapacityChart reads the live page's stream until a chart message with the capacity
// chart, or 10 s.
func streamHasCapacityChart(t *testing.T, url string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if e, ok := strings.CutPrefix(line, "event: "); ok {
			event = e
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok && event == "chart" {
			var m struct {
				Capacity string `json:"capacity"`
			}
			if json.Unmarshal([]byte(data), &m) == nil && strings.Contains(m.Capacity, `data-series="queued"`) {
				return true
			}
		}
	}
	return false
}
