package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/testutil"
)

func TestSoakFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"argument", []string{"extra"}, "soak takes no arguments"},
		{"unknown flag", []string{"--every", "1m"}, "flag provided but not defined: -every"},
		{"stack", []string{"--stack", "k8s"}, `--stack "k8s": use one of local, netns`},
		{"rps 0", []string{"--rps", "0"}, "--rps 0: must be > 0"},
		{"duration", []string{"--duration", "0s"}, "--duration 0s: must be > 0"},
		{"sample-every", []string{"--sample-every", "-1s"}, "--sample-every -1s: must be > 0"},
		{"too few samples", []string{"--duration", "50s", "--fault-every", "0"}, "--duration 50s with --sample-every 10s gives 6 samples; the verdict needs at least 7"},
		{"fault-every", []string{"--fault-every", "-1m"}, "--fault-every -1m0s: must be >= 0"},
		{"fault-for too long", []string{"--fault-every", "20s", "--fault-for", "20s"}, "--fault-for 20s: must be > 0 and shorter than --fault-every 20s"},
		{"no fault fits", []string{"--duration", "2m", "--fault-every", "110s"}, "no fault would be applied"},
		{"env", []string{"--env", "NOPE=1"}, "NOPE"},
		{"faults: unknown", []string{"--faults", "network-partition,nope"}, `--faults: no entry "nope" in the catalogue`},
		{"faults: not on this stack", []string{"--stack", "netns", "--faults", "slow-body"}, "--stack netns has no Toxiproxy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCLI(t, append([]string{"soak"}, tt.args...)...)
			if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v (exit %d), want exit 2 and %q", err, cmdutil.ExitCode(err), tt.want)
			}
		})
	}
}

// soakRow is a line of the table: time, the load's four counts, three processes (rss MB,
// goroutines or threads, fds), the fault.
var soakRow = regexp.MustCompile(`^ +\d+m\d\ds +\d+ +\d+ +\d+ +\d+( +\d+\.\d +\d+ +\d+){3}  \S+$`)

// A 60-second soak of the local stack, the services being this test binary: it passes, with a
// table line per sample, three faults, nothing lost, and samples.csv, summary.txt and the logs.
// One entry only: a minute is too short for the whole rotation, and each fault seen for the
// first time raises what a process keeps once (connections, heap), which the rss check would
// take for growth.
func TestSoak(t *testing.T) {
	if os.Getenv("CHAOSLAB_SOAK") == "" {
		t.Skip("a 60-second soak: CHAOSLAB_SOAK=1 go test -run '^TestSoak$' ./internal/cli runs it (.ci/run does)")
	}
	if raceDetector {
		t.Skip("the race detector's shadow memory grows every process's RSS: .ci/run runs this soak without -race")
	}
	t.Setenv(envTestMain, "1") // the services are this test binary re-executed as chaoslab
	dir := t.TempDir()
	out, _, err := runCLI(t, "soak", "--duration", "60s", "--rps", "50", "--fault-every", "15s", "--fault-for", "5s",
		"--sample-every", "5s", "--faults", "network-partition", "--out", dir)
	if err != nil {
		t.Fatalf("soak: %v\n%s", err, out)
	}
	var rows []string
	for _, l := range strings.Split(out, "\n") {
		if soakRow.MatchString(l) {
			rows = append(rows, l)
		}
	}
	if len(rows) != 13 { // 0 s to 60 s every 5 s
		t.Errorf("%d table rows, want 13:\n%s", len(rows), out)
	}
	for _, want := range []string{"rss MB   gor  fds    rss MB   thr  fds    rss MB   thr  fds  fault",
		"13 samples over 1m00s (the first 4 are warm-up), 3 faults applied", "pass       lost requests:", "verdict: PASS"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	csv, err := os.ReadFile(filepath.Join(dir, "samples.csv"))
	if n := strings.Count(string(csv), "\n"); err != nil || n != 14 {
		t.Errorf("samples.csv: %d lines (%v), want a header and 13 rows", n, err)
	}
	for _, f := range []string{"summary.txt", "backend-service.log", "client-service.log"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// Ctrl-C stops a soak early: the table so far, a summary, exit 1.
func TestSoakStoppedEarly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack")
	}
	t.Setenv(envTestMain, "1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"soak", "--duration", "10m", "--rps", "20", "--sample-every", "1s", "--out", t.TempDir()}, os.Getenv, out, out)
	}()
	testutil.WaitFor(t, 30*time.Second, "two table rows", func() bool {
		return strings.Contains(out.String(), "   0m01s ")
	})
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, cmdutil.ErrFailed) || !strings.Contains(err.Error(), "stopped early") {
			t.Errorf("err = %v, want a failure saying the soak stopped early", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("soak did not stop within 30s of Ctrl-C")
	}
	for _, want := range []string{"stopped early", "pass       lost requests:", "verdict:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
