package backend

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/httpserve"

	"chaoslab/internal/testutil"

	"github.com/prometheus/client_golang/prometheus"
)

type syncBuffer = testutil.SyncBuffer

// textListening matches the listening line of the text format.
var textListening = regexp.MustCompile(`^time=\S+ level=INFO msg=listening service=backend-service addr=(\S+)$`)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// startBackend runs Run on a free port and returns its base URL and a stop function that
// returns Run's error.
func startBackend(t *testing.T, logFormat string) (string, *syncBuffer, func() error) {
	t.Helper()
	return startBackendEnv(t, map[string]string{"LOG_FORMAT": logFormat})
}

// startBackendEnv is startBackend with the variables of env.
func startBackendEnv(t *testing.T, env map[string]string) (string, *syncBuffer, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	env = maps.Clone(env)
	env["LISTEN_ADDR"] = "127.0.0.1:0"
	go func() { done <- Run(ctx, nil, envOf(env), logs, io.Discard) }()
	var addr string
	deadline := time.Now().Add(5 * time.Second)
	for addr == "" {
		for _, line := range strings.Split(logs.String(), "\n") {
			var r map[string]any
			if json.Unmarshal([]byte(line), &r) == nil && r["msg"] == "listening" {
				addr = r["addr"].(string)
			}
			if m := textListening.FindStringSubmatch(line); m != nil {
				addr = m[1]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listening line: %s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop := func() error { cancel(); return <-done }
	return "http://" + addr, logs, stop
}

func TestBackendEndpoints(t *testing.T) {
	url, _, stop := startBackend(t, "json")
	defer stop()
	tests := []struct {
		name, path  string
		wantStatus  int
		wantContain string
	}{
		{"data", "/api/data", 200, `"service":"backend-service"`},
		{"liveness", "/healthz", 200, "ok"},
		{"readiness", "/readyz", 200, "ready"},
		{"metrics", "/metrics", 200, `http_server_requests_total{method="GET",status="200",uri="GET /api/data"} 1`},
		{"unknown path", "/nope", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(url + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || !strings.Contains(string(body), tt.wantContain) {
				t.Errorf("GET %s = %d %s", tt.path, resp.StatusCode, body)
			}
		})
	}
}

func TestDataAnswer(t *testing.T) {
	url, _, stop := startBackend(t, "json")
	defer stop()
	resp, err := http.Get(url + "/api/data")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d Data
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if _, err := time.Parse(time.RFC3339Nano, d.Timestamp); err != nil || d.Service != "backend-service" ||
		d.Instance == "" || d.Message == "" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("answer %+v (%s), timestamp error %v", d, resp.Header.Get("Content-Type"), err)
	}
}

func TestGracefulShutdownReturnsNil(t *testing.T) {
	tests := []struct{ format, stopped string }{
		{"json", `"msg":"stopped"`},
		{"text", "msg=stopped"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			_, logs, stop := startBackend(t, tt.format)
			if err := stop(); err != nil {
				t.Errorf("Run = %v after cancel, want nil", err)
			}
			if !strings.Contains(logs.String(), tt.stopped) {
				t.Errorf("no stopped line: %s", logs.String())
			}
		})
	}
}

func TestConfig(t *testing.T) {
	want := map[string]string{"LISTEN_ADDR": ":8081", "SHUTDOWN_TIMEOUT": "10s", "SHUTDOWN_DRAIN": "0s", "LOG_FORMAT": "text", "PAYLOAD_BYTES": "0",
		"BACKEND_WORKERS": "0", "BACKEND_QUEUE": "100", "BACKEND_QUEUE_ORDER": "fifo", "BACKEND_SERVICE_TIME": "0", "BACKEND_SEED": "0",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "", "OTEL_TRACES_SAMPLER": "parentbased_always_on",
		"OTEL_TRACES_SAMPLER_ARG": "1", "OTEL_SERVICE_NAME": "backend-service"}
	if !maps.Equal(Defaults(), want) {
		t.Errorf("Defaults() = %v, want %v", Defaults(), want)
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string
	}{
		{"bad listen address", map[string]string{"LISTEN_ADDR": "nope"}, "LISTEN_ADDR"},
		{"bad shutdown timeout", map[string]string{"SHUTDOWN_TIMEOUT": "soon"}, "SHUTDOWN_TIMEOUT"},
		{"bad log format", map[string]string{"LOG_FORMAT": "yaml"}, "LOG_FORMAT"},
		{"bad payload", map[string]string{"PAYLOAD_BYTES": "-1"}, "PAYLOAD_BYTES"},
		{"payload too big", map[string]string{"PAYLOAD_BYTES": "1048577"}, "PAYLOAD_BYTES"},
		{"negative workers", map[string]string{"BACKEND_WORKERS": "-1"}, "BACKEND_WORKERS"},
		{"workers not a number", map[string]string{"BACKEND_WORKERS": "four"}, "BACKEND_WORKERS"},
		{"too many workers", map[string]string{"BACKEND_WORKERS": "100001"}, "BACKEND_WORKERS"},
		{"negative queue", map[string]string{"BACKEND_WORKERS": "2", "BACKEND_QUEUE": "-1"}, "BACKEND_QUEUE"},
		{"unknown queue order", map[string]string{"BACKEND_QUEUE_ORDER": "random"}, "BACKEND_QUEUE_ORDER"},
		{"service time not a duration", map[string]string{"BACKEND_SERVICE_TIME": "soon"}, "BACKEND_SERVICE_TIME"},
		{"exponential without a mean", map[string]string{"BACKEND_SERVICE_TIME": "exp:0s"}, "BACKEND_SERVICE_TIME"},
		{"uniform upside down", map[string]string{"BACKEND_SERVICE_TIME": "uniform:3ms-1ms"}, "BACKEND_SERVICE_TIME"},
		{"negative seed", map[string]string{"BACKEND_SEED": "-1"}, "BACKEND_SEED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Run(context.Background(), nil, envOf(tt.env), io.Discard, io.Discard)
			if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.HasPrefix(err.Error(), tt.wantVar+"=") ||
				strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v (exit %d), want one line naming %s, exit 2", err, cmdutil.ExitCode(err), tt.wantVar)
			}
		})
	}
	var out strings.Builder
	if err := Run(context.Background(), []string{"--help"}, envOf(nil), &out, io.Discard); !errors.Is(err, cmdutil.ErrHelp) ||
		!strings.Contains(out.String(), "LISTEN_ADDR") || !strings.Contains(out.String(), "BACKEND_SERVICE_TIME") {
		t.Errorf("--help: err %v, output %q", err, out.String())
	}
}

func TestDataPadding(t *testing.T) {
	for _, n := range []int{0, 2048} {
		hm, err := httpserve.NewHTTPMetrics(prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		h := NewServer(Deps{Instance: "i", Ready: new(atomic.Bool), Metrics: hm, Now: time.Now, PayloadBytes: n})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/data", nil))
		var d Data
		if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil || len(d.Padding) != n {
			t.Errorf("PayloadBytes %d: padding of %d bytes (err %v)", n, len(d.Padding), err)
		}
		if n == 0 && strings.Contains(rec.Body.String(), "padding") {
			t.Errorf("PayloadBytes 0: the answer has a padding field: %s", rec.Body.String())
		}
	}
}
