package fault

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// The fuzz targets of the fault package: the request bodies of the fault API's routes that
// make a fault, and the embedded Toxiproxy's toxic creation. Each runs its seed corpus (the
// catalogue's bodies, the bodies of this package's tests and testdata/fuzz/FuzzXxx) under
// `go test`; .ci/fuzz runs them as fuzzers.

// fuzzRoutes are the routes whose bodies FuzzFaultAPI fuzzes; the first fuzz argument picks one.
var fuzzRoutes = []string{"/faults/http", "/faults/flapping", "/processes/backend/kill", "/proxies/" + ProxyName + "/toxics",
	"/faults/capacity", "/faults/spike"}

// fuzzKillRefused is the error of fuzzProcs.Kill for SIGQUIT: the one 5xx the fake asks for.
const fuzzKillRefused = "fuzz fake: SIGQUIT refused"

// fuzzProcs is a ProcessControl that never blocks (fakeProcs' start channel fills up after ten
// restarts) and refuses SIGQUIT, so the API's answer to a failed kill is fuzzed too.
type fuzzProcs struct {
	mu      sync.Mutex
	running map[string]bool
	pid     int
}

func (p *fuzzProcs) Services() []string { return []string{"backend-service", "client-service"} }

func (p *fuzzProcs) Kill(_ context.Context, s string, sig syscall.Signal) (int, error) {
	if sig == syscall.SIGQUIT {
		return 0, errors.New(fuzzKillRefused)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running[s] = false
	return p.pid, nil
}

func (p *fuzzProcs) Start(_ context.Context, s string) (int, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.running[s] {
		return p.pid, false, nil
	}
	p.running[s] = true
	p.pid++
	return p.pid, true, nil
}

func (p *fuzzProcs) Status(s string) ProcessStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return ProcessStatus{PID: p.pid, Running: p.running[s]}
}

// catalogueBodies returns the bodies the lab's catalogue experiments POST to the fault API,
// keyed by the index of their route in fuzzRoutes (placeholders left as they are).
func catalogueBodies(f *testing.F) map[int][][]byte {
	f.Helper()
	paths, _ := filepath.Glob("../../chaos/local/*.json")
	out := map[int][][]byte{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		var exp struct {
			Method []struct {
				Provider struct {
					Method    string          `json:"method"`
					URL       string          `json:"url"`
					Arguments json.RawMessage `json:"arguments"`
				} `json:"provider"`
			} `json:"method"`
		}
		if err := json.Unmarshal(data, &exp); err != nil {
			f.Fatalf("%s: %v", p, err)
		}
		for _, a := range exp.Method {
			for i, route := range fuzzRoutes {
				if a.Provider.Method == "POST" && len(a.Provider.Arguments) > 0 && (strings.HasSuffix(a.Provider.URL, route) ||
					i == 2 && strings.HasSuffix(a.Provider.URL, "/kill") || i == 3 && strings.HasSuffix(a.Provider.URL, "/toxics")) {
					out[i] = append(out[i], a.Provider.Arguments)
				}
			}
		}
	}
	return out
}

// FuzzFaultAPI POSTs a fuzzed body to one of the routes that make a fault (/faults/http,
// /faults/flapping, /processes/backend/kill, /proxies/backend/toxics, /faults/capacity,
// /faults/spike), on one API over a fake partitioner, an HTTP injector in front of a test
// upstream (which also plays the backend's capacity API and the client a spike loads) and fake
// processes, then resets it.
// No input panics or answers 5xx (except the kill the fake refuses); a 4xx carries a JSON error
// in Toxiproxy's shape; after POST /reset no fault is in effect or scheduled.
func FuzzFaultAPI(f *testing.F) {
	for i, bodies := range catalogueBodies(f) {
		for _, b := range bodies {
			f.Add(uint8(i), b)
		}
	}
	seeds := [][]string{
		{`{"name":"http-errors","abort":{"http_status":503,"percentage":{"numerator":30,"denominator":"HUNDRED"}}}`,
			`{"name":"both","abort":{"http_status":"500","percentage":{"numerator":5,"denominator":1}},"delay":{"fixed_delay":"1.5s","percentage":{"numerator":50}}}`,
			`{"name":"x","abort":{"grpc_status":14},"headers":[]}`, `{"name":"n","abort":null,"delay":{"fixed_delay":"300ms","percentage":null}}`, ``, `[]`},
		{`{"name":"flap","on":"60ms","off":0.04,"cycles":3}`, `{"name":"flap","on":1e300,"off":-1,"cycles":1}`, `{"name":"x","on":1,"off":1,"cycles":1,"extra":1}`},
		{`{"signal":"SIGKILL","restart_after":0.2}`, `{"signal":"sigterm","restart_after":"15s"}`, `{"signal":"SIGQUIT"}`, `{"restart_after":"soon"}`, `{}`},
		{`{"name":"partition-downstream","type":"timeout","stream":"downstream","toxicity":1.0,"attributes":{"timeout":0}}`,
			`{"name":"slow","type":"latency","attributes":{"latency":100}}`, `{"stream":"sideways"}`},
		{`{"name":"drop","workers":1,"service_time_factor":5}`, `{"name":"slow","service_time":"exp:2ms"}`, `{"name":"x"}`, `{"workers":-1}`},
		{`{"name":"spike","rate":100,"duration_s":1}`, `{"name":"s","rate":1e9,"duration_s":"1h","timeout_s":-1}`, `{"name":"s","rate":"10"}`},
	}
	for i, bodies := range seeds {
		for _, b := range bodies {
			f.Add(uint8(i), []byte(b))
		}
	}

	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) }))
	f.Cleanup(upstream.Close)
	a, err := StartAPI(APIConfig{
		Addr:      "127.0.0.1:0",
		TCP:       NewPartitionAPI(PartitionAPIConfig{Partitioner: &fakePartitioner{}}),
		HTTP:      NewHTTPFaults(HTTPFaultsConfig{Upstream: strings.TrimPrefix(upstream.URL, "http://")}),
		Processes: &fuzzProcs{running: map[string]bool{"backend-service": true, "client-service": true}, pid: 100},
		Backend:   upstream.URL, // answers every capacity change 200
		Clients:   []string{upstream.URL},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { a.Close(context.Background()) })
	api := a.srv.Handler // the API's handler, served in process: the same code, no socket per input

	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		path := fuzzRoutes[int(route)%len(fuzzRoutes)]
		code, answer := fuzzServe(api, http.MethodPost, path, body)
		switch {
		case code >= 500:
			if path != fuzzRoutes[2] || !strings.Contains(answer, fuzzKillRefused) {
				t.Errorf("POST %s %q = %d %s", path, body, code, answer)
			}
		case code >= 400:
			checkJSONError(t, path, body, code, answer)
		case code >= 200 && code < 300:
			if !json.Valid([]byte(answer)) {
				t.Errorf("POST %s %q = %d with a body that is not JSON: %q", path, body, code, answer)
			}
		default:
			t.Errorf("POST %s %q = %d %s", path, body, code, answer)
		}
		if code, answer := fuzzServe(api, http.MethodPost, "/reset", nil); code != http.StatusNoContent {
			t.Fatalf("POST /reset after POST %s %q = %d %s", path, body, code, answer)
		}
		if left, what := a.Leftover(); left {
			t.Fatalf("after POST %s %q and POST /reset, still %s", path, body, what)
		}
		if code, answer := fuzzServe(api, http.MethodGet, "/faults/http", nil); code != 200 || !strings.Contains(answer, `"faults":[]`) {
			t.Fatalf("after POST /reset, GET /faults/http = %d %s", code, answer)
		}
	})
}

// FuzzToxiproxyToxic POSTs a fuzzed toxic to the embedded Toxiproxy's proxy "backend" (through
// the fault API, so the tracker describes whatever was made), then resets it. No input panics
// or answers 5xx; an error answer is JSON with an "error"; after the reset no toxic is left.
func FuzzToxiproxyToxic(f *testing.F) {
	for _, b := range catalogueBodies(f)[3] {
		f.Add(b)
	}
	for _, b := range []string{
		`{"name":"slow","type":"latency","attributes":{"latency":100,"jitter":10}}`,
		`{"name":"bw","type":"bandwidth","stream":"downstream","attributes":{"rate":1}}`,
		`{"name":"reset","type":"reset_peer","stream":"upstream","toxicity":0.5,"attributes":{"timeout":0}}`,
		`{"name":"slicer","type":"slicer","attributes":{"average_size":-1,"size_variation":9,"delay":0}}`,
		`{"name":"limit","type":"limit_data","attributes":{"bytes":1}}`,
		`{"name":"t","type":"timeout","toxicity":2,"attributes":{"timeout":"${x}"}}`,
		`{"type":"nope"}`, `{}`, `null`, ``,
	} {
		f.Add([]byte(b))
	}
	upstream := httptest.NewServer(http.NotFoundHandler())
	f.Cleanup(upstream.Close)
	p, err := StartProxy(ProxyConfig{Listen: "127.0.0.1:0", Upstream: strings.TrimPrefix(upstream.URL, "http://")})
	if err != nil {
		f.Fatal(err)
	}
	a, err := StartAPI(APIConfig{Addr: "127.0.0.1:0", TCP: p})
	if err != nil {
		p.Close(context.Background())
		f.Fatal(err)
	}
	f.Cleanup(func() { a.Close(context.Background()) })
	api := a.srv.Handler
	path := "/proxies/" + ProxyName + "/toxics"

	f.Fuzz(func(t *testing.T, body []byte) {
		code, answer := fuzzServe(api, http.MethodPost, path, body)
		switch {
		case code >= 200 && code < 300:
			if !json.Valid([]byte(answer)) {
				t.Errorf("POST %s %q = %d with a body that is not JSON: %q", path, body, code, answer)
			}
		case code >= 400 && code < 500:
			// Toxiproxy's own answers: {"error": a message, "status": the code}.
			var e struct {
				Error string `json:"error"`
			}
			if json.Unmarshal([]byte(answer), &e) != nil || e.Error == "" {
				t.Errorf("POST %s %q = %d with no JSON error: %q", path, body, code, answer)
			}
		default:
			t.Errorf("POST %s %q = %d %s", path, body, code, answer)
		}
		_ = p.Injected()
		if code, answer := fuzzServe(api, http.MethodPost, "/reset", nil); code != http.StatusNoContent {
			t.Fatalf("POST /reset after POST %s %q = %d %s", path, body, code, answer)
		}
		if in := p.Injected(); len(in) != 0 {
			t.Fatalf("after POST %s %q and POST /reset, still %v", path, body, in)
		}
	})
}

// fuzzServe sends one request to h in process and returns the status and the body.
func fuzzServe(h http.Handler, method, path string, body []byte) (int, string) {
	req := httptest.NewRequest(method, path, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// checkJSONError fails unless answer is an error in Toxiproxy's shape: {"error": a message,
// "status": the code}.
func checkJSONError(t *testing.T, path string, body []byte, code int, answer string) {
	t.Helper()
	var e struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
	}
	if err := json.Unmarshal([]byte(answer), &e); err != nil || strings.TrimSpace(e.Error) == "" || e.Status != code {
		t.Errorf("POST %s %q = %d with %q: want {\"error\": a message, \"status\": %d}", path, body, code, answer, code)
	}
}
