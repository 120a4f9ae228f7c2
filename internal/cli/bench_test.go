package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/bench"
	"chaoslab/internal/cmdutil"
)

// TestBenchAdaptiveAgainstOn runs the bench's measurements, short, for on and adaptive on the
// local stack and checks relations that hold on a loaded machine (the absolute goals are the
// bench's): adaptive notices the blackhole sooner and answers from the backend sooner after the
// heal (on waits CB_WAIT_DURATION, here 2 s); it comes back from the latency step by itself;
// under 30 % 503s every request is answered and the retries stay bounded.
func TestBenchAdaptiveAgainstOn(t *testing.T) {
	t.Setenv(envTestMain, "1") // the services are this test binary re-executed as chaoslab
	var progress strings.Builder
	runs, err := bench.Run(context.Background(), bench.Config{
		Profiles: []string{"on", "adaptive"}, RPS: 100, Warmup: 2 * time.Second, Fault: 3 * time.Second,
		Recovery: 4 * time.Second, Throughput: time.Second, Workers: 2, Runs: 1, OutDir: t.TempDir(),
		ClientEnv: map[string]string{"CB_WAIT_DURATION": "2s", "RETRY_INITIAL_BACKOFF": "50ms", "RETRY_MAX_BACKOFF": "200ms"},
		Stdout:    &progress,
	})
	t.Log("\n" + progress.String())
	if err != nil {
		t.Fatal(err)
	}
	on, ad := runs[0][0], runs[0][1]
	var table strings.Builder
	if err := bench.WriteTable(&table, runs); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + table.String())

	switch {
	case on.FaultToFallback == nil || ad.FaultToFallback == nil:
		t.Errorf("partition -> first fallback not seen: on %v, adaptive %v", on.FaultToFallback, ad.FaultToFallback)
	case *ad.FaultToFallback >= *on.FaultToFallback:
		t.Errorf("adaptive's first fallback %v after the partition, on's %v: want adaptive sooner", *ad.FaultToFallback, *on.FaultToFallback)
	}
	switch {
	case on.HealToBackend == nil || ad.HealToBackend == nil:
		t.Errorf("heal -> first backend answer not seen: on %v, adaptive %v", on.HealToBackend, ad.HealToBackend)
	case *ad.HealToBackend >= *on.HealToBackend:
		t.Errorf("adaptive's first backend answer %v after the heal, on's %v: want adaptive sooner", *ad.HealToBackend, *on.HealToBackend)
	}
	if ad.StepRecovery == nil {
		t.Errorf("adaptive never came back to 99%% backend answers during the latency step")
	}
	if ad.ErrorRequests == 0 || ad.Answered != 1 || ad.Amplification > 1.2 {
		t.Errorf("adaptive under 30%% 503s: %d requests, %.2f%% answered, %.2f calls per request; want all answered and at most 1.2",
			ad.ErrorRequests, 100*ad.Answered, ad.Amplification)
	}
	if on.HealthyCalls == 0 || ad.HealthyCalls == 0 || ad.Throughput == 0 {
		t.Errorf("healthy figures missing: %+v / %+v", on, ad)
	}
}

func TestBenchBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--profiles", "on,bogus"},
		{"bench", "--profiles", "on,on"},
		{"bench", "--fault", "1500ms"},
		{"bench", "--runs", "0"},
		{"bench", "--env", "RESILIENCE=off"},
		{"bench", "--env", "NO_SUCH=1"},
		{"bench", "extra"},
	} {
		out, _, err := runCLI(t, args...)
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: exit %d, err %v, want 2 with one line", args, cmdutil.ExitCode(err), err)
		}
		if out != "" {
			t.Errorf("%v printed %q before refusing", args, out)
		}
	}
}
