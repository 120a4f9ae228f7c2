package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/report"
	"chaoslab/internal/results"
)

const reportHelp = `
Usage: chaoslab report RESULTS_DIR

Renders report.md, report.html and summary.json again from a results folder written by
` + "`chaoslab run`" + `, or a --compare folder holding two or more of baseline/, resilient/ and
adaptive/ (each run's report and summary.json too), and prints the summary of a run folder, or the
runs of a compare folder side by side, ending with the verdict. The objectives recorded in
run.json are judged again.
`

func reportCmd(ctx context.Context, e *env, args []string) error {
	fs := newFlags("report", reportHelp, e.stdout)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return cmdutil.Usagef("report takes one results folder (chaoslab report --help)")
	}
	dir := pos[0]
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return cmdutil.Usagef("results folder %s: not a folder", dir)
	}
	if err := renderFolder(e, dir); err != nil {
		return fmt.Errorf("render %s: %w", dir, err)
	}
	fmt.Fprintf(e.stdout, "wrote %s and %s\n", filepath.Join(dir, results.ReportMarkdown), filepath.Join(dir, results.ReportHTML))
	return nil
}

// renderFolder reads a compare folder's runs, or a run folder, once, renders them and prints
// their summary from those analyses.
func renderFolder(e *env, dir string) error {
	if report.IsCompareDir(dir) {
		runs, err := report.LoadCompare(dir)
		if err != nil {
			return err
		}
		if err := report.RenderCompare(dir, runs); err != nil {
			return err
		}
		report.WriteCompareSummary(e.stdout, runs)
		return nil
	}
	a, err := report.Load(dir)
	if err != nil {
		return err
	}
	if err := report.RenderAnalysis(dir, a); err != nil {
		return err
	}
	report.WriteSummary(e.stdout, a)
	return nil
}
