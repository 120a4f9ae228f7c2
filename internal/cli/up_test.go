package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"chaoslab/chaos"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/results"
	"chaoslab/internal/testutil"
)

type syncBuffer = testutil.SyncBuffer

func getJSON(url string, v any) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, json.NewDecoder(resp.Body).Decode(v)
}

// upURLs are the addresses chaoslab up printed in its chaos run command line.
type upURLs struct{ client, backend, toxiproxy string }

// env is the environment the printed command line sets for the experiment.
func (u upURLs) env() map[string]string {
	return map[string]string{"CHAOSLAB_CLIENT_URL": u.client, "CHAOSLAB_BACKEND_URL": u.backend, "CHAOSLAB_TOXIPROXY_URL": u.toxiproxy}
}

// startUp runs `chaoslab up` with free ports and the given flags until it prints its first
// screen. stop is Ctrl-C: it cancels up and returns its error once it has stopped.
func startUp(t *testing.T, args ...string) (urls upURLs, out *syncBuffer, stop func() error) {
	t.Helper()
	t.Setenv(envTestMain, "1") // the services are this test binary re-executed as chaoslab
	ctx, cancel := context.WithCancel(context.Background())
	out = &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, append([]string{"up", "--client-addr", "127.0.0.1:0", "--backend-addr", "127.0.0.1:0",
			"--toxiproxy-addr", "127.0.0.1:0", "--logs", t.TempDir()}, args...), os.Getenv, out, out)
	}()
	stop = sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("up did not stop within 30s of Ctrl-C")
			return nil
		}
	})
	t.Cleanup(func() { stop() })
	testutil.WaitFor(t, 30*time.Second, "chaoslab up to print its URLs", func() bool {
		select {
		case err := <-done:
			t.Fatalf("up exited before it was up: %v\n%s", err, out.String())
		default:
		}
		return strings.Contains(out.String(), "Press Ctrl-C")
	})
	m := regexp.MustCompile(`CHAOSLAB_CLIENT_URL=(\S+) CHAOSLAB_BACKEND_URL=(\S+) CHAOSLAB_TOXIPROXY_URL=(\S+) chaos run chaos/local/network-partition-experiment.json`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no chaos run command line in:\n%s", out.String())
	}
	return upURLs{client: m[1], backend: m[2], toxiproxy: m[3]}, out, stop
}

// dataRequests is how many GET /api/data client-service has answered, from its /metrics.
func dataRequests(t *testing.T, clientURL string) int {
	t.Helper()
	resp, err := http.Get(clientURL + "/metrics")
	if err != nil {
		t.Fatalf("client /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("client /metrics: %v", err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "http_server_requests_total{") || !strings.Contains(line, `uri="GET /api/data"`) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("client /metrics line %q: %v", line, err)
		}
		n += int(v)
	}
	return n
}

// chaoslab up: the services answer, a stock Toxiproxy client partitions them through the API,
// the printed chaos run line names the right URLs, and cancelling (Ctrl-C) stops every child
// and exits 0.
func TestUpWorksWithAToxiproxyClient(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack")
	}
	urls, _, stop := startUp(t, fastPipeline...)
	clientURL, apiURL := urls.client, urls.toxiproxy

	var answer struct {
		Source string `json:"source"`
	}
	if code, err := getJSON(clientURL+"/api/data", &answer); err != nil || code != 200 || answer.Source != "backend" {
		t.Fatalf("client before the fault: %d %+v %v", code, answer, err)
	}
	proxy, err := toxiclient.NewClient(apiURL).Proxy("backend")
	if err != nil {
		t.Fatalf("stock Toxiproxy client: %v", err)
	}
	for _, stream := range []string{"downstream", "upstream"} {
		if _, err := proxy.AddToxic("partition-"+stream, "timeout", stream, 1, toxiclient.Attributes{"timeout": 0}); err != nil {
			t.Fatalf("add toxic: %v", err)
		}
	}
	testutil.WaitFor(t, 20*time.Second, "a fallback during the partition", func() bool {
		code, err := getJSON(clientURL+"/api/data", &answer)
		return err == nil && code == 200 && answer.Source == "fallback"
	})
	var diag struct {
		Reachable bool `json:"reachable"`
	}
	if _, err := getJSON(clientURL+"/api/diagnostics/backend", &diag); err != nil || diag.Reachable {
		t.Errorf("diagnostics during the partition: reachable=%t err=%v, want false", diag.Reachable, err)
	}

	if err := stop(); cmdutil.ExitCode(err) != 0 {
		t.Fatalf("up exited %d: %v", cmdutil.ExitCode(err), err)
	}
	if _, err := http.Get(clientURL + "/healthz"); err == nil {
		t.Error("client-service still answers after up stopped")
	}
	if _, err := http.Get(apiURL + "/version"); err == nil {
		t.Error("the Toxiproxy API still answers after up stopped")
	}
}

// chaoslab up sends the load Deployment's 2 requests/s by default: the first screen says so,
// client-service counts /api/data requests nobody in the test sent, and the status line shows
// them with the breaker's state.
func TestUpSendsLoadByDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack")
	}
	urls, out, stop := startUp(t, "--every", "200ms")
	want := "load: 2 requests/s to " + urls.client + "/api/data (--rps 0 turns it off)"
	if !strings.Contains(out.String(), want) {
		t.Errorf("the first screen does not say %q:\n%s", want, out.String())
	}
	testutil.WaitFor(t, 10*time.Second, "client-service to answer 3 load requests", func() bool { return dataRequests(t, urls.client) >= 3 })
	status := regexp.MustCompile(`load: ([1-9]\d*) requests, ([1-9]\d*) backend, 0 fallback, 0 errors, 0 dropped \| breaker CLOSED`)
	testutil.WaitFor(t, 10*time.Second, "a status line with the load's answers", func() bool { return status.MatchString(out.String()) })
	if err := stop(); cmdutil.ExitCode(err) != 0 {
		t.Fatalf("up exited %d: %v", cmdutil.ExitCode(err), err)
	}
	if !strings.Contains(out.String(), "stopping: the load, then faults and services") {
		t.Errorf("no stopping line:\n%s", out.String())
	}
}

// --rps 0 turns the load off: the first screen says so, and over several intervals of the
// default rate after the stack is ready client-service answers no /api/data but the test's own.
func TestUpWithoutLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack")
	}
	urls, out, _ := startUp(t, "--rps", "0", "--every", "100ms")
	if !strings.Contains(out.String(), "load: off (--rps 0)") {
		t.Errorf("the first screen does not say the load is off:\n%s", out.String())
	}
	window := 4 * time.Second / upRPS // four arrivals of the default load
	deadline := time.Now().Add(window)
	for time.Now().Before(deadline) {
		if n := dataRequests(t, urls.client); n != 0 {
			t.Fatalf("client-service answered %d /api/data requests with --rps 0, want none", n)
		}
		time.Sleep(100 * time.Millisecond) // sampling a window in which nothing may happen
	}
	if _, err := http.Get(urls.client + "/api/data"); err != nil {
		t.Fatal(err)
	}
	if n := dataRequests(t, urls.client); n != 1 {
		t.Errorf("after one request of the test's own, client-service counts %d, want 1 (is the count read right?)", n)
	}
	if strings.Contains(out.String(), " requests, ") {
		t.Errorf("a load status line with --rps 0:\n%s", out.String())
	}
}

// Ctrl-C stops the load before the stack: at a high rate, a load still sending while the
// services stop would count their refusals as errors; the final line counts none.
func TestUpStopsItsLoadFirst(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack")
	}
	urls, out, stop := startUp(t, "--rps", "200")
	testutil.WaitFor(t, 10*time.Second, "client-service to answer 50 load requests", func() bool { return dataRequests(t, urls.client) >= 50 })
	if err := stop(); cmdutil.ExitCode(err) != 0 {
		t.Fatalf("up exited %d: %v", cmdutil.ExitCode(err), err)
	}
	final := regexp.MustCompile(`load: [1-9]\d* requests, [1-9]\d* backend, 0 fallback, 0 errors, 0 dropped \| breaker CLOSED \(stopped\)`)
	if !final.MatchString(out.String()) {
		t.Errorf("no final load line without errors:\n%s", out.String())
	}
}

func TestUpBadRPS(t *testing.T) {
	for _, rps := range []string{"-1", "-0.5", "10001", "NaN", "fast"} {
		t.Run(rps, func(t *testing.T) {
			_, _, err := runCLI(t, "up", "--rps", rps)
			if code := cmdutil.ExitCode(err); code != 2 {
				t.Fatalf("up --rps %s: exit %d (%v), want 2", rps, code, err)
			}
			if !strings.Contains(err.Error(), "rps") {
				t.Errorf("message %q does not name --rps", err)
			}
		})
	}
}

// The point of up's load (issue "Evidence you can trust", point 9): the shipped experiment, run
// the way the real `chaos run` runs it against `chaoslab up` with its defaults and the README's
// partition_duration, completes without deviating. Without the load the breaker sees too few
// calls to open, and the steady-state probe after the partition outlasts its 2 s timeout.
func TestChaosRunAgainstUpHoldsSteadyState(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack and runs a 6 s partition")
	}
	urls, upOut, _ := startUp(t)
	env := urls.env()
	journal := filepath.Join(t.TempDir(), "journal.json")
	var out syncBuffer
	err := Run(context.Background(), []string{"run", "--stack", "none", "--journal-path", journal,
		"--var", "partition_duration:int=6", filepath.Join("..", "..", chaos.LocalPartitionExperimentPath)},
		func(k string) string { return env[k] }, &out, &out)
	j := readJournal(t, filepath.Dir(journal))
	if cmdutil.ExitCode(err) != 0 || j.Status != "completed" || j.Deviated {
		t.Fatalf("chaos run against up: exit %d (%v), status %q, deviated %t\nrun:\n%s\nup:\n%s",
			cmdutil.ExitCode(err), err, j.Status, j.Deviated, out.String(), upOut.String())
	}
}

// A service that dies during a run is reported at once, recorded in events.jsonl, and fails
// the run (the guide: "pods should remain running").
func TestRunFailsWhenAServiceDies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack")
	}
	t.Setenv(envTestMain, "1")
	out := filepath.Join(t.TempDir(), "results")
	var stdout syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), append([]string{"run", "--out", out, "--warmup", "300ms", "--recovery", "1s",
			"--var", "partition_duration:int=30"}, fastPipeline...), os.Getenv, &stdout, &stdout)
	}()
	testutil.WaitFor(t, 30*time.Second, "the partition to start", func() bool {
		return strings.Contains(stdout.String(), "partition-client-from-backend-downstream")
	})
	pid := servicePID(t, "backend")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill backend (pid %d): %v", pid, err)
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the run did not end within 60s of the backend's death")
	}
	if !errors.Is(err, cmdutil.ErrFailed) {
		t.Errorf("run returned %v, want a failed run", err)
	}
	var died bool
	for _, e := range readEvents(t, out) {
		if e.Kind == results.KindChildExit && e.Service == results.BackendService && strings.Contains(e.Error, "killed") {
			died = true
		}
	}
	if !died {
		t.Errorf("events.jsonl has no child-exit of backend-service")
	}
	if !strings.Contains(stdout.String(), "backend-service exited") {
		t.Errorf("the death was not reported:\n%s", stdout.String())
	}
}

// servicePID is the pid of this test process's child that runs `chaoslab serve <name>` (Linux:
// it reads /proc). The lab writes its snapshots only at the end of a run, so they cannot say.
func servicePID(t *testing.T, name string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc to find the %s process in: %v", name, err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		// stat: pid (comm) state ppid ...; comm may hold spaces, so read after the last ')'.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(os.Getpid()) && strings.HasSuffix(string(cmdline), "\x00serve\x00"+name+"\x00") {
			return pid
		}
	}
	t.Fatalf("no child process runs serve %s", name)
	return 0
}

// Every catalogue experiment runs against `chaoslab up` the way the real `chaos run` runs it
// (--stack none: the experiment alone, its faults made through the fault API by http
// providers), completes without deviating, and leaves no fault behind: no toxic, no HTTP fault,
// the backend running.
func TestCatalogueAgainstUp(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack and runs every catalogue experiment")
	}
	urls, upOut, _ := startUp(t, "--rps", "20")
	env := urls.env()
	api := env["CHAOSLAB_TOXIPROXY_URL"]
	for _, en := range mustCatalogue(t) {
		t.Run(en.Name, func(t *testing.T) {
			journal := filepath.Join(t.TempDir(), "journal.json")
			var out syncBuffer
			err := Run(context.Background(), []string{"run", "--stack", "none", "--journal-path", journal,
				"--var", "partition_duration:int=2", "--var", "fault_duration:int=2", "--var", "restart_after:int=1",
				"--var", "on_seconds:int=1", "--var", "off_seconds:int=1", "--var", "cycles:int=2",
				filepath.Join("..", "..", en.Path)}, func(k string) string { return env[k] }, &out, &out)
			j := readJournal(t, filepath.Dir(journal))
			if cmdutil.ExitCode(err) != 0 || j.Status != "completed" || j.Deviated {
				t.Fatalf("chaos run against up: exit %d (%v), status %q, deviated %t\nrun:\n%s\nup:\n%s",
					cmdutil.ExitCode(err), err, j.Status, j.Deviated, out.String(), upOut.String())
			}
			for path, want := range map[string]string{
				"/proxies/backend/toxics": "[]",
				"/faults/http":            `"faults":[]`,
				"/processes":              `"service":"backend-service","pid":`,
				"/faults/flapping":        "",
			} {
				body := getBody(t, api+path)
				if !strings.Contains(body, want) || strings.Contains(body, `"running":false`) || strings.Contains(body, `"partitioned":true`) {
					t.Errorf("after %s, GET %s = %s: a fault was left behind", en.Name, path, body)
				}
			}
		})
	}
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
