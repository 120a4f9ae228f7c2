package client

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/cmdutil"

	"chaoslab/internal/testutil"
)

// logBuffer collects a service's JSON log lines; safe for concurrent use.
type logBuffer struct{ testutil.SyncBuffer }

// records returns the JSON log records written so far.
func (b *logBuffer) records() []map[string]any {
	text := b.String()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// hasMsg reports whether a record's msg starts with prefix.
func (b *logBuffer) hasMsg(prefix string) bool {
	for _, r := range b.records() {
		if m, _ := r["msg"].(string); strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// service is a run function started on a port picked by the system.
type service struct {
	URL  string
	Addr string
	Logs *logBuffer
	stop context.CancelFunc
	done chan error
}

// start runs fn with env (LOG_FORMAT=json, LISTEN_ADDR=127.0.0.1:0 unless given) and waits for
// its "listening" line to learn the address.
func start(t testing.TB, fn cmdutil.RunFunc, env map[string]string) *service {
	t.Helper()
	e := map[string]string{"LOG_FORMAT": "json", "LISTEN_ADDR": "127.0.0.1:0", "SHUTDOWN_TIMEOUT": "2s"}
	for k, v := range env {
		e[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &service{Logs: &logBuffer{}, stop: cancel, done: make(chan error, 1)}
	go func() { s.done <- fn(ctx, nil, envOf(e), s.Logs, io.Discard) }()
	testutil.WaitFor(t, 5*time.Second, "the listening line", func() bool {
		for _, r := range s.Logs.records() {
			if r["msg"] == "listening" {
				s.Addr = r["addr"].(string)
				return true
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("service stopped before listening: %v", err)
		default:
		}
		return false
	})
	s.URL = "http://" + s.Addr
	t.Cleanup(func() { s.shutdown(t) })
	return s
}

// shutdown cancels the service and waits for its run function to return nil.
func (s *service) shutdown(t testing.TB) {
	t.Helper()
	if s.stop == nil {
		return
	}
	s.stop()
	s.stop = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("run returned %v on shutdown, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("service did not stop within 5s")
	}
}

// getJSON fetches url and decodes its JSON answer into v; it returns the response.
func getJSON(t *testing.T, url string, v any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return decodeAnswer(t, req, v)
}

// decodeAnswer sends req and decodes its JSON answer into v (nil: discard); it returns the
// response.
func decodeAnswer(t *testing.T, req *http.Request, v any) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("%s %s: decoding: %v", req.Method, req.URL, err)
		}
	}
	return resp
}
