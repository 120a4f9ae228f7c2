package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/report"
	"chaoslab/internal/results"
)

// callsCounted sums a tier's breaker-recorded calls (resilience4j_circuitbreaker_calls_seconds,
// every kind) in a snapshot: the tier's own count of the calls it made.
func callsCounted(s results.ServiceSnapshot) int {
	n := 0.0
	for k, v := range s.Metrics {
		if strings.HasPrefix(k, "resilience4j_circuitbreaker_calls_seconds_count") {
			n += v
		}
	}
	return int(n)
}

// A short chain-3 run with a partition at the backend: the calls per user request at each
// layer (joined from the attempt records by request id) add up, layer by layer, to the calls
// each calling tier counted itself (its /metrics in the after snapshot), less the experiment's
// probes (calls without a request id); the entry layer is one call per request sent.
func TestRunTopologyChain3Accounting(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end lab run with three tiers (about 10 s)")
	}
	t.Setenv(envTestMain, "1")
	out := filepath.Join(t.TempDir(), "results")
	args := []string{"run", "--topology", "chain-3", "--out", out, "--rps", "20", "--warmup", "1s", "--recovery", "2s",
		"--var", "partition_duration:int=3", "--env", "ATTEMPT_TIMEOUT=200ms", "--env", "REQUEST_TIMEOUT=1s",
		"--env", "RETRY_INITIAL_BACKOFF=10ms", "--env", "RETRY_MAX_BACKOFF=50ms", "--env", "RETRY_MAX_RETRIES=2",
		"--env", "CB_WAIT_DURATION=500ms", "--env", "DEADLINE_PROPAGATION=on"}
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), args, os.Getenv, &stdout, &stderr); err != nil && cmdutil.ExitCode(err) != cmdutil.ExitFailure {
		t.Fatalf("chaoslab run: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	run, err := results.ReadRun(out)
	if err != nil {
		t.Fatal(err)
	}
	s, err := report.ReadSummaryJSON(filepath.Join(out, report.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	if run.After == nil || len(s.Layers) != 4 || s.Settings.Topology != "chain-3" {
		t.Fatalf("after snapshot %v, summary layers %+v", run.After != nil, s.Layers)
	}
	probes := map[string]int{} // each tier's calls without a request id: the experiment's probes
	for _, e := range run.Events {
		if e.Kind == results.KindAttempt && e.RequestID == 0 {
			probes[e.Tier]++
		}
	}
	sent := 0
	for _, r := range run.Records {
		if r.Tier != "edge" {
			t.Fatalf("request %d went to %q, want the entry edge", r.ID, r.Tier)
		}
		if r.Answered() {
			sent++
		}
	}
	total := func(l report.SummaryLayer) int { return l.Before.Calls + l.During.Calls + l.After.Calls }
	if got := total(s.Layers[0]); s.Layers[0].Name != "edge" || got != sent {
		t.Errorf("layer %s: %d calls, want one per request sent (%d)", s.Layers[0].Name, got, sent)
	}
	for i, caller := range []string{"edge", "mid", "client"} {
		l := s.Layers[i+1]
		own := callsCounted(run.After.Services[caller]) - probes[caller]
		if total(l) != own || own == 0 {
			t.Errorf("layer %s: %d calls joined by request id; %s counted %d of its own (less %d probes' calls)",
				l.Name, total(l), caller, own, probes[caller])
		}
	}
	if s.Layers[3].During.Calls == 0 {
		t.Error("no call reached the backend's layer during the partition: the run says nothing")
	}
	for _, want := range []string{"calls per user request, by layer", "tiers edge http://"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, name := range []string{"edge.log", "mid.log", "client.log", "backend-service.log"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("results folder lacks %s", name)
		}
	}
}
