package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/experiment"
	"chaoslab/internal/results"
)

// fastPipeline makes the pipeline's waits small so a whole experiment takes seconds.
var fastPipeline = []string{
	"--env", "ATTEMPT_TIMEOUT=200ms", "--env", "REQUEST_TIMEOUT=2s",
	"--env", "RETRY_INITIAL_BACKOFF=20ms", "--env", "RETRY_MAX_BACKOFF=200ms",
	"--env", "CB_WAIT_DURATION=1s",
}

func readEvents(t *testing.T, dir string) []results.Event {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, results.EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	evs, err := results.ReadEvents(f)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func readJournal(t *testing.T, dir string) *experiment.Journal {
	t.Helper()
	j, err := experiment.ReadJournal(filepath.Join(dir, results.JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// lastFault returns the last fault event's action ("on"/"off"), and whether one was seen.
func lastFault(evs []results.Event) (string, bool) {
	last, seen := "", false
	for _, e := range evs {
		if e.Kind == results.KindFault {
			last, seen = e.Action, true
		}
	}
	return last, seen
}

func TestRunLocalPartitionEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end lab run (about 15 s)")
	}
	t.Setenv(envTestMain, "1") // the services are this test binary re-executed as chaoslab
	out := filepath.Join(t.TempDir(), "results")
	args := append([]string{"run", "--out", out, "--rps", "20", "--warmup", "1s", "--recovery", "4s",
		"--var", "partition_duration:int=3", "--objective", "p99_while_open_max_ms=1000"}, fastPipeline...)
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), args, os.Getenv, &stdout, &stderr)
	if err != nil {
		t.Fatalf("chaoslab run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}

	j := readJournal(t, out)
	if j.Status != "completed" || j.Deviated || !j.SteadyStateMetBefore() {
		t.Errorf("journal: status %s deviated %t before met %t, want completed, not deviated, met", j.Status, j.Deviated, j.SteadyStateMetBefore())
	}
	evs := readEvents(t, out)
	var opened, closedAfterHeal, healed bool
	for _, e := range evs {
		switch {
		case e.Kind == results.KindFault && e.Action == "off":
			healed = true
		case e.Kind == results.KindBreaker && e.From == results.BreakerClosed && e.To == results.BreakerOpen:
			opened = true
		case e.Kind == results.KindBreaker && e.To == results.BreakerClosed && healed:
			closedAfterHeal = true
		}
	}
	if !opened || !closedAfterHeal {
		t.Errorf("breaker: CLOSED -> OPEN seen %t, back to CLOSED after the heal %t", opened, closedAfterHeal)
	}
	if last, seen := lastFault(evs); !seen || last != "off" {
		t.Errorf("last fault event = %q (seen %t), want off: a toxic was left", last, seen)
	}
	checkAttemptsAgainstBackend(t, out)
	fallbacks, total := countFallbacks(t, out)
	if fallbacks == 0 {
		t.Errorf("no fallback among %d requests: the partition was not served by the fallback", total)
	}
	for _, name := range []string{results.ReportHTML, results.ReportMarkdown, results.RunFile, results.ClientLogFile, results.BackendLogFile,
		filepath.Join(results.ObservationsDir, results.BeforeSnapshot), filepath.Join(results.ObservationsDir, results.AfterSnapshot)} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("results folder lacks %s", name)
		}
	}
	if !strings.Contains(stdout.String(), "PASSED") {
		t.Errorf("stdout does not end with PASSED:\n%s", stdout.String())
	}

	// chaoslab report renders the report again from the folder alone.
	for _, name := range []string{results.ReportHTML, results.ReportMarkdown} {
		if err := os.Remove(filepath.Join(out, name)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := runCLI(t, "report", out); err != nil {
		t.Fatalf("chaoslab report: %v", err)
	}
	for _, name := range []string{results.ReportHTML, results.ReportMarkdown} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("chaoslab report did not write %s", name)
		}
	}
}

func tryReadEvents(dir string) ([]results.Event, error) {
	b, err := os.ReadFile(filepath.Join(dir, results.EventsFile))
	if err != nil {
		return nil, err
	}
	// The writer may be mid-line: keep whole lines only.
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	}
	var evs []results.Event
	for _, line := range bytes.Split(b, []byte("\n")) {
		var e results.Event
		if json.Unmarshal(line, &e) == nil {
			evs = append(evs, e)
		}
	}
	return evs, nil
}

// startChaoslab runs the test binary as chaoslab with args in a child process, so that a test can
// signal it. The process is killed when the test ends.
func startChaoslab(t *testing.T, args ...string) (*exec.Cmd, *syncBuffer, <-chan error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), envTestMain+"=1")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return cmd, out, exited
}

// waitFaultOn waits until the run writing dir has its fault on (its events file says so).
func waitFaultOn(t *testing.T, dir string, out *syncBuffer, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if evs, err := tryReadEvents(dir); err == nil {
			if last, _ := lastFault(evs); last == "on" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the partition never started; output:\n%s", out.String())
		}
		select {
		case err := <-exited:
			t.Fatalf("chaoslab exited before the partition (%v):\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond): // polling the events file
		}
	}
}

// countFallbacks reads requests.csv in dir: how many fallbacks among how many requests.
func countFallbacks(t *testing.T, dir string) (fallbacks, total int) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, results.RequestsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := results.ReadRequests(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Source == results.SourceFallback {
			fallbacks++
		}
	}
	return fallbacks, len(recs)
}

// checkAttemptsAgainstBackend checks the attempt counts against independent counts. The
// backend's own counter of /api/data (http_server_requests_total, observed after the load
// stopped) lies between the successful attempts the client logged and all its attempts: every
// success was served, and a served request whose answer came too late (held by the partition,
// or after ATTEMPT_TIMEOUT) is an attempt the client logged as failed or ignored. And the
// attempts joined to the load's requests plus the probes' own (no request id) are every
// attempt logged.
func checkAttemptsAgainstBackend(t *testing.T, dir string) {
	t.Helper()
	run, err := results.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	var success, logged, probes int
	for _, e := range run.Events {
		if e.Kind != results.KindAttempt {
			continue
		}
		logged++
		if e.Outcome == results.OutcomeSuccess {
			success++
		}
		if e.RequestID == 0 {
			probes++
		}
	}
	if run.After == nil {
		t.Fatal("no observation after the run")
	}
	served := run.After.Services[results.BackendService].Metrics[`http_server_requests_total{method="GET",status="200",uri="GET /api/data"}`]
	if success == 0 || float64(success) > served || served > float64(logged) {
		t.Errorf("the client logged %d attempts, %d successful; the backend served %v requests of /api/data: want successes <= served <= attempts", logged, success, served)
	}
	joined := 0
	for _, r := range run.Records {
		if r.Attempts == results.UnknownAttempts {
			t.Fatalf("request %d has an unknown attempt count though the client logged its attempts", r.ID)
		}
		joined += r.Attempts
	}
	if joined+probes != logged {
		t.Errorf("attempts joined to requests (%d) + the probes' (%d) = %d, want every attempt logged (%d)", joined, probes, joined+probes, logged)
	}
}
