package lab

import (
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"

	"chaoslab/internal/report"
)

// Comparison is how a compare ended: one run per profile asked for, in report.Profiles' order;
// a profile an interrupt kept from running has no analysis (and fails the compare).
type Comparison struct {
	Dir  string
	Runs []report.ProfileRun
}

// Passed says whether the compare is a success: every run but the baseline passed
// (report.RunsPassed); the baseline is expected to deviate.
func (c *Comparison) Passed() bool { return report.RunsPassed(c.Runs) }

// Failure says why the compare failed, for a person ("" when it passed).
func (c *Comparison) Failure() string { return report.RunsFailure(c.Runs) }

// Compare runs the experiment once per profile, in the order given (report.DefaultProfiles when
// none is given), each into its folder under cfg.OutDir (baseline/ for RESILIENCE=off,
// resilient/ for on, adaptive/ for adaptive) with the client's RESILIENCE set to the profile,
// then renders one report comparing them and prints them side by side (CompareProfiles).
func Compare(ctx context.Context, cfg RunConfig, profiles []report.Profile) (*Comparison, error) {
	if err := MakeResultsDir(cfg.OutDir); err != nil {
		return nil, err
	}
	return CompareProfiles(ctx, cfg.OutDir, cfg.Stdout, profiles, func(ctx context.Context, p report.Profile, dir string) (*Outcome, error) {
		c := cfg
		c.Label, c.OutDir = p.Label, dir
		c.ClientEnv = maps.Clone(cfg.ClientEnv)
		if c.ClientEnv == nil {
			c.ClientEnv = map[string]string{}
		}
		c.ClientEnv["RESILIENCE"] = p.Resilience
		return Run(ctx, c)
	})
}

// RunProfile runs the experiment once with profile p, into the results folder dir.
type RunProfile func(ctx context.Context, p report.Profile, dir string) (*Outcome, error)

// CompareProfiles is a compare on any stack: run runs each profile in turn (report.DefaultProfiles
// when none is given) into its folder under dir, which must exist; then one report compares the
// runs and stdout shows them side by side. Its outcome is every run's but the baseline's, which
// is expected to deviate. An interrupt stops it after the run under way; the report compares the
// runs that happened when there are two or more.
func CompareProfiles(ctx context.Context, dir string, stdout io.Writer, profiles []report.Profile, run RunProfile) (*Comparison, error) {
	if len(profiles) == 0 {
		profiles = report.DefaultProfiles()
	}
	if stdout == nil {
		stdout = io.Discard
	}
	out := &Comparison{Dir: dir}
	for i, p := range profiles {
		fmt.Fprintf(stdout, "\n== run %d of %d: %s (RESILIENCE=%s)\n", i+1, len(profiles), p.Label, p.Resilience)
		o, err := run(ctx, p, filepath.Join(dir, p.Dir))
		if err != nil {
			return nil, fmt.Errorf("%s run: %w", p.Label, err)
		}
		r := report.ProfileRun{Profile: p, A: o.Analysis}
		if !r.Judged() {
			if !o.Passed() {
				fmt.Fprintf(stdout, "%s: %s (expected without resilience patterns)\n", p.Label, o.Failure())
			} else {
				fmt.Fprintf(stdout, "%s: held its steady state even without resilience patterns\n", p.Label)
			}
		}
		out.Runs = append(out.Runs, r)
		if ctx.Err() != nil {
			break
		}
	}
	ran := out.Runs
	for _, p := range profiles[len(ran):] { // interrupted: these did not run, and fail the compare
		out.Runs = append(out.Runs, report.ProfileRun{Profile: p})
	}
	report.SortRuns(out.Runs)
	if len(ran) < 2 { // interrupted after the first run: that run's own report is all there is
		r := ran[0]
		if err := report.RenderAnalysis(filepath.Join(dir, r.Profile.Dir), r.A); err != nil {
			return out, fmt.Errorf("render the %s report: %w", r.Profile.Label, err)
		}
		return out, nil
	}
	report.WriteCompareSummary(stdout, out.Runs)
	if err := report.RenderCompare(dir, out.Runs); err != nil {
		return out, fmt.Errorf("render the comparison report: %w", err)
	}
	return out, nil
}
