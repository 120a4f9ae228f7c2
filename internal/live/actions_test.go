package live

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"chaoslab/internal/results"
)

// faultAPI is a fake of the lab's fault API: it records each call and answers status.
type faultAPI struct {
	mu     sync.Mutex
	calls  []string // "METHOD path body"
	status int
}

func (f *faultAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls = append(f.calls, strings.TrimSpace(r.Method+" "+r.URL.Path+" "+string(b)))
	status := f.status
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, `{"ok":true}`)
}

func (f *faultAPI) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func newCatalogue(t *testing.T, stack string) (Actions, *faultAPI) {
	t.Helper()
	api := &faultAPI{status: http.StatusOK}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	env := map[string]string{"CHAOSLAB_TOXIPROXY_URL": srv.URL, "CHAOSLAB_CLIENT_URL": "http://127.0.0.1:1", "CHAOSLAB_BACKEND_URL": "http://127.0.0.1:1"}
	return NewCatalogueActions(stack, env, nil), api
}

func names(fs []Fault) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Name)
	}
	return out
}

func TestCatalogueFaultsPerStack(t *testing.T) {
	local, _ := newCatalogue(t, "local")
	want := []string{"network-partition", "backend-latency", "backend-latency-within-timeout", "http-errors",
		"backend-crash", "flapping-partition", "slow-body", "connection-reset"}
	if got := names(local.Faults()); !slices.Equal(got, want) {
		t.Errorf("local faults = %q, want %q", got, want)
	}
	netns, _ := newCatalogue(t, "netns")
	want = []string{"network-partition", "http-errors", "backend-crash", "flapping-partition"}
	if got := names(netns.Faults()); !slices.Equal(got, want) {
		t.Errorf("netns faults = %q, want %q", got, want)
	}
	if f := local.Faults()[0]; f.Fault != "the client is cut off from the backend: a blackhole both ways" {
		t.Errorf("network-partition's fault = %q", f.Fault)
	}
}

// TestCatalogueApplyAndRemove: the buttons make exactly the fault API calls of the experiments'
// actions and rollbacks, and nothing else (no probe, no pause).
func TestCatalogueApplyAndRemove(t *testing.T) {
	a, api := newCatalogue(t, "local")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	tests := []struct {
		name, fault string
		do          func(context.Context, string) error
		want        []string
	}{
		{"apply partition", "network-partition", a.Apply, []string{
			`POST /proxies/backend/toxics {"attributes":{"timeout":0},"name":"partition-downstream","stream":"downstream","toxicity":1.0,"type":"timeout"}`,
			`POST /proxies/backend/toxics {"attributes":{"timeout":0},"name":"partition-upstream","stream":"upstream","toxicity":1.0,"type":"timeout"}`}},
		{"remove partition", "network-partition", a.Remove, []string{
			"DELETE /proxies/backend/toxics/partition-downstream", "DELETE /proxies/backend/toxics/partition-upstream"}},
		{"apply crash", "backend-crash", a.Apply, []string{`POST /processes/backend-service/kill {"restart_after":15,"signal":"SIGKILL"}`}},
		{"remove crash", "backend-crash", a.Remove, []string{"POST /processes/backend-service/start"}},
		{"apply flapping", "flapping-partition", a.Apply, []string{`POST /faults/flapping {"cycles":5,"name":"flapping-partition","off":3,"on":3,"proxy":"backend"}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(ctx, tc.fault); err != nil {
				t.Fatal(err)
			}
			got := api.take()
			for i := range got {
				got[i] = canonicalCall(got[i])
			}
			for i := range tc.want {
				tc.want[i] = canonicalCall(tc.want[i])
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("calls = %q\nwant %q", got, tc.want)
			}
		})
	}
}

// canonicalCall rewrites the JSON body of a call with sorted keys, so bodies compare by value.
func canonicalCall(c string) string {
	i := strings.Index(c, " {")
	if i < 0 {
		return c
	}
	var v any
	if json.Unmarshal([]byte(c[i+1:]), &v) != nil {
		return c
	}
	b, _ := json.Marshal(v)
	return c[:i+1] + string(b)
}

func TestCatalogueApplyFails(t *testing.T) {
	a, api := newCatalogue(t, "local")
	api.status = http.StatusConflict
	err := a.Apply(context.Background(), "http-errors")
	if err == nil || !strings.Contains(err.Error(), "inject-http-errors: the fault API answered 409") {
		t.Errorf("Apply against a fault API answering 409 = %v, want the action's name and the status", err)
	}
	if err := a.Apply(context.Background(), "no-such-fault"); statusOf(err) != http.StatusNotFound {
		t.Errorf("Apply of an unknown fault = %v (status %d), want a 404", err, statusOf(err))
	}
	netns, _ := newCatalogue(t, "netns")
	if err := netns.Apply(context.Background(), "backend-latency"); statusOf(err) != http.StatusNotFound {
		t.Errorf("Apply of a fault the stack cannot make = %v, want a 404", err)
	}
}

// TestCatalogueLoad: the load goes to the client's /api/data, and its request ids are its own.
func TestCatalogueLoad(t *testing.T) {
	var mu sync.Mutex
	var headerIDs []uint64
	client := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseUint(r.Header.Get(results.RequestIDHeader), 10, 64)
		mu.Lock()
		headerIDs = append(headerIDs, id)
		mu.Unlock()
		if r.URL.Path != "/api/data" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, `{"source":"backend","attempts":1,"circuitBreakerState":"CLOSED"}`)
	}))
	defer client.Close()
	var recs []results.Record
	a := NewCatalogueActions("local", map[string]string{"CHAOSLAB_CLIENT_URL": client.URL}, func(r results.Record) {
		mu.Lock()
		recs = append(recs, r)
		mu.Unlock()
	})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := a.Load(ctx, 200*time.Millisecond, 50); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(recs) < 5 || len(recs) != len(headerIDs) {
		t.Fatalf("%d records for %d requests, want about 10 of each", len(recs), len(headerIDs))
	}
	for _, r := range recs {
		if r.Source != results.SourceBackend || r.ID <= 1<<loadIDShift || !slices.Contains(headerIDs, r.ID) {
			t.Errorf("record %+v: want a backend answer whose id (above 1<<40) is the one the client saw", r)
		}
	}
}
