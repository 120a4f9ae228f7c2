package cli

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"chaoslab/internal/bench"
	"chaoslab/internal/cmdutil"
)

// tally is what the test counts of one cell straight from the kept runs' files.
type tally struct{ runs, measured, stuck, back int }

// runFiles is what the test reads of a kept run: its run.json and summary.json, decoded here
// on their own, not through the report package.
type runFiles struct {
	Run struct {
		Vars      map[string]any    `json:"vars"`
		ClientEnv map[string]string `json:"client_env"`
		Topology  struct {
			BackendEnv map[string]string `json:"backend_env"`
		} `json:"topology"`
	}
	Summary struct {
		Journal struct {
			Interrupted bool     `json:"interrupted"`
			Problems    []string `json:"problems"`
		} `json:"journal"`
		Goodput *struct {
			StuckForMS float64  `json:"stuck_for_ms"`
			BackHoldMS float64  `json:"back_hold_ms"`
			Stuck      *bool    `json:"stuck"`
			BackTo95MS *float64 `json:"back_to_95_ms"`
		} `json:"goodput"`
	}
}

func readRunFiles(t *testing.T, dir string) runFiles {
	t.Helper()
	var f runFiles
	for name, v := range map[string]any{"run.json": &f.Run, "summary.json": &f.Summary} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("%s/%s: %v", dir, name, err)
		}
	}
	return f
}

// TestBenchMetastableSweep runs a tiny sweep (2 triggers x 2 profiles x 2 seeds, 2 s triggers,
// 3 s of watch, a 2 s stuck window) two runs at a time, then counts each cell again from the
// kept runs' own run.json and summary.json files: the printed table, sweep.json and that count
// must agree, and every run must have been judged with the sweep's windows and seeds.
func TestBenchMetastableSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("8 lab runs on the local stack, two at a time (about 50 s)")
	}
	t.Setenv(envTestMain, "1")
	out := filepath.Join(t.TempDir(), "sweep")
	// Short timeouts and fast retries, so that a 2 s trigger can start a storm: retry without
	// deadlines usually stays stuck at 8x, adaptive comes back (the counts must agree whatever
	// happened).
	stdout, stderr, err := runCLI(t, "bench", "metastable", "--factors", "8,4", "--durations", "2s", "--profiles", "retry:nodeadline,adaptive",
		"--seeds", "2", "--first-seed", "5", "--warmup", "2s", "--watch", "3s", "--stuck-for", "2s", "--back-hold", "1s", "--recovery", "3s",
		"--parallel", "2", "--out", out, "--env", "ATTEMPT_TIMEOUT=300ms", "--env", "REQUEST_TIMEOUT=3s",
		"--env", "RETRY_INITIAL_BACKOFF=50ms", "--env", "RETRY_MAX_BACKOFF=200ms")
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	if err != nil {
		t.Fatal(err)
	}

	count := map[string]*tally{} // "factor profile"
	n := 0
	err = filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.Name() != "summary.json" {
			return err
		}
		n++
		f := readRunFiles(t, filepath.Dir(path))
		profile := f.Run.ClientEnv["RESILIENCE"]
		if f.Run.ClientEnv["DEADLINE_PROPAGATION"] == "off" {
			profile += ":nodeadline"
		}
		seed := f.Run.ClientEnv["RETRY_JITTER_SEED"]
		if (seed != "5" && seed != "6") || f.Run.Topology.BackendEnv["BACKEND_SEED"] != seed || f.Run.ClientEnv["ATTEMPT_TIMEOUT"] != "300ms" {
			t.Errorf("%s: client env %v, backend env %v; want seed 5 or 6 for both and --env", path, f.Run.ClientEnv, f.Run.Topology.BackendEnv)
		}
		if f.Run.Vars["fault_duration"] != 2.0 || f.Run.Vars["watch_duration"] != 3.0 {
			t.Errorf("%s: vars %v", path, f.Run.Vars)
		}
		g := f.Summary.Goodput
		if g == nil || g.StuckForMS != 2000 || g.BackHoldMS != 1000 {
			t.Fatalf("%s: goodput %+v, want the sweep's windows (2 s, 1 s)", path, g)
		}
		key := fmt.Sprintf("%vx for 2s %s", f.Run.Vars["service_time_factor"], profile)
		if count[key] == nil {
			count[key] = &tally{}
		}
		c := count[key]
		c.runs++
		if g.Stuck != nil && !f.Summary.Journal.Interrupted && len(f.Summary.Journal.Problems) == 0 {
			c.measured++
			if *g.Stuck {
				c.stuck++
			}
			if g.BackTo95MS != nil {
				c.back++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 8 || len(count) != 4 {
		t.Fatalf("%d summary.json files in %d cells, want 8 in 4", n, len(count))
	}

	var sweep bench.SweepFile
	data, err := os.ReadFile(filepath.Join(out, bench.SweepJSON))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &sweep); err != nil {
		t.Fatal(err)
	}
	if !sweep.Complete || len(sweep.Cells) != 4 || len(sweep.Runs) != 8 {
		t.Fatalf("sweep.json: complete %t, %d cells, %d runs", sweep.Complete, len(sweep.Cells), len(sweep.Runs))
	}
	for i, c := range sweep.Cells {
		key := c.Trigger.Label + " " + c.Profile
		if wantOrder := []string{"4x for 2s", "4x for 2s", "8x for 2s", "8x for 2s"}[i]; c.Trigger.Label != wantOrder {
			t.Errorf("cell %d is %s, want the axis sorted: %s", i, key, wantOrder)
		}
		want := count[key]
		if want == nil {
			t.Errorf("sweep.json has cell %s, the runs' folders have none", key)
			continue
		}
		got := tally{c.Runs, c.Measured, c.Stuck, c.Back}
		if got != *want {
			t.Errorf("%s: sweep.json counts %+v, the runs' summaries %+v", key, got, *want)
		}
		if c.Failed+c.NotMeasured != want.runs-want.measured {
			t.Errorf("%s: %d failed + %d not measured, the summaries say %d not measured", key, c.Failed, c.NotMeasured, want.runs-want.measured)
		}
		// The printed row: trigger, profile, P(stuck), stuck/measured, not measured, back/measured.
		row := regexp.MustCompile(fmt.Sprintf(`(?m)^%s +%s +(n/a|\d\.\d\d) +%d/%d +%d +%d/%d `, regexp.QuoteMeta(c.Trigger.Label), regexp.QuoteMeta(c.Profile),
			want.stuck, want.measured, want.runs-want.measured, want.back, want.measured))
		if !row.MatchString(stdout) {
			t.Errorf("the table has no row %s", row)
		}
	}
	stuck, measured := 0, 0
	for _, c := range count {
		stuck, measured = stuck+c.stuck, measured+c.measured
	}
	t.Logf("%d of %d measured runs stuck", stuck, measured)
	if strings.Count(stderr, " runs, ") != 8 || !strings.Contains(stderr, "8/8 runs") {
		t.Errorf("progress: want a line per run, the last 8/8:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(out, bench.SweepHTML)); err != nil {
		t.Error(err)
	}
}

func TestBenchMetastableBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--factors", "4,x"},
		{"--factors", "0.5"},
		{"--factors", "4,4"},
		{"--durations", "1500ms"},
		{"--durations", "10s,10s"},
		{"--profiles", "retry,bogus"},
		{"--profiles", "on,on"},
		{"--seeds", "0"},
		{"--first-seed", "0"},
		{"--parallel", "0"},
		{"--parallel", "9"},
		{"--rps", "0"},
		{"--warmup", "0s"},
		{"--watch", "20s"}, // shorter than the 30 s stuck window
		{"--stuck-for", "2500ms"},
		{"--env", "RESILIENCE=off"},
		{"--env", "DEADLINE_PROPAGATION=off"},
		{"--env", "RETRY_JITTER_SEED=3"},
		{"--env", "NO_SUCH=1"},
		{"extra"},
	} {
		out, _, err := runCLI(t, append([]string{"bench", "metastable"}, args...)...)
		if cmdutil.ExitCode(err) != cmdutil.ExitUsage || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: exit %d, err %v, want 2 with one line", args, cmdutil.ExitCode(err), err)
		}
		if out != "" {
			t.Errorf("%v printed %q before refusing", args, out)
		}
	}
}
