package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/results"
)

// A fallback made by a tier below the entry reaches the user inside its callers' "backend"
// answers: the load counts it as a fallback all the same. chain-3 with edge and mid retrying
// only (no breaker, no fallback of their own) and client with the breaker and fallback, during
// an outage at the backend's hop: the user requests answered with a fallback in requests.csv
// are exactly those for which tier client recorded its fallback (events.jsonl, by request id).
func TestFallbackOfALowerTierCountsForTheUser(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end lab run with three tiers (about 10 s)")
	}
	t.Setenv(envTestMain, "1")
	dir := t.TempDir()
	topo := filepath.Join(dir, "chain.yaml")
	if err := os.WriteFile(topo, []byte(`name: chain-3
backend: {env: {BACKEND_WORKERS: "8", BACKEND_QUEUE: "32", BACKEND_SERVICE_TIME: "exp:2ms"}}
tiers:
  - {name: edge, env: {RESILIENCE: "retry", ATTEMPT_TIMEOUT: "3s", REQUEST_TIMEOUT: "5s"}}
  - {name: mid, env: {RESILIENCE: "retry", ATTEMPT_TIMEOUT: "2s", REQUEST_TIMEOUT: "4s"}}
  - {name: client, env: {RESILIENCE: "on", ATTEMPT_TIMEOUT: "200ms", REQUEST_TIMEOUT: "1s"}}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "results")
	args := []string{"run", "retry-storm", "--topology", topo, "--out", out, "--rps", "20", "--warmup", "1s", "--recovery", "2s",
		"--var", "partition_duration:int=3", "--env", "RETRY_INITIAL_BACKOFF=10ms", "--env", "RETRY_MAX_BACKOFF=50ms",
		"--env", "RETRY_MAX_RETRIES=2", "--env", "CB_WAIT_DURATION=1s"}
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), args, os.Getenv, &stdout, &stderr); err != nil && cmdutil.ExitCode(err) != cmdutil.ExitFailure {
		t.Fatalf("chaoslab run: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	run, err := results.ReadRun(out)
	if err != nil {
		t.Fatal(err)
	}
	var byClient []uint64
	for _, e := range run.Events {
		if e.Kind == results.KindFallback && e.RequestID != 0 {
			if e.Tier != "client" {
				t.Errorf("tier %q answered a fallback; only client has one", e.Tier)
			}
			byClient = append(byClient, e.RequestID)
		}
	}
	var toUser []uint64
	for _, r := range run.Records {
		if r.Source == results.SourceFallback {
			toUser = append(toUser, r.ID)
		}
	}
	slices.Sort(byClient)
	slices.Sort(toUser)
	if len(byClient) == 0 || !slices.Equal(byClient, toUser) {
		t.Errorf("tier client answered %d requests with its fallback (%v), the load counted %d fallbacks (%v): want the same requests, at least one",
			len(byClient), byClient, len(toUser), toUser)
	}
}
