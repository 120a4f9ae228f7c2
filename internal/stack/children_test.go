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
	"strings"
	"testing"
	"time"

	"chaoslab/internal/backend"
	"chaoslab/internal/cli"
	"chaoslab/internal/client"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/results"
	"chaoslab/internal/stack"
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
