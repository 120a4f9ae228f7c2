package lab

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"

	"chaoslab/internal/report"
	"chaoslab/internal/results"
)

// Compare runs the experiment twice into cfg.OutDir/baseline (RESILIENCE=off: the system without
// its patterns) and cfg.OutDir/resilient (RESILIENCE=on), then renders one report comparing
// them. The outcome is the resilient run's: the baseline is expected to deviate.
func Compare(ctx context.Context, cfg RunConfig) (*Outcome, error) {
	if err := MakeResultsDir(cfg.OutDir); err != nil {
		return nil, err
	}
	runs := []struct{ label, resilience string }{
		{results.LabelBaseline, results.ResilienceOff},
		{results.LabelResilient, results.ResilienceOn},
	}
	var last, baseline *Outcome
	for i, r := range runs {
		c := cfg
		c.Label = r.label
		c.OutDir = filepath.Join(cfg.OutDir, r.label)
		c.ClientEnv = maps.Clone(cfg.ClientEnv)
		if c.ClientEnv == nil {
			c.ClientEnv = map[string]string{}
		}
		c.ClientEnv["RESILIENCE"] = r.resilience
		fmt.Fprintf(cfg.Stdout, "\n== run %d of 2: %s (RESILIENCE=%s)\n", i+1, r.label, r.resilience)
		out, err := Run(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("%s run: %w", r.label, err)
		}
		if r.label == results.LabelBaseline {
			baseline = out
			if !out.Passed() {
				fmt.Fprintf(cfg.Stdout, "baseline: %s (expected without resilience patterns)\n", out.Failure())
			} else {
				fmt.Fprintln(cfg.Stdout, "baseline: held its steady state even without resilience patterns")
			}
		}
		last = out
		if ctx.Err() != nil {
			break
		}
	}
	if last != baseline { // the resilient run happened
		last.Baseline = baseline.Analysis
	}
	last.Dir = cfg.OutDir
	if err := report.Render(cfg.OutDir); err != nil {
		return last, fmt.Errorf("render the comparison report: %w", err)
	}
	return last, nil
}
