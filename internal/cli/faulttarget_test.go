package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/results"
)

// A fault_target the stack cannot reach (a tier without a topology, any tier on netns or k8s,
// a name that is no node of the topology) is a usage error before anything starts, not a fault
// API's 404 and a run without its fault.
func TestFaultTargetRefused(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"netns", []string{"run", "network-partition", "--stack", "netns", "--var", "fault_target=mid"},
			`fault_target "mid": --stack netns runs today's two services, so a fault targets the backend only (fault_target=backend); a tier of a topology is a target on --stack local`},
		{"k8s", []string{"run", "http-errors", "--stack", "k8s", "--var", "fault_target=mid"},
			`fault_target "mid": --stack k8s runs today's two services, so a fault targets the backend only (fault_target=backend); a tier of a topology is a target on --stack local`},
		{"no topology", []string{"run", "backend-crash", "--var", "fault_target=mid"},
			`fault_target "mid": without a topology a fault targets the backend only; a tier is a target under a topology (e.g. --topology chain-3 --var fault_target=mid)`},
		{"no such tier", []string{"run", "http-errors", "--topology", "chain-3", "--var", "fault_target=nope"},
			`fault_target "nope": topology built-in chain-3 has no such node: use one of backend, edge, mid, client`},
		{"suite on netns", []string{"run", "--suite", "--stack", "netns", "--var", "fault_target=mid"},
			`network-partition: fault_target "mid": --stack netns runs today's two services`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCLI(t, append(tt.args, "--out", out)...)
			if cmdutil.ExitCode(err) != cmdutil.ExitUsage || err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %v (exit %d), want exit 2: %s", err, cmdutil.ExitCode(err), tt.want)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused fault_target made the results folder: something started")
	}
}

// runChain3 runs a catalogue entry on chain-3 with --var fault_target=mid, short durations and
// fast retries, into a new folder; a run that misses its objectives is fine.
func runChain3(t *testing.T, entry string, vars ...string) string {
	t.Helper()
	t.Setenv(envTestMain, "1")
	out := filepath.Join(t.TempDir(), "results")
	args := []string{"run", entry, "--topology", "chain-3", "--var", "fault_target=mid", "--out", out, "--rps", "20", "--warmup", "1s",
		"--recovery", "2s", "--env", "ATTEMPT_TIMEOUT=200ms", "--env", "REQUEST_TIMEOUT=1s", "--env", "RETRY_INITIAL_BACKOFF=10ms",
		"--env", "RETRY_MAX_BACKOFF=50ms", "--env", "CB_WAIT_DURATION=500ms"}
	for _, v := range vars {
		args = append(args, "--var", v)
	}
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), args, os.Getenv, &stdout, &stderr); err != nil && cmdutil.ExitCode(err) != cmdutil.ExitFailure {
		t.Fatalf("chaoslab run: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	return out
}

// The catalogue's http-errors and backend-crash with --var fault_target=mid on chain-3: the
// errors come from the injector in front of mid (the window names its hop; edge's calls fail,
// the tiers below get next to nothing; the backend's injector, the snapshots', aborts nothing),
// and the crash kills and restarts mid alone.
func TestFaultTargetAtATierOfChain3(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end lab runs with three tiers (about 8 s each)")
	}
	t.Run("http-errors", func(t *testing.T) {
		out := runChain3(t, "http-errors", "error_percentage:int=100", "fault_duration:int=2")
		ev := newEvidence(t, out)
		if got := strings.Join(ev.faultKinds(), ", "); got != "on http-errors, off http-errors" {
			t.Fatalf("fault events: %s, want one window", got)
		}
		for _, e := range ev.events {
			if e.Kind == results.KindFault && e.Action == "on" && e.Message != "hop mid: HTTP 503 on 100% of requests (http fault http-errors)" {
				t.Errorf("fault on = %q, want the errors at hop mid", e.Message)
			}
		}
		checkEdgeCallsFail(t, ev)
		s := summaryOf(t, out)
		if len(s.Layers) != 4 {
			t.Fatalf("layers %+v", s.Layers)
		}
		if below := s.Layers[2].During; below.Requests == 0 || float64(below.Calls) > 0.1*float64(below.Requests) {
			t.Errorf("layer client during the errors at mid: %d calls for %d user requests, want next to none", below.Calls, below.Requests)
		}
		stats, _ := journalBody(t, out, "http-fault-counters")["stats"].(map[string]any)
		if aborted, _ := stats["aborted"].(float64); aborted == 0 {
			t.Errorf("mid's injector counters during the fault = %v, want aborts", stats)
		}
		if inj := ev.after.Injector; inj == nil || inj.Aborted != 0 || inj.Requests == 0 {
			t.Errorf("the backend's injector at the end = %+v, want requests and no abort", inj)
		}
	})
	t.Run("backend-crash", func(t *testing.T) {
		out := runChain3(t, "backend-crash", "restart_after:int=1")
		ev := newEvidence(t, out)
		var steps []string
		for _, e := range ev.events {
			if e.Kind == results.KindProcess {
				steps = append(steps, e.Action+" "+e.Service)
			}
		}
		if got := strings.Join(steps, ", "); got != "kill mid, start mid" {
			t.Errorf("process events: %s, want mid killed and started", got)
		}
		for name, was := range ev.before.Services {
			now := ev.after.Services[name]
			if restarted := name == "mid"; !now.Running || (now.PID != was.PID) != restarted || now.Restarts != map[bool]int{true: 1}[restarted] {
				t.Errorf("%s: before %d (%d restarts), after %d (%d restarts, running %t)", name, was.PID, was.Restarts, now.PID, now.Restarts, now.Running)
			}
		}
	})
}
