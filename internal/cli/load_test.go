package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/load"
)

// The load's default timeout outlasts client-service's default REQUEST_TIMEOUT, read from the
// client's own table, so the load never cuts a request the client is still working on.
func TestLoadDefaultTimeoutOutlastsTheClient(t *testing.T) {
	rt := clientRequestTimeout()
	if rt != 15*time.Second {
		t.Errorf("client-service's default REQUEST_TIMEOUT = %v, want 15s (the help texts say so)", rt)
	}
	if load.DefaultTimeout <= rt {
		t.Errorf("load.DefaultTimeout %v is not longer than REQUEST_TIMEOUT %v", load.DefaultTimeout, rt)
	}
}

// chaoslab load warns on stderr when --timeout is not longer than the client's REQUEST_TIMEOUT,
// saying what it does to the numbers, and prints dropped requests in its line.
func TestLoadTimeoutWarningAndLine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"source":"backend","attempts":1,"circuitBreakerState":"CLOSED"}`))
	}))
	defer srv.Close()
	tests := []struct {
		name    string
		timeout []string
		warns   bool
	}{
		{"default", nil, false},
		{"the old 10s", []string{"--timeout", "10s"}, true},
		{"equal to REQUEST_TIMEOUT", []string{"--timeout", "15s"}, true},
		{"longer", []string{"--timeout", "16s"}, false},
	}
	line := regexp.MustCompile(`requests=\d+ backend=\d+ fallback=0 errors=0 dropped=0 breaker=CLOSED`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"load", "--target", srv.URL, "--rps", "50", "--duration", "100ms"}, tt.timeout...)
			out, errOut, err := runCLI(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			warned := strings.Contains(errOut, "not longer than client-service's REQUEST_TIMEOUT") &&
				strings.Contains(errOut, "counted as timeout errors")
			if warned != tt.warns {
				t.Errorf("warned = %t, want %t; stderr:\n%s", warned, tt.warns, errOut)
			}
			if !line.MatchString(out) {
				t.Errorf("no line with the dropped count:\n%s", out)
			}
		})
	}
}

// loadTarget is a client-service stand-in for chaoslab load: /readyz answers 503 to its first
// notReady polls and 200 after; /api/data answers like the client and counts the requests that
// came before /readyz had answered 200.
type loadTarget struct {
	notReady    int64
	readyPolls  atomic.Int64
	ready       atomic.Bool
	data, early atomic.Int64
	onPoll      func(n int64) // called with each /readyz poll's number; may be nil
}

func (lt *loadTarget) start(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		n := lt.readyPolls.Add(1)
		if lt.onPoll != nil {
			lt.onPoll(n)
		}
		if n <= lt.notReady {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		lt.ready.Store(true)
	})
	mux.HandleFunc("GET /api/data", func(w http.ResponseWriter, r *http.Request) {
		lt.data.Add(1)
		if !lt.ready.Load() {
			lt.early.Add(1)
		}
		w.Write([]byte(`{"source":"backend","attempts":1,"circuitBreakerState":"CLOSED"}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

var totalsLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ requests=(\d+) backend=\d+ fallback=0 errors=0 dropped=0 breaker=CLOSED max_latency=\S+$`)

// Without --wait-ready, chaoslab load is what it was: nothing polls /readyz, stdout holds only the
// totals lines, stderr nothing.
func TestLoadWithoutWaitReadyIsUnchanged(t *testing.T) {
	lt := &loadTarget{}
	srv := lt.start(t)
	out, errOut, err := runCLI(t, "load", "--target", srv.URL+"/api/data", "--rps", "50", "--duration", "100ms")
	if err != nil {
		t.Fatal(err)
	}
	if n := lt.readyPolls.Load(); n != 0 {
		t.Errorf("/readyz polled %d times without --wait-ready", n)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, l := range lines {
		if !totalsLine.MatchString(l) {
			t.Errorf("line %q is not a totals line", l)
		}
	}
	if errOut != "" {
		t.Errorf("stderr: %q", errOut)
	}
}

// --wait-ready polls until 200, says so in a line when it starts and one when ready, and only
// then sends: the target sees no /api/data request before /readyz answered 200, and the last
// totals line counts exactly the requests the target saw.
func TestLoadWaitsReady(t *testing.T) {
	lt := &loadTarget{notReady: 2}
	srv := lt.start(t)
	out, _, err := runCLI(t, "load", "--target", srv.URL+"/api/data", "--rps", "50", "--duration", "100ms",
		"--wait-ready", srv.URL+"/readyz")
	if err != nil {
		t.Fatal(err)
	}
	if n := lt.readyPolls.Load(); n != 3 {
		t.Errorf("/readyz polled %d times, want 3 (503, 503, 200)", n)
	}
	if n := lt.early.Load(); n != 0 {
		t.Errorf("%d /api/data requests came before /readyz answered 200", n)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("stdout:\n%s\nwant a waiting line, a ready line, and totals", out)
	}
	wantWait := " waiting for " + srv.URL + "/readyz to answer 200 (up to 2m0s)"
	wantReady := regexp.MustCompile(`^\S+Z ` + regexp.QuoteMeta(srv.URL+"/readyz") + ` is ready after \S+ \(3 polls\): the load starts$`)
	if !strings.HasSuffix(lines[0], wantWait) || !wantReady.MatchString(lines[1]) {
		t.Errorf("first lines:\n%s\n%s\nwant ...%s, then the ready line", lines[0], lines[1], wantWait)
	}
	m := totalsLine.FindStringSubmatch(lines[len(lines)-1])
	if m == nil || m[1] != strconv.FormatInt(lt.data.Load(), 10) || m[1] == "0" {
		t.Errorf("last line %q: want the totals with requests=%d, the target's count", lines[len(lines)-1], lt.data.Load())
	}
}

// A URL never ready within --wait-timeout: exit 1, one line naming the URL, the timeout and the
// last answer, and no request sent to the target.
func TestLoadWaitReadyTimesOut(t *testing.T) {
	lt := &loadTarget{notReady: 1 << 62}
	srv := lt.start(t)
	out, _, err := runCLI(t, "load", "--target", srv.URL+"/api/data", "--wait-ready", srv.URL+"/readyz", "--wait-timeout", "300ms")
	if code := cmdutil.ExitCode(err); code != 1 {
		t.Fatalf("exit %d (%v), want 1", code, err)
	}
	want := "load --wait-ready: " + srv.URL + "/readyz not ready: no 200 within 300ms; last answer: HTTP 503"
	if err.Error() != want {
		t.Errorf("error %q\nwant  %q", err, want)
	}
	if n := lt.data.Load(); n != 0 || lt.readyPolls.Load() == 0 {
		t.Errorf("target saw %d /api/data and %d /readyz requests, want 0 and some", n, lt.readyPolls.Load())
	}
	if strings.Contains(out, "requests=") {
		t.Errorf("a totals line though nothing was sent:\n%s", out)
	}
}

// Ctrl-C while waiting ends the wait at once (the timeout is a minute away), sends nothing, and
// says it was stopped.
func TestLoadWaitReadyCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lt := &loadTarget{notReady: 1 << 62, onPoll: func(n int64) {
		if n == 2 {
			cancel()
		}
	}}
	srv := lt.start(t)
	done := make(chan error, 1)
	go func() {
		var out, errb bytes.Buffer
		done <- Run(ctx, []string{"load", "--target", srv.URL + "/api/data", "--wait-ready", srv.URL + "/readyz", "--wait-timeout", "1m"},
			func(string) string { return "" }, &out, &errb)
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stopped while waiting for "+srv.URL+"/readyz") {
			t.Errorf("err = %v, want context.Canceled and the URL", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("load did not stop waiting after Ctrl-C")
	}
	if n := lt.data.Load(); n != 0 {
		t.Errorf("target saw %d /api/data requests", n)
	}
}

// Bad --wait-ready or --wait-timeout: exit 2 with one line that says what is wrong, before any
// request to either URL.
func TestLoadWaitReadyUsage(t *testing.T) {
	lt := &loadTarget{}
	srv := lt.start(t)
	tests := []struct {
		name   string
		args   []string
		errHas string
	}{
		{"ftp", []string{"--wait-ready", "ftp://" + srv.Listener.Addr().String() + "/readyz"}, `wait-ready URL "ftp://`},
		{"no host", []string{"--wait-ready", "http:///readyz"}, "want an http:// or https:// URL with a host"},
		{"no scheme", []string{"--wait-ready", srv.Listener.Addr().String() + "/readyz"}, "want an http:// or https:// URL"},
		{"zero timeout", []string{"--wait-ready", srv.URL + "/readyz", "--wait-timeout", "0s"}, "wait timeout 0s: must be > 0"},
		{"negative timeout", []string{"--wait-ready", srv.URL + "/readyz", "--wait-timeout", "-1s"}, "wait timeout -1s: must be > 0"},
		{"not a duration", []string{"--wait-ready", srv.URL + "/readyz", "--wait-timeout", "soon"}, "-wait-timeout"},
		{"timeout without URL", []string{"--wait-timeout", "1s"}, "--wait-timeout needs --wait-ready URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"load", "--target", srv.URL + "/api/data", "--duration", "50ms"}, tt.args...)
			_, _, err := runCLI(t, args...)
			if code := cmdutil.ExitCode(err); code != 2 || !strings.Contains(err.Error(), tt.errHas) || strings.Contains(err.Error(), "\n") {
				t.Errorf("exit %d, err %v; want 2 and one line with %q", code, err, tt.errHas)
			}
		})
	}
	if n := lt.readyPolls.Load() + lt.data.Load(); n != 0 {
		t.Errorf("the target saw %d requests", n)
	}
}

// --help documents --wait-ready and --wait-timeout with its default.
func TestLoadHelpDocumentsWaitReady(t *testing.T) {
	out, _, err := runCLI(t, "load", "--help")
	if cmdutil.ExitCode(err) != 0 {
		t.Fatal(err)
	}
	for _, want := range []string{"[--wait-ready URL [--wait-timeout D]]", "-wait-ready URL", "-wait-timeout duration",
		"(default 2m0s)", "every 200ms, each poll bounded by 2s", "one every 5s while it waits", "Not ready in\ntime: exit 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("load --help lacks %q:\n%s", want, out)
		}
	}
}
