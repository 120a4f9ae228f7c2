package cli

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

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

// chaoslab up: the services answer, a stock Toxiproxy client partitions them through the API,
// the printed chaos run line names the right URLs, and cancelling (Ctrl-C) stops every child
// and exits 0.
func TestUpWorksWithAToxiproxyClient(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack")
	}
	t.Setenv(envTestMain, "1")
	logs := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, append([]string{"up", "--client-addr", "127.0.0.1:0", "--backend-addr", "127.0.0.1:0",
			"--toxiproxy-addr", "127.0.0.1:0", "--logs", logs}, fastPipeline...), os.Getenv, &out, &out)
	}()
	testutil.WaitFor(t, 20*time.Second, "chaoslab up to print its URLs", func() bool { return strings.Contains(out.String(), "Press Ctrl-C") })
	m := regexp.MustCompile(`CHAOSLAB_CLIENT_URL=(\S+) CHAOSLAB_BACKEND_URL=(\S+) CHAOSLAB_TOXIPROXY_URL=(\S+) chaos run chaos/local/network-partition-experiment.json`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no chaos run command line in:\n%s", out.String())
	}
	clientURL, apiURL := m[1], m[3]

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

	cancel() // Ctrl-C
	select {
	case err := <-done:
		if cmdutil.ExitCode(err) != 0 {
			t.Fatalf("up exited %d: %v", cmdutil.ExitCode(err), err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("up did not stop within 30s of Ctrl-C")
	}
	if _, err := http.Get(clientURL + "/healthz"); err == nil {
		t.Error("client-service still answers after up stopped")
	}
	if _, err := http.Get(apiURL + "/version"); err == nil {
		t.Error("the Toxiproxy API still answers after up stopped")
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
	var snap results.Snapshot
	testutil.WaitFor(t, 30*time.Second, "the snapshot before the fault", func() bool {
		return results.ReadJSONFile(filepath.Join(out, results.ObservationsDir, results.BeforeSnapshot), &snap) == nil
	})
	pid := snap.Services[results.BackendService].PID
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
