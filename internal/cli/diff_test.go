package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/diff"
	"chaoslab/internal/report"
	"chaoslab/internal/results"
)

// diffSummary is a resilient run that passed; p99 is the during-fault p99 and closed the time
// from the heal to CLOSED, in ms.
func diffSummary(p99, closed float64) report.Summary {
	f := func(v float64) *float64 { return &v }
	during := report.SummaryPhase{Requests: 100, Sent: 100, Answered200: f(1), Fallback: f(1), Errors: f(0), Dropped: f(0),
		P50MS: f(1.6), P99MS: f(p99), Amplification: f(0.05)}
	return report.Summary{
		Schema: report.SummarySchema,
		Phases: report.SummaryPhases{During: during},
		Times: report.SummaryTimes{FaultToFirstFallbackMS: f(1240), FaultToOpenMS: f(1240),
			HealToFirstBackendMS: f(2380), HealToClosedMS: f(closed)},
		Verdict: report.SummaryVerdict{Passed: true, Text: report.PassedText, Reasons: []string{}},
	}
}

// writeDiffRun writes s as dir/summary.json.
func writeDiffRun(t *testing.T, dir string, s report.Summary) string {
	t.Helper()
	if err := report.WriteSummaryFile(dir, s); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDiffExitStatus(t *testing.T) {
	dir := t.TempDir()
	old := writeDiffRun(t, filepath.Join(dir, "old"), diffSummary(1000, 2470))
	same := writeDiffRun(t, filepath.Join(dir, "same"), diffSummary(1000, 2470))
	slower := writeDiffRun(t, filepath.Join(dir, "slower"), diffSummary(1500, 2470))
	later := writeDiffRun(t, filepath.Join(dir, "later"), diffSummary(1000, 5000))
	cmp := filepath.Join(dir, "cmp")
	writeDiffRun(t, filepath.Join(cmp, results.BaselineDir), diffSummary(1000, 2470))
	writeDiffRun(t, filepath.Join(cmp, results.ResilientDir), diffSummary(1000, 2470))
	tests := []struct {
		name string
		args []string
		code int
		want string // in stdout (exit 0 or 1) or in the error (exit 2)
	}{
		{"identical", []string{old, same}, 0, "no regression"},
		{"worse p99", []string{old, slower}, 1, "1 regression: during.p99_ms"},
		{"worse p99, markdown", []string{"--format", "md", old, slower}, 1, "| **REGRESSION** |"},
		{"worse p99, json", []string{"--format", "json", old, slower}, 1, `"regressions": 1`},
		{"later heal to CLOSED", []string{old, later}, 1, "1 regression: heal_to_closed_ms"},
		{"tolerance override", []string{"--tolerance", "during.p99_ms=60%", old, slower}, 0, "no regression"},
		{"tolerance after the folders", []string{old, later, "--tolerance", "heal_to_closed_ms=3000"}, 0, "no regression"},
		{"tighter tolerance", []string{"--tolerance", "p99_ms=0", old, writeDiffRun(t, filepath.Join(dir, "tiny"), diffSummary(1000.5, 2470))}, 1, "REGRESSION"},
		{"one folder", []string{old}, 2, "two results folders"},
		{"three folders", []string{old, same, later}, 2, "two results folders"},
		{"missing folder", []string{old, filepath.Join(dir, "nope")}, 2, "not a folder"},
		{"run and compare", []string{old, cmp}, 2, "a compare folder"},
		{"bad format", []string{"--format", "xml", old, same}, 2, "--format xml"},
		{"unknown figure", []string{"--tolerance", "p98_ms=5", old, same}, 2, `unknown figure "p98_ms"`},
		{"bad tolerance", []string{"--tolerance", "p99_ms=-5", old, same}, 2, "not a tolerance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runCLI(t, append([]string{"diff"}, tt.args...)...)
			if code := cmdutil.ExitCode(err); code != tt.code {
				t.Fatalf("exit %d (%v), want %d:\n%s", code, err, tt.code, out)
			}
			got := out
			if tt.code == 2 {
				got = err.Error()
			}
			if !strings.Contains(got, tt.want) {
				t.Errorf("%q lacks %q", got, tt.want)
			}
		})
	}
}

// --format json is a diff.Result, with the regression marked on its row.
func TestDiffJSON(t *testing.T) {
	dir := t.TempDir()
	old := writeDiffRun(t, filepath.Join(dir, "old"), diffSummary(1000, 2470))
	later := writeDiffRun(t, filepath.Join(dir, "later"), diffSummary(1000, 5000))
	out, _, err := runCLI(t, "diff", "--format", "json", old, later)
	if cmdutil.ExitCode(err) != 1 {
		t.Fatalf("exit %d (%v), want 1", cmdutil.ExitCode(err), err)
	}
	var r diff.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	var marked []string
	for _, row := range r.Rows {
		if row.Regression {
			marked = append(marked, row.Figure)
		}
	}
	if r.Schema != diff.ResultSchema || r.Regressions != 1 || len(marked) != 1 || marked[0] != "heal_to_closed_ms" {
		t.Errorf("schema %q, %d regressions, marked %v; want %s, 1, [heal_to_closed_ms]", r.Schema, r.Regressions, marked, diff.ResultSchema)
	}
}
