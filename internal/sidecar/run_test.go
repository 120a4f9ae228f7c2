package sidecar

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/results"
	"chaoslab/internal/testutil"
)

func TestLoadConfig(t *testing.T) {
	want := Config{ListenAddr: ":8082", FaultAPIAddr: ":8474", Upstream: "127.0.0.1:8081", Process: "backend-service",
		RestartWait: 2 * time.Minute, ShutdownTimeout: 10 * time.Second, LogFormat: "text", LogLevel: "info"}
	if got, err := LoadConfig(func(string) string { return "" }); err != nil || got != want {
		t.Errorf("defaults = %+v, %v; want %+v", got, err, want)
	}
	for _, tc := range []struct {
		name, variable, value, want string
	}{
		{"data port", "LISTEN_ADDR", "8082", `LISTEN_ADDR="8082": must be host:port`},
		{"fault API", "FAULT_API_ADDR", ":99999", `FAULT_API_ADDR=":99999": must be host:port`},
		{"upstream without host", "UPSTREAM", ":8081", `UPSTREAM=":8081": must be host:port with a port from 1 to 65535`},
		{"upstream port 0", "UPSTREAM", "127.0.0.1:0", `UPSTREAM="127.0.0.1:0": must be host:port`},
		{"a path as the process", "BACKEND_PROCESS", "/usr/local/bin/backend-service", `BACKEND_PROCESS="/usr/local/bin/backend-service": must be a command name`},
		{"dot dot", "BACKEND_PROCESS", "..", `BACKEND_PROCESS="..": must be a command name`},
		{"no restart wait", "RESTART_WAIT", "0s", `RESTART_WAIT="0s": must be a duration of at least 1ms`},
		{"log format", "LOG_FORMAT", "yaml", `LOG_FORMAT="yaml": must be one of text, json`},
		{"log level", "LOG_LEVEL", "loud", `LOG_LEVEL="loud": must be one of debug, info, warn, error`},
		{"drain beyond the timeout", "SHUTDOWN_DRAIN", "11s", `SHUTDOWN_DRAIN="11s": must not exceed SHUTDOWN_TIMEOUT (10s)`},
		{"spike target without a port", "SPIKE_TARGETS", "http://edge", `SPIKE_TARGETS="http://edge": must be base URLs with a port`},
		{"spike target with a path", "SPIKE_TARGETS", "http://edge:8080/api/data", `SPIKE_TARGETS="http://edge:8080/api/data": must be base URLs`},
		{"spike target not http", "SPIKE_TARGETS", "edge:8080", `SPIKE_TARGETS="edge:8080": must be base URLs`},
		{"an empty spike target", "SPIKE_TARGETS", "http://edge:8080,", `SPIKE_TARGETS="http://edge:8080,": must be base URLs`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(func(k string) string {
				if k == tc.variable {
					return tc.value
				}
				return ""
			})
			if err == nil || !errors.Is(err, cmdutil.ErrUsage) || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("LoadConfig = %v, want a one-line usage error starting %q", err, tc.want)
			}
		})
	}
}

func TestHelpListsEveryVariable(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), []string{"--help"}, func(string) string { return "" }, &out, io.Discard)
	if !errors.Is(err, cmdutil.ErrHelp) {
		t.Fatalf("Run --help = %v, want ErrHelp", err)
	}
	if !strings.HasPrefix(out.String(), "Usage: chaoslab serve fault-proxy") {
		t.Errorf("help does not start with its usage line:\n%s", out.String())
	}
	for _, s := range settings() {
		if !strings.Contains(out.String(), "  "+s.Name+"  ") || !strings.Contains(out.String(), s.Default) {
			t.Errorf("help lacks %s with its default %q", s.Name, s.Default)
		}
	}
	if err := Run(context.Background(), []string{"--port"}, func(string) string { return "" }, io.Discard, io.Discard); !errors.Is(err, cmdutil.ErrUsage) {
		t.Errorf("an argument = %v, want a usage error", err)
	}
}

// logBuffer collects the proxy's log, safe for its goroutines and the test.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records decodes the JSON lines written so far.
func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(b.buf.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("a log line is not JSON: %s", line)
		}
		out = append(out, m)
	}
	return out
}

// events decodes the log with results.DecodeFaultLine, the reader's decoder.
func (b *logBuffer) events() []results.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []results.Event
	for _, line := range bytes.Split(b.buf.Bytes(), []byte("\n")) {
		if e, ok := results.DecodeFaultLine(line); ok {
			out = append(out, e)
		}
	}
	return out
}

// running is a fault proxy started by Run.
type running struct {
	data, api string // base URLs of the data port and the fault API
	log       *logBuffer
	stop      context.CancelFunc
	done      chan error
	once      sync.Once
	err       error
}

// wait returns what Run returned, once it has.
func (r *running) wait() error {
	r.once.Do(func() { r.err = <-r.done })
	return r.err
}

// startProxy runs the fault proxy on free loopback ports in front of upstream, with env added,
// and waits for its "listening" record.
func startProxy(t *testing.T, upstream string, env map[string]string) *running {
	t.Helper()
	vars := map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "FAULT_API_ADDR": "127.0.0.1:0", "UPSTREAM": upstream, "LOG_FORMAT": "json",
		"BACKEND_PROCESS": "chaoslab-sidecar-test-absent"}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{log: &logBuffer{}, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- Run(ctx, nil, func(k string) string { return vars[k] }, r.log, io.Discard) }()
	t.Cleanup(func() {
		cancel()
		r.wait()
	})
	eventually(t, func() bool {
		for _, m := range r.log.records(t) {
			if m["msg"] == "listening" && m["component"] == nil {
				r.data, r.api = "http://"+m["addr"].(string), m["fault_api"].(string)
				return true
			}
		}
		select {
		case err := <-r.done:
			t.Fatalf("Run returned before listening: %v", err)
		default:
		}
		return false
	})
	return r
}

// eventually polls cond until it holds, failing the test after 5 s.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// call sends one request to the fault API (or a service): testutil.Call.
func call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	return testutil.Call(t, method, url, body)
}

// backend stands in for backend-service on loopback.
func backend(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"service":"backend-service","path":"` + r.URL.Path + `"}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestDataPathAndFaultAPI: the data port forwards to the backend; the fault API's HTTP fault
// and Toxiproxy's toxics act on that path; /reset removes them; every change is one record the
// reader's decoder turns into a fault event; the health routes answer.
func TestDataPathAndFaultAPI(t *testing.T) {
	up := backend(t)
	p := startProxy(t, up.Listener.Addr().String(), nil)
	steps := []struct {
		name, method, url, body string
		code                    int
		want                    string
	}{
		{"liveness", "GET", p.api + "/healthz", "", 200, "ok"},
		{"readiness", "GET", p.api + "/readyz", "", 200, "ready"},
		{"through to the backend", "GET", p.data + "/api/data", "", 200, `"path":"/api/data"`},
		{"inject 503 for all", "POST", p.api + "/faults/http", `{"name":"http-errors","abort":{"http_status":503,"percentage":{"numerator":100}}}`, 201, "http-errors"},
		{"aborted", "GET", p.data + "/api/data", "", 503, "fault filter abort"},
		{"injector counters", "GET", p.api + "/faults/http", "", 200, `"aborted":1`},
		{"toxiproxy's API", "GET", p.api + "/proxies/backend", "", 200, `"name":"backend"`},
		{"processes", "GET", p.api + "/processes", "", 200, `"service":"chaoslab-sidecar-test-absent","pid":0,"running":false`},
		{"reset", "POST", p.api + "/reset", "", 204, ""},
		{"healed", "GET", p.data + "/api/data", "", 200, `"service":"backend-service"`},
		{"reset toxic", "POST", p.api + "/proxies/backend/toxics", `{"name":"connection-reset","type":"reset_peer","stream":"upstream","attributes":{"timeout":0}}`, 200, "reset_peer"},
		{"remove toxic", "DELETE", p.api + "/proxies/backend/toxics/connection-reset", "", 204, ""},
	}
	for _, s := range steps {
		code, body := call(t, s.method, s.url, s.body)
		if code != s.code || !strings.Contains(body, s.want) {
			t.Fatalf("%s: %s %s = %d %s, want %d with %q", s.name, s.method, s.url, code, body, s.code, s.want)
		}
	}
	var got []string
	for _, e := range p.log.events() {
		got = append(got, e.Kind+" "+e.Action+" "+e.Name)
	}
	want := []string{"fault on http-errors", "fault off http-errors", "fault on connection-reset", "fault off connection-reset"}
	if !slices.Equal(got, want) {
		t.Errorf("decoded events = %q, want %q", got, want)
	}
	p.stop()
	if err := p.wait(); err != nil {
		t.Errorf("Run after the cancel = %v, want nil (a graceful shutdown)", err)
	}
	if _, err := http.Get(p.api + "/healthz"); err == nil {
		t.Error("the fault API still answers after the shutdown")
	}
}

// TestDrainKeepsTheDataPath: on SIGTERM (the context cancelled) readiness turns 503 at once
// while the data path keeps answering for SHUTDOWN_DRAIN.
func TestDrainKeepsTheDataPath(t *testing.T) {
	up := backend(t)
	p := startProxy(t, up.Listener.Addr().String(), map[string]string{"SHUTDOWN_DRAIN": "500ms"})
	p.stop()
	eventually(t, func() bool {
		code, _ := call(t, "GET", p.api+"/readyz", "")
		return code == http.StatusServiceUnavailable
	})
	if code, body := call(t, "GET", p.data+"/api/data", ""); code != 200 {
		t.Errorf("data path during the drain = %d %s, want 200", code, body)
	}
	if err := p.wait(); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestPortInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, v := range []string{"LISTEN_ADDR", "FAULT_API_ADDR"} {
		t.Run(v, func(t *testing.T) {
			env := map[string]string{"LISTEN_ADDR": "127.0.0.1:0", "FAULT_API_ADDR": "127.0.0.1:0", v: busy.Addr().String()}
			err := Run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), v) || errors.Is(err, cmdutil.ErrUsage) {
				t.Errorf("Run = %v, want a run error naming %s", err, v)
			}
		})
	}
}

// TestKillThroughTheAPI: the real path end to end. A process with the backend's command name
// is killed through POST /processes/NAME/kill; restart_after is refused; a new process of that
// name (the kubelet's restart, played by the test) ends the crash fault, and the log has the
// kill, the start and the fault on/off, in that order.
func TestKillThroughTheAPI(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command")
	}
	up := backend(t)
	first, name := startNamed(t, sleep)
	p := startProxy(t, up.Listener.Addr().String(), map[string]string{"BACKEND_PROCESS": name})
	kill := p.api + "/processes/" + name + "/kill"
	if code, body := call(t, "POST", kill, `{"signal":"SIGKILL","restart_after":15}`); code != 400 || !strings.Contains(body, "the kubelet restarts the container") {
		t.Errorf("kill with restart_after = %d %s, want 400 saying the kubelet restarts it", code, body)
	}
	if code, body := call(t, "POST", kill, `{"signal":"SIGKILL"}`); code != 200 || !strings.Contains(body, `"running":false`) {
		t.Fatalf("kill = %d %s", code, body)
	}
	if err := first.Wait(); err == nil {
		t.Error("the process exited by itself, not by the kill")
	}
	second := startAs(t, sleep, name) // the kubelet's restart
	eventually(t, func() bool { return len(p.log.events()) == 4 })
	events := p.log.events()
	slices.SortStableFunc(events, func(a, b results.Event) int { return a.Time.Compare(b.Time) })
	var got []string
	for _, e := range events {
		got = append(got, e.Kind+" "+e.Action)
	}
	if want := []string{"fault on", "process kill", "process start", "fault off"}; !slices.Equal(got, want) {
		t.Errorf("decoded events = %q, want %q", got, want)
	}
	code, body := call(t, "GET", p.api+"/processes", "")
	if code != 200 || !strings.Contains(body, `"running":true,"restarts":1`) || !strings.Contains(body, `"pid":`+strconv.Itoa(second.Process.Pid)) {
		t.Errorf("processes = %d %s, want the new process running, 1 restart", code, body)
	}
}

// TestCapacityThroughTheAPI: a capacity fault on the sidecar's API changes UPSTREAM's capacity
// through its /api/capacity and /reset puts it back, a fault window in the log; a load spike is
// refused without SPIKE_TARGETS: no client to send it to.
func TestCapacityThroughTheAPI(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		calls = append(calls, r.Method+" "+r.URL.Path+" "+string(body))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"workers":1}`))
	}))
	t.Cleanup(up.Close)
	p := startProxy(t, up.Listener.Addr().String(), nil)
	if code, body := call(t, "POST", p.api+"/faults/capacity", `{"name":"drop","workers":1}`); code != 201 {
		t.Fatalf("capacity fault = %d %s", code, body)
	}
	if code, body := call(t, "POST", p.api+"/reset", ""); code != 204 {
		t.Fatalf("reset = %d %s", code, body)
	}
	mu.Lock()
	got := slices.Clone(calls)
	mu.Unlock()
	if want := []string{`PUT /api/capacity {"workers":1}`, "DELETE /api/capacity "}; !slices.Equal(got, want) {
		t.Errorf("the backend got %q, want %q", got, want)
	}
	var events []string
	for _, e := range p.log.events() {
		events = append(events, e.Kind+" "+e.Action+" "+e.Name)
	}
	if want := []string{"fault on capacity", "fault off capacity"}; !slices.Equal(events, want) {
		t.Errorf("decoded events = %q, want %q", events, want)
	}
	if code, body := call(t, "POST", p.api+"/faults/spike", `{"name":"s","rate":1,"duration_s":1}`); code != 501 || !strings.Contains(body, "knows no client") {
		t.Errorf("a load spike = %d %s, want 501", code, body)
	}
}

// TestSpikeTargets: SPIKE_TARGETS splits into the entry clients' URLs, in order.
func TestSpikeTargets(t *testing.T) {
	c, err := LoadConfig(func(k string) string {
		if k == "SPIKE_TARGETS" {
			return "http://edge:8080,https://caller-b:8443"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Spikes(), []string{"http://edge:8080", "https://caller-b:8443"}; !slices.Equal(got, want) {
		t.Errorf("Spikes() = %q, want %q", got, want)
	}
	if got := (Config{}).Spikes(); got != nil {
		t.Errorf("Spikes() without SPIKE_TARGETS = %q, want none", got)
	}
}

// TestSpikeThroughTheAPI: with SPIKE_TARGETS the sidecar sends a load spike to that client:
// the spike's own count of sent requests is the number of GET /api/data the client received,
// none with an X-Request-Id, and the spike is a fault window in the log.
func TestSpikeThroughTheAPI(t *testing.T) {
	var mu sync.Mutex
	got, withID := 0, 0
	entry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if r.Method == http.MethodGet && r.URL.Path == "/api/data" {
			got++
		}
		if r.Header.Get("X-Request-Id") != "" {
			withID++
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"source":"backend"}`))
	}))
	t.Cleanup(entry.Close)
	p := startProxy(t, backend(t).Listener.Addr().String(), map[string]string{"SPIKE_TARGETS": entry.URL})
	if code, body := call(t, "POST", p.api+"/faults/spike", `{"name":"s","rate":50,"duration_s":0.2}`); code != 201 {
		t.Fatalf("spike = %d %s", code, body)
	}
	_, body := call(t, "GET", p.api+"/faults/spike/s/wait", "")
	var spike struct {
		Sent, Answered, Failed int64
		Targets                []string
	}
	if err := json.Unmarshal([]byte(body), &spike); err != nil {
		t.Fatalf("the spike's record %s: %v", body, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if spike.Sent == 0 || int64(got) != spike.Sent || spike.Answered != spike.Sent || withID != 0 {
		t.Errorf("spike %s: the client received %d GET /api/data (%d with X-Request-Id); want the spike's sent, all answered, none with an id", body, got, withID)
	}
	if want := []string{entry.URL + "/api/data"}; !slices.Equal(spike.Targets, want) {
		t.Errorf("targets %q, want %q", spike.Targets, want)
	}
	eventually(t, func() bool {
		var events []string
		for _, e := range p.log.events() {
			events = append(events, e.Kind+" "+e.Action+" "+e.Name)
		}
		return slices.Equal(events, []string{"fault on load-spike", "fault off load-spike"})
	})
}
