package lab

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/report"
)

// A compare into a folder that holds files is refused before any run starts.
func TestCompareRefusesAFullFolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "journal.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	c, err := Compare(context.Background(), RunConfig{OutDir: dir, Stdout: &out}, report.DefaultProfiles())
	if c != nil || !errors.Is(err, cmdutil.ErrUsage) {
		t.Fatalf("Compare = %v, %v; want a usage error", c, err)
	}
	if out.Len() != 0 {
		t.Errorf("something ran:\n%s", out.String())
	}
	for _, p := range report.DefaultProfiles() {
		if _, err := os.Stat(filepath.Join(dir, p.Dir)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s/ was made (%v)", p.Dir, err)
		}
	}
}

// A comparison passes when every run but the baseline passed.
func TestComparisonPassed(t *testing.T) {
	ps := report.DefaultProfiles()
	pass := &report.Analysis{Verdict: report.Verdict{Passed: true}}
	fail := &report.Analysis{Verdict: report.Verdict{Reasons: []string{"did not recover"}}}
	tests := []struct {
		name    string
		runs    []report.ProfileRun
		want    bool
		failure string
	}{
		{"baseline failed", []report.ProfileRun{{Profile: ps[0], A: fail}, {Profile: ps[1], A: pass}, {Profile: ps[2], A: pass}}, true, ""},
		{"adaptive failed", []report.ProfileRun{{Profile: ps[0], A: fail}, {Profile: ps[1], A: pass}, {Profile: ps[2], A: fail}}, false, "adaptive: did not recover"},
		{"interrupted after the baseline", []report.ProfileRun{{Profile: ps[0], A: pass}}, false, "no run was judged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Comparison{Runs: tt.runs}
			if c.Passed() != tt.want || c.Failure() != tt.failure {
				t.Errorf("Passed %t, Failure %q; want %t, %q", c.Passed(), c.Failure(), tt.want, tt.failure)
			}
		})
	}
}
