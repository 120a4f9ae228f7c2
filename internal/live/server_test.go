package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"chaoslab/internal/results"
)

// get fetches url without following redirects and returns the status, a header and the body.
func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestPageAndAssets(t *testing.T) {
	h := NewHub()
	h.Info(results.RunInfo{Title: `A "partition" <script>alert(1)</script>`, Start: t0})
	srv := httptest.NewServer(newHandler(Config{Hub: h, Actions: &fakeActions{}}))
	defer srv.Close()
	tests := []struct {
		path, contentType string
		contains          []string
	}{
		{"/", "text/html; charset=utf-8", []string{`id="breaker"`, `id="count-fallback"`, `id="chart"`, `src="/app.js"`,
			`data-fault="network-partition" data-action="apply"`, `data-action="load"`, "&lt;script&gt;alert(1)&lt;/script&gt;"}},
		{"/app.js", "text/javascript; charset=utf-8", []string{`new EventSource("/events")`, "textContent"}},
		{"/style.css", "text/css; charset=utf-8", []string{"--fallback", "svg .b-open", "#breaker"}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := get(t, srv.URL+tc.path)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != tc.contentType {
				t.Fatalf("GET %s = %d %q, want 200 %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.contentType)
			}
			for _, want := range tc.contains {
				if !strings.Contains(body, want) {
					t.Errorf("GET %s has no %q", tc.path, want)
				}
			}
			if strings.Contains(body, "<script>alert") || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
				t.Errorf("GET %s holds unescaped text or a network address", tc.path)
			}
		})
	}
	resp, _ := get(t, srv.URL+"/")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("page Content-Security-Policy = %q, want only its own script", csp)
	}
	v := watch(t, srv.URL) // checks the stream's content type
	if m := v.next(); m.Type != msgSnapshot {
		t.Errorf("first message %q, want a snapshot", m.Type)
	}
	v.cancel()
	if resp, _ := get(t, srv.URL+"/nothing"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nothing = %d, want 404", resp.StatusCode)
	}
}

func TestOtherHostsAreRefused(t *testing.T) {
	srv := httptest.NewServer(newHandler(Config{Hub: NewHub()}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
	req.Host = "attacker.example:80" // a DNS name rebound to 127.0.0.1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("Host attacker.example: %d, want 421", resp.StatusCode)
	}
}

func TestResults(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "results")
	run := filepath.Join(dir, "20261130T090000Z")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(path, body string) {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(run, results.ReportHTML), "<!DOCTYPE html><title>report</title>")
	write(filepath.Join(top, "secret.txt"), "SECRET")
	if err := os.Symlink(filepath.Join(top, "secret.txt"), filepath.Join(run, "link.txt")); err != nil {
		t.Fatal(err)
	}
	h := NewHub()
	srv := httptest.NewServer(newHandler(Config{Hub: h, ResultsDir: dir}))
	defer srv.Close()
	report := "/results/20261130T090000Z/report.html"

	if resp, _ := get(t, srv.URL+report); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET %s before Done = %d, want 404", report, resp.StatusCode)
	}
	h.Done(run, "FAILED: did not recover")
	v := watch(t, srv.URL)
	var snap state
	v.until(msgSnapshot, &snap, nil)
	if snap.Done == nil || snap.Done.Report != report || snap.Done.Passed {
		t.Fatalf("snapshot done = %+v, want FAILED linking %s", snap.Done, report)
	}
	v.cancel()
	resp, body := get(t, srv.URL+report)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "report") {
		t.Errorf("GET %s = %d %q, want the report", report, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, path := range []string{
		"/results/",
		"/results/20261130T090000Z/",
		"/results/20261130T090000Z",
		"/results/../secret.txt",
		"/results/20261130T090000Z/../../secret.txt",
		"/results/%2e%2e/secret.txt",
		"/results/..%2fsecret.txt",
		"/results/20261130T090000Z/..%2f..%2fsecret.txt",
		"/results/20261130T090000Z/link.txt",
		"/results/..%5csecret.txt",
	} {
		resp, body := get(t, srv.URL+path)
		if resp.StatusCode == http.StatusOK || strings.Contains(body, "SECRET") {
			t.Errorf("GET %s = %d %.40q, want a refusal", path, resp.StatusCode, body)
		}
	}
}

func TestValidResultPath(t *testing.T) {
	for path, want := range map[string]bool{
		"run/report.html": true, "report.html": true, "a/b/c.csv": true,
		"": false, "..": false, "../x": false, "a/../b": false, "/etc/passwd": false, "a//b": false, "./a": false, `a\..\b`: false,
	} {
		if got := validResultPath(path); got != want {
			t.Errorf("validResultPath(%q) = %t, want %t", path, got, want)
		}
	}
}

func TestStartRefusesOtherHosts(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "example.com:0", "[::]:0", "127.0.0.1"} {
		if s, err := Start(Config{Addr: addr, Hub: NewHub()}); err == nil {
			s.Close(context.Background())
			t.Errorf("Start(%q) listened, want a refusal", addr)
		}
	}
	if _, err := Start(Config{}); err == nil {
		t.Error("Start without a hub did not fail")
	}
	for _, addr := range []string{"", "localhost:0"} {
		s, err := Start(Config{Addr: addr, Hub: NewHub()})
		if err != nil {
			t.Fatalf("Start(%q): %v", addr, err)
		}
		if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || !strings.HasSuffix(s.URL(), "/") {
			t.Errorf("URL() = %q, want http://127.0.0.1:PORT/", s.URL())
		}
		resp, _ := get(t, s.URL())
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", s.URL(), resp.StatusCode)
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
		cancel()
	}
}

// TestCloseEndsStreams: a viewer connected does not hold Close up.
func TestCloseEndsStreams(t *testing.T) {
	h := NewHub()
	s, err := Start(Config{Hub: h})
	if err != nil {
		t.Fatal(err)
	}
	v := watch(t, strings.TrimSuffix(s.URL(), "/"))
	v.next()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Errorf("Close with a viewer connected: %v", err)
	}
	if h.subscribers() != 0 {
		t.Error("the viewer is still subscribed after Close")
	}
}

// fakeActions records what the page asked for.
type fakeActions struct {
	mu       sync.Mutex
	calls    []string
	applyErr error
	loadGate chan struct{} // when set, Load waits for it
	loading  chan struct{} // when set, Load says it began
}

func (f *fakeActions) Faults() []Fault {
	return []Fault{{"network-partition", "the client is cut off from the backend"}, {"http-errors", "a share of 503s"}}
}

func (f *fakeActions) note(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeActions) Apply(ctx context.Context, name string) error {
	f.note("apply " + name)
	return f.applyErr
}

func (f *fakeActions) Remove(ctx context.Context, name string) error {
	f.note("remove " + name)
	return nil
}

func (f *fakeActions) Load(ctx context.Context, d time.Duration, rps float64) error {
	f.note(fmt.Sprintf("load %v %g", d, rps))
	if f.loading != nil {
		f.loading <- struct{}{}
	}
	if f.loadGate != nil {
		<-f.loadGate
	}
	return nil
}

func post(t *testing.T, url, body string, header ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("POST %s: the answer is not JSON: %v", url, err)
	}
	return resp.StatusCode, v
}

func TestActionEndpoints(t *testing.T) {
	fa := &fakeActions{}
	srv := httptest.NewServer(newHandler(Config{Hub: NewHub(), Actions: fa}))
	defer srv.Close()

	resp, body := get(t, srv.URL+"/api/faults")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `{"name":"network-partition","fault":"the client is cut off from the backend"}`) {
		t.Errorf("GET /api/faults = %d %s", resp.StatusCode, body)
	}
	tests := []struct {
		name, path, body string
		status           int
		errPart          string // in {"error": ...}; "" for a success
	}{
		{"apply", "/api/faults/network-partition/apply", "", 200, ""},
		{"remove", "/api/faults/http-errors/remove", "", 200, ""},
		{"unknown fault", "/api/faults/no-such-fault/apply", "", 404, `no fault "no-such-fault"`},
		{"load", "/api/load", `{"seconds":10,"rps":20}`, 200, ""},
		{"load too long", "/api/load", `{"seconds":61,"rps":20}`, 400, "seconds 61"},
		{"load too fast", "/api/load", `{"seconds":10,"rps":201}`, 400, "rps 201"},
		{"load of nothing", "/api/load", `{"seconds":0,"rps":20}`, 400, "seconds 0"},
		{"load without rps", "/api/load", `{"seconds":10}`, 400, "rps 0"},
		{"load not JSON", "/api/load", `ten seconds`, 400, "bad JSON body"},
		{"load unknown field", "/api/load", `{"seconds":10,"rps":20,"target":"http://example.com"}`, 400, "unknown field"},
		{"load two objects", "/api/load", `{"seconds":10,"rps":20}{}`, 400, "one object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, v := post(t, srv.URL+tc.path, tc.body)
			errText, _ := v["error"].(string)
			if status != tc.status || (tc.errPart == "") != (errText == "") || !strings.Contains(errText, tc.errPart) {
				t.Errorf("POST %s %s = %d %v, want %d with error %q", tc.path, tc.body, status, v, tc.status, tc.errPart)
			}
		})
	}
	want := []string{"apply network-partition", "remove http-errors", "load 10s 20"}
	if strings.Join(fa.calls, ", ") != strings.Join(want, ", ") {
		t.Errorf("calls = %q, want %q", fa.calls, want)
	}

	fa.applyErr = errors.New(`the fault API answered 409: toxic partition-downstream already exists`)
	if status, v := post(t, srv.URL+"/api/faults/network-partition/apply", ""); status != http.StatusBadGateway || !strings.Contains(v["error"].(string), "already exists") {
		t.Errorf("apply that failed = %d %v, want 502 with the fault API's answer", status, v)
	}
	if status, v := post(t, srv.URL+"/api/faults/network-partition/apply", "", "Origin", "https://attacker.example", "Sec-Fetch-Site", "cross-site"); status != http.StatusForbidden {
		t.Errorf("a cross-site POST = %d %v, want 403", status, v)
	}
}

func TestOneLoadAtATime(t *testing.T) {
	fa := &fakeActions{loadGate: make(chan struct{}), loading: make(chan struct{}, 1)}
	srv := httptest.NewServer(newHandler(Config{Hub: NewHub(), Actions: fa}))
	defer srv.Close()
	first := make(chan int, 1)
	go func() {
		status, _ := post(t, srv.URL+"/api/load", `{"seconds":1,"rps":1}`)
		first <- status
	}()
	select {
	case <-fa.loading:
	case <-time.After(wait):
		t.Fatal("the first load never began")
	}
	if status, v := post(t, srv.URL+"/api/load", `{"seconds":1,"rps":1}`); status != http.StatusConflict {
		t.Errorf("a second load while one runs = %d %v, want 409", status, v)
	}
	close(fa.loadGate)
	if status := <-first; status != http.StatusOK {
		t.Errorf("the first load = %d, want 200", status)
	}
}

func TestNoActionsNoButtons(t *testing.T) {
	srv := httptest.NewServer(newHandler(Config{Hub: NewHub()}))
	defer srv.Close()
	if resp, _ := get(t, srv.URL+"/api/faults"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /api/faults without Actions = %d, want 404", resp.StatusCode)
	}
	if _, body := get(t, srv.URL+"/"); strings.Contains(body, "data-fault") || strings.Contains(body, `id="load"`) {
		t.Error("the page has buttons without Actions")
	}
}
