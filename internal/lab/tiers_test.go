package lab

import (
	"context"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"chaoslab/internal/results"
	"chaoslab/internal/topology"
)

// idServer records the request ids it was sent.
type idServer struct {
	*httptest.Server
	mu  sync.Mutex
	ids []uint64
}

func newIDServer(t *testing.T) *idServer {
	s := &idServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseUint(r.Header.Get(results.RequestIDHeader), 10, 64)
		s.mu.Lock()
		s.ids = append(s.ids, id)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"source":"backend","attempts":1,"circuitBreakerState":"CLOSED"}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *idServer) got() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint64(nil), s.ids...)
}

// The load's client spreads request i over the entries round robin, whatever host the load
// targets, and TagEntry says in each record which entry it went to.
func TestEntryClientRoundRobin(t *testing.T) {
	servers := []*idServer{newIDServer(t), newIDServer(t), newIDServer(t)}
	var entries []Entry
	for i, s := range servers {
		entries = append(entries, Entry{Tier: "t" + strconv.Itoa(i), URL: s.URL})
	}
	c, err := EntryClient(entries)
	if err != nil {
		t.Fatal(err)
	}
	for id := 1; id <= 7; id++ {
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/api/data", nil)
		req.Header.Set(results.RequestIDHeader, strconv.Itoa(id))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := [][]uint64{{1, 4, 7}, {2, 5}, {3, 6}}
	for i, s := range servers {
		if got := s.got(); !equalIDs(got, want[i]) {
			t.Errorf("entry %d got requests %v, want %v", i, got, want[i])
		}
	}
	var tagged []string
	tag := TagEntry(entries, func(r results.Record) { tagged = append(tagged, r.Tier) })
	for id := uint64(1); id <= 4; id++ {
		tag(results.Record{ID: id})
	}
	if got := tagged; len(got) != 4 || got[0] != "t0" || got[1] != "t1" || got[2] != "t2" || got[3] != "t0" {
		t.Errorf("tags = %v", got)
	}
	if c, err := EntryClient(nil); c != nil || err != nil {
		t.Errorf("EntryClient(nil) = %v, %v; want the load's own client", c, err)
	}
	if _, err := EntryClient([]Entry{{Tier: "x", URL: "::"}}); err == nil {
		t.Error("a bad entry URL was accepted")
	}
}

func equalIDs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// tieredStack is the fake stack with two entry tiers: the fake client (a) and a second server
// (b), and a graph whose entry runs RESILIENCE=retry.
type tieredStack struct {
	*fakeStack
	b *idServer
}

func (s *tieredStack) Start(ctx context.Context, env StartEnv) (Running, error) {
	if _, err := s.fakeStack.Start(ctx, env); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *tieredStack) Endpoints() Endpoints {
	ep := s.fakeStack.Endpoints()
	ep.Entries = []Entry{{Tier: "a", URL: s.srv.URL}, {Tier: "b", URL: s.b.URL}}
	return ep
}

func (s *tieredStack) Graph(env map[string]string) (*results.Topology, map[string]string) {
	e := map[string]string{}
	maps.Copy(e, env)
	e["RESILIENCE"] = results.ResilienceRetry
	return &results.Topology{Name: "pair", Entries: []string{"a", "b"}, Layers: [][]string{{"a", "b"}, {"backend"}},
		Tiers: []results.Tier{{Name: "a", Calls: "backend"}, {Name: "b", Calls: "backend"}}}, e
}

// The runner records a tiered stack's graph in run.json, describes the client by the entry's
// variables, and spreads the load over the entries, each record naming its own.
func TestRunnerTieredStack(t *testing.T) {
	s := &tieredStack{fakeStack: newFakeStack(t), b: newIDServer(t)}
	o, err := Run(context.Background(), RunConfig{Stack: s, Experiment: fakeExperiment(t, "/api/data", 0), ExperimentName: "fake",
		RPS: 50, LoadTimeout: 5 * time.Second, Warmup: 60 * time.Millisecond, Recovery: 60 * time.Millisecond, OutDir: filepath.Join(t.TempDir(), "out")})
	if err != nil {
		t.Fatal(err)
	}
	run, err := results.ReadRun(o.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if run.Info.Topology == nil || run.Info.Topology.Name != "pair" || run.Info.Resilience != results.ResilienceRetry {
		t.Errorf("run.json: topology %+v, resilience %q; want pair, the entry's retry", run.Info.Topology, run.Info.Resilience)
	}
	var toB []uint64
	for _, r := range run.Records {
		want := map[bool]string{true: "a", false: "b"}[r.ID%2 == 1]
		if r.Tier != want {
			t.Errorf("request %d went to %q, want %q", r.ID, r.Tier, want)
		}
		if r.Tier == "b" {
			toB = append(toB, r.ID)
		}
	}
	if got := s.b.got(); len(toB) == 0 || len(got) != len(toB) {
		t.Errorf("entry b answered %d requests, the records say %d went to it", len(got), len(toB))
	}
}

// Processes describes its graph from its topology; without one it is today's two services.
func TestProcessesGraph(t *testing.T) {
	topo, err := topology.Parse([]byte("tiers: [{name: edge, env: {RESILIENCE: \"on\"}}, {name: mid}]"), "test.yaml", "pair")
	if err != nil {
		t.Fatal(err)
	}
	rec, env := Processes{Kind: "local", Topology: topo}.Graph(map[string]string{"RESILIENCE": "off", "RETRY_MAX_RETRIES": "2"})
	if rec == nil || rec.Name != "pair" || rec.Entry() != "edge" || env["RESILIENCE"] != "on" || env["RETRY_MAX_RETRIES"] != "2" {
		t.Errorf("Graph = %+v, %v; want pair with edge's RESILIENCE=on over the run's", rec, env)
	}
	if rec, env := (Processes{Kind: "local"}).Graph(map[string]string{"A": "1"}); rec != nil || env["A"] != "1" {
		t.Errorf("without a topology Graph = %+v, %v", rec, env)
	}
	if _, err := (Processes{Kind: "netns", Topology: topo}).Prepare(context.Background(), nil); err == nil {
		t.Error("netns prepared a topology")
	}
}
