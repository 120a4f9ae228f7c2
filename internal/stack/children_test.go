package stack_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/backend"
	"chaoslab/internal/cli"
	"chaoslab/internal/client"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/results"
	"chaoslab/internal/stack"
	"chaoslab/internal/topology"
)

// envAsChaoslab makes the test binary act as the chaoslab binary: the stack re-executes
// "itself" (os.Executable) as `chaoslab serve backend|client`. envRecord names a folder where
// each such child writes the variables the lab gave it, before it serves.
const (
	envAsChaoslab = "CHAOSLAB_STACK_TEST_AS_CHAOSLAB"
	envRecord     = "CHAOSLAB_STACK_TEST_RECORD"
)

func TestMain(m *testing.M) {
	if os.Getenv(envAsChaoslab) == "1" {
		if dir := os.Getenv(envRecord); dir != "" {
			recordEnv(dir)
		}
		cmdutil.Main("chaoslab", cli.Run)
	}
	os.Exit(m.Run())
}

// ports hides the port numbers, which change from run to run.
var ports = regexp.MustCompile(`:\d+`)

// recordEnv writes the services' variables this child got, one KEY=VALUE a line, sorted, into
// dir/<TIER or serve argument>.env.
func recordEnv(dir string) {
	keys := map[string]bool{"LOG_LEVEL": true, "TIER": true}
	for k := range client.Defaults() {
		keys[k] = true
	}
	for k := range backend.Defaults() {
		keys[k] = true
	}
	var lines []string
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if keys[k] || strings.HasPrefix(k, "BACKEND_") {
			lines = append(lines, k+"="+ports.ReplaceAllString(v, ":PORT"))
		}
	}
	slices.Sort(lines)
	name := os.Getenv("TIER")
	if name == "" && len(os.Args) > 2 {
		name = os.Args[2]
	}
	_ = os.WriteFile(filepath.Join(dir, name+".env"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// startRecorded starts a stack of the test binary, each child recording its variables.
// It returns the stack, the folder of the records and the folder of the logs.
func startRecorded(t *testing.T, cfg stack.Config) (s *stack.Stack, record, logs string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the services as child processes")
	}
	record = t.TempDir()
	t.Setenv(envAsChaoslab, "1")
	t.Setenv(envRecord, record)
	cfg.Dir = t.TempDir()
	s, err := stack.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s, record, cfg.Dir
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fileNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// getData sends one GET /api/data with a request id and returns the status.
func getData(t *testing.T, base string, id string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/data", nil)
	req.Header.Set(results.RequestIDHeader, id)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s/api/data: %v", base, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// proxyNames lists the proxies of the fault API (Toxiproxy's GET /proxies).
func proxyNames(t *testing.T, faultURL string) []string {
	t.Helper()
	resp, err := http.Get(faultURL + "/proxies")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	return slices.Sorted(maps.Keys(m))
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Without a topology the stack is today's two services, byte for byte: the same log files,
// the same variables for each child, one proxy, the same services and snapshot, and client
// records without a tier.
func TestStackWithoutTopologyUnchanged(t *testing.T) {
	events := results.NewEventLog(nil)
	s, record, logs := startRecorded(t, stack.Config{ClientEnv: map[string]string{"RETRY_MAX_RETRIES": "2"}, Events: events})

	if got := strings.Join(fileNames(t, record), " "); got != "backend.env client.env" {
		t.Errorf("children = %s, want backend and client", got)
	}
	wantEnv := map[string]string{
		"backend": "LISTEN_ADDR=127.0.0.1:PORT\nLOG_FORMAT=json\nPAYLOAD_BYTES=2048\n",
		"client":  "BACKEND_URL=http://127.0.0.1:PORT\nLISTEN_ADDR=127.0.0.1:PORT\nLOG_FORMAT=json\nLOG_LEVEL=debug\nRETRY_MAX_RETRIES=2\n",
	}
	for name, want := range wantEnv {
		if got := readFile(t, filepath.Join(record, name+".env")); got != want {
			t.Errorf("%s's variables:\n%s\nwant\n%s", name, got, want)
		}
	}
	if got := strings.Join(proxyNames(t, s.FaultURL), " "); got != "backend" {
		t.Errorf("proxies = %s, want backend", got)
	}
	if got := strings.Join(s.Services(), " "); got != "backend-service client-service" {
		t.Errorf("Services() = %s", got)
	}
	if st := getData(t, s.ClientURL, "7"); st != http.StatusOK {
		t.Fatalf("GET /api/data = %d", st)
	}
	waitFor(t, "the attempt record of request 7", func() bool {
		return slices.ContainsFunc(events.Events(), func(e results.Event) bool { return e.Kind == results.KindAttempt && e.RequestID == 7 })
	})
	for _, e := range events.Events() {
		if b, _ := json.Marshal(e); strings.Contains(string(b), `"tier"`) {
			t.Errorf("event with a tier: %s", b)
		}
	}
	snap := s.Snapshot(context.Background(), "after")
	if got := strings.Join(slices.Sorted(maps.Keys(snap.Services)), " "); got != "backend-service client-service" {
		t.Errorf("snapshot services = %s", got)
	}
	if snap.Services[results.ClientService].Resilience == nil {
		t.Error("the client's snapshot lacks /api/resilience")
	}
	if s.Breaker() != results.BreakerClosed {
		t.Errorf("Breaker() = %q, want CLOSED", s.Breaker())
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(fileNames(t, logs), " "); got != "backend-service.log client-service.log" {
		t.Errorf("log files = %s", got)
	}
}

// loadTopology parses a topology document for a test.
func loadTopology(t *testing.T, doc string) *topology.Topology {
	t.Helper()
	topo, err := topology.Parse([]byte(doc), "test.yaml", "test")
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// attemptsOf returns the attempt events of request id, by tier.
func attemptsOf(events *results.EventLog, id uint64) map[string][]results.Event {
	out := map[string][]results.Event{}
	for _, e := range events.Events() {
		if e.Kind == results.KindAttempt && e.RequestID == id {
			out[e.Tier] = append(out[e.Tier], e)
		}
	}
	return out
}

// A chain starts bottom up: each tier a client-service with its own variables over the run's,
// its TIER, and BACKEND_URL at the proxy of the node it calls; one proxy per hop named after
// it; a log per tier; records with their tier; every tier in the snapshots; the entry's breaker.
func TestStackStartsAChain(t *testing.T) {
	topo := loadTopology(t, `
backend: {env: {BACKEND_WORKERS: "4"}}
tiers:
  - {name: edge, env: {RESILIENCE: "retry"}}
  - {name: mid}
  - {name: client}
`)
	events := results.NewEventLog(nil)
	run := map[string]string{"ATTEMPT_TIMEOUT": "100ms", "REQUEST_TIMEOUT": "1s", "RETRY_MAX_RETRIES": "1", "RETRY_INITIAL_BACKOFF": "10ms"}
	s, record, logs := startRecorded(t, stack.Config{ClientEnv: run, Events: events, Topology: topo})

	common := "ATTEMPT_TIMEOUT=100ms\nBACKEND_URL=http://127.0.0.1:PORT\nLISTEN_ADDR=127.0.0.1:PORT\nLOG_FORMAT=json\nLOG_LEVEL=debug\nREQUEST_TIMEOUT=1s\n"
	wantEnv := map[string]string{
		"backend": "BACKEND_WORKERS=4\nLISTEN_ADDR=127.0.0.1:PORT\nLOG_FORMAT=json\nPAYLOAD_BYTES=2048\n",
		"edge":    common + "RESILIENCE=retry\nRETRY_INITIAL_BACKOFF=10ms\nRETRY_MAX_RETRIES=1\nTIER=edge\n",
		"mid":     common + "RETRY_INITIAL_BACKOFF=10ms\nRETRY_MAX_RETRIES=1\nTIER=mid\n",
		"client":  common + "RETRY_INITIAL_BACKOFF=10ms\nRETRY_MAX_RETRIES=1\nTIER=client\n",
	}
	for name, want := range wantEnv {
		if got := readFile(t, filepath.Join(record, name+".env")); got != want {
			t.Errorf("%s's variables:\n%s\nwant\n%s", name, got, want)
		}
	}
	checkNames(t, "proxies", proxyNames(t, s.FaultURL), "backend client mid")
	checkNames(t, "Proxies()", s.Proxies(), "backend mid client")
	checkNames(t, "Services()", s.Services(), "backend-service client mid edge")
	if len(s.Entries()) != 1 || s.Entries()[0].Name != "edge" || s.ClientURL != s.Entries()[0].URL {
		t.Errorf("entries %+v, ClientURL %s: want edge", s.Entries(), s.ClientURL)
	}

	// One request crosses every hop: each tier logs one call with its id and its tier.
	if st := getData(t, s.ClientURL, "7"); st != http.StatusOK {
		t.Fatalf("GET edge /api/data = %d", st)
	}
	waitFor(t, "a call of request 7 at every tier", func() bool { return len(attemptsOf(events, 7)) == 3 })
	for _, tier := range []string{"edge", "mid", "client"} {
		if got := attemptsOf(events, 7)[tier]; len(got) != 1 || got[0].Outcome != results.OutcomeSuccess {
			t.Errorf("%s's calls of request 7 = %+v, want one success", tier, got)
		}
	}
	// A partition of hop "client" cuts mid from client only: mid's calls fail, client makes none.
	partitionHop(t, s.FaultURL, "client")
	getData(t, s.ClientURL, "8")
	got := attemptsOf(events, 8)
	if len(got["mid"]) == 0 || slices.ContainsFunc(got["mid"], func(e results.Event) bool { return e.Outcome == results.OutcomeSuccess }) || len(got["client"]) != 0 {
		t.Errorf("calls of request 8 by tier = %+v: want mid's failing and none by client", got)
	}

	snap := s.Snapshot(context.Background(), "after")
	checkNames(t, "snapshot services", slices.Sorted(maps.Keys(snap.Services)), "backend-service client edge mid")
	for _, tier := range []string{"edge", "mid", "client"} {
		if snap.Services[tier].Resilience == nil || !snap.Services[tier].Running {
			t.Errorf("%s's snapshot = %+v, want running with /api/resilience", tier, snap.Services[tier])
		}
	}
	if s.Breaker() != "off" {
		t.Errorf("Breaker() = %q, want off: the entry edge runs RESILIENCE=retry", s.Breaker())
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkNames(t, "log files", fileNames(t, logs), "backend-service.log client.log edge.log mid.log")
}

// A fan-in starts its entries side by side: no proxy in front of an entry, every entry calling
// the backend's proxy.
func TestStackStartsAFanIn(t *testing.T) {
	topo, err := topology.Load("fan-in")
	if err != nil {
		t.Fatal(err)
	}
	events := results.NewEventLog(nil)
	s, _, _ := startRecorded(t, stack.Config{Events: events, Topology: topo})
	checkNames(t, "proxies", proxyNames(t, s.FaultURL), "backend")
	var names []string
	for i, e := range s.Entries() {
		names = append(names, e.Name)
		getData(t, e.URL, strconv.Itoa(i+1))
	}
	checkNames(t, "entries", names, "caller-a caller-b caller-c")
	waitFor(t, "a backend call from each entry", func() bool {
		for i, name := range names {
			if len(attemptsOf(events, uint64(i+1))[name]) != 1 {
				return false
			}
		}
		return true
	})
	if s.Breaker() != results.BreakerClosed {
		t.Errorf("Breaker() = %q", s.Breaker())
	}
}

// partitionHop blackholes both streams of the named proxy.
func partitionHop(t *testing.T, faultURL, proxy string) {
	t.Helper()
	for _, stream := range []string{"downstream", "upstream"} {
		body := `{"name":"cut-` + stream + `","type":"timeout","stream":"` + stream + `","attributes":{"timeout":0}}`
		resp, err := http.Post(faultURL+"/proxies/"+proxy+"/toxics", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("toxic on %s: %d", proxy, resp.StatusCode)
		}
	}
}

func checkNames(t *testing.T, what string, got []string, want string) {
	t.Helper()
	if strings.Join(got, " ") != want {
		t.Errorf("%s = %v, want %s", what, got, want)
	}
}

// A topology's values are checked where they meet the run's --env, naming the file and the
// field; a stack that cannot start tiers refuses one; none of it starts anything.
func TestCheckTopology(t *testing.T) {
	topo := loadTopology(t, "tiers:\n  - {name: edge}\n  - {name: mid, env: {CB_MINIMUM_CALLS: \"20\"}}\n")
	tests := []struct {
		name, kind string
		run        map[string]string
		want       string // "" = accepted
	}{
		{"a tier's value against the run's", "local", map[string]string{"CB_SLIDING_WINDOW": "10"},
			`topology test.yaml: tiers[1].env (mid, over --env): CB_SLIDING_WINDOW="10": must be at least CB_MINIMUM_CALLS (20)`},
		{"netns", "netns", nil, "topology test.yaml: --stack netns starts today's two services only; a topology runs on --stack local"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := stack.CheckTopology(topo, tt.run, tt.kind)
			if err == nil || cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %v, want a usage error starting %q", err, tt.want)
			}
		})
	}
	if _, err := stack.Start(context.Background(), stack.Config{Kind: "netns", Topology: topo}); err == nil || !strings.Contains(err.Error(), "local stack only") {
		t.Errorf("netns with a topology: err = %v", err)
	}
}
