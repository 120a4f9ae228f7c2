package cli

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/bench"
	"chaoslab/internal/cmdutil"
)

// TestBenchServiceShort runs chaoslab bench service --short on the local stack, as CI does, and
// checks what holds on a loaded machine: the table is printed, every count agrees with the
// backend's own counter, the rows hold the requests their rate and time in state predict, and
// client-service serves at least 0.2x the bare ReverseProxy's answers (--min-ratio).
func TestBenchServiceShort(t *testing.T) {
	t.Setenv(envTestMain, "1") // the services are this test binary re-executed as chaoslab
	out := t.TempDir()
	stdout, stderr, err := runCLI(t, "bench", "service", "--short", "--min-ratio", "0.2", "--out", out)
	t.Log("\n" + stdout + stderr)
	if err != nil {
		t.Fatalf("exit %d: %v", cmdutil.ExitCode(err), err)
	}
	for _, want := range []string{"healthy", "OPEN", "HALF_OPEN", "client-service", "reverse-proxy", "x reverse-proxy", "count check"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("the table has no %q", want)
		}
	}
	if !strings.Contains(stderr, "cycle 2/2") || !strings.Contains(stderr, "closed loop round 2/2") {
		t.Errorf("no progress on stderr:\n%s", stderr)
	}
	f, err := bench.ReadServiceFile(filepath.Join(out, bench.ServiceJSON))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Runs) != 1 {
		t.Fatalf("%d runs in service.json, want 1", len(f.Runs))
	}
	run := f.Runs[0]
	if len(run.Counts) != 2 {
		t.Errorf("count checks: %+v, want the healthy window's and the closed loop's", run.Counts)
	}
	for _, c := range run.Counts {
		if !c.Agree() || c.Counted == 0 {
			t.Errorf("%s: backend served %d, the bench got %d backend answers and %d calls failed", c.Part, c.Served, c.Counted, c.Failed)
		}
	}
	checkOpenRows(t, run.Open)
	checkClosed(t, stdout, run.Closed, f)
}

// checkOpenRows: at 100/s, a window of D holds 100 x D arrivals (request i is due (i-1)/100 s
// after the start), whatever the service does; a few more when the generator's own stop timer
// fires late on a busy machine.
func checkOpenRows(t *testing.T, rows []bench.OpenRow) {
	t.Helper()
	if len(rows) != 3 {
		t.Fatalf("open-loop rows: %+v, want healthy, OPEN, HALF_OPEN", rows)
	}
	expect := func(r bench.OpenRow) float64 { return r.RPS * r.InState.D().Seconds() }
	h, open, half := rows[0], rows[1], rows[2]
	if h.State != bench.StateHealthy || h.InState.D() != time.Second || h.Requests < 100 || h.Requests > 105 || h.Backend != h.Requests {
		t.Errorf("healthy: %+v, want 100 requests in 1 s, all answered by the backend", h)
	}
	// OPEN: the breaker's own log says how long it was open; the requests sent in that time are
	// about rate x time (the send lag moves a few across the edges), and they get the fallback
	// but for one at each end of a period at most (sent between a transition and its log record).
	if open.State != bench.StateOpen || open.Periods < 2 || math.Abs(float64(open.Requests)-expect(open)) > 0.1*expect(open)+4 ||
		open.Fallback < open.Requests-2*open.Periods || open.Errors+open.Dropped != 0 {
		t.Errorf("OPEN: %+v, want 2 periods or more, about %.0f requests, fallbacks but for the edges", open, expect(open))
	}
	// A trial call that fails on a busy machine opens the breaker again: more periods, never fewer.
	if half.State != bench.StateHalfOpen || half.Periods < 2 || half.Requests < 1 || half.Errors+half.Dropped != 0 {
		t.Errorf("HALF_OPEN: %+v, want 2 periods or more, at least one request, no errors", half)
	}
	if d := open.InState.D(); d < 1800*time.Millisecond || d > 20*time.Second {
		t.Errorf("OPEN for %v over 2 cycles with CB_WAIT_DURATION=1s, want at least 1 s each", d)
	}
}

// checkClosed: each target's answers/s is its answers over its slices, as printed.
func checkClosed(t *testing.T, stdout string, targets []bench.ClosedTarget, f bench.ServiceFile) {
	t.Helper()
	if len(targets) < 2 || targets[0].Name != bench.TargetClient || targets[1].Name != bench.TargetReverseProxy {
		t.Fatalf("closed-loop targets: %+v", targets)
	}
	if _, err := os.Stat(DefaultHAProxy); err == nil && (len(targets) != 3 || targets[2].Name != bench.TargetHAProxy) {
		t.Errorf("haproxy is installed but not measured: %+v", targets)
	}
	for _, tg := range targets {
		var sum int64
		for _, s := range tg.Slices {
			sum += s
		}
		want := float64(tg.Backend) / (time.Duration(f.Rounds) * f.Slice.D()).Seconds()
		if len(tg.Slices) != f.Rounds || sum != tg.Backend || tg.Backend == 0 || math.Abs(tg.PerSecond-want) > 1e-9 || tg.Errors != 0 {
			t.Errorf("%s: %+v, want %d slices adding up to its answers, %.1f/s", tg.Name, tg, f.Rounds, want)
		}
		if got := tableCell(stdout, tg.Name, 1); got != fmt.Sprintf("%.0f", tg.PerSecond) {
			t.Errorf("%s: the table prints %q answers/s, service.json %.1f", tg.Name, got, tg.PerSecond)
		}
	}
}

func TestBenchServiceBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--rates", "0"},
		{"--rates", "100,100"},
		{"--rates", "fast"},
		{"--cycles", "-1"},
		{"--workers", "0"},
		{"--slice", "0s"},
		{"--runs", "0"},
		{"--min-ratio", "-1"},
		{"--env", "RESILIENCE=off"},
		{"--env", "NO_SUCH=1"},
		{"--haproxy", "/no/such/haproxy"},
		{"extra"},
	} {
		out, _, err := runCLI(t, append([]string{"bench", "service"}, args...)...)
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: exit %d, err %v, want 2 with one line", args, cmdutil.ExitCode(err), err)
		}
		if out != "" {
			t.Errorf("%v printed %q before refusing", args, out)
		}
	}
}

// --short sets only the flags not given.
func TestBenchServiceShortKeepsExplicitFlags(t *testing.T) {
	cfg, _, err := parseBenchServiceFlags(&env{stdout: &strings.Builder{}}, []string{"--short", "--cycles", "3", "--haproxy", "off"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cycles != 3 || cfg.Healthy != time.Second || len(cfg.Rates) != 1 || cfg.Rates[0] != 100 || cfg.Slice != 300*time.Millisecond || cfg.HAProxy != "" {
		t.Errorf("got %+v", cfg)
	}
	if cfg.ClientEnv["CB_WAIT_DURATION"] != "1s" {
		t.Errorf("client env %v, want the bench's CB_WAIT_DURATION=1s", cfg.ClientEnv)
	}
}

// tableCell is the i-th field (0 = the name) of the table line that starts with name.
func tableCell(table, name string, i int) string {
	for _, l := range strings.Split(table, "\n") {
		if f := strings.Fields(l); len(f) > i && f[0] == name {
			return f[i]
		}
	}
	return ""
}
