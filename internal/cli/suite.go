package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"chaoslab/chaos"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/junit"
	"chaoslab/internal/lab"
	"chaoslab/internal/report"
)

// runSuite runs every catalogue entry in turn on one stack, each into its own folder, then
// writes the index. Entries the stack cannot run are listed with the reason; an interrupt stops
// the suite after the run under way, and the index shows what ran.
func runSuite(ctx context.Context, e *env, f runFlags, pos []string, args []string) error {
	entries, err := checkSuite(e, &f, pos)
	if err != nil {
		return err
	}
	if err := prepareLab(ctx, e, &f); err != nil {
		return err
	}
	if err := lab.MakeResultsDir(f.out); err != nil {
		return err
	}
	var rows []report.SuiteEntry
	for i, en := range entries {
		row := report.SuiteEntry{Name: en.Name, Fault: en.Fault + " (" + en.Defaults + ")", Dir: en.Name}
		switch ok, why := en.Supports(f.stack); {
		case !ok:
			row.Unavailable = fmt.Sprintf("not available with --stack %s: %s", f.stack, why)
			fmt.Fprintf(e.stdout, "\n=== %d/%d %s: %s\n", i+1, len(entries), en.Name, row.Unavailable)
		case ctx.Err() != nil:
			row.Err = "not run: the suite was interrupted"
		default:
			fmt.Fprintf(e.stdout, "\n=== %d/%d %s: %s\n", i+1, len(entries), en.Name, en.Fault)
			row.Runs, row.Err = runEntry(ctx, e, f, en, args)
		}
		rows = append(rows, row)
	}
	title := fmt.Sprintf("chaoslab suite: the catalogue on --stack %s", f.stack)
	if err := report.WriteIndex(f.out, title, rows); err != nil {
		return fmt.Errorf("write the suite's index: %w", err)
	}
	if f.junit != "" {
		if err := junit.WriteFile(f.junit, title, junit.FromSuite(rows)); err != nil {
			return fmt.Errorf("write --junit: %w", err)
		}
	}
	printSuite(e, f, rows)
	if !report.SuitePassed(rows) {
		return fmt.Errorf("%w", errors.Join(cmdutil.ErrFailed, cmdutil.ErrSilent))
	}
	return nil
}

// checkSuite rejects bad input before anything starts: every entry the stack runs must validate
// with the given --var.
func checkSuite(e *env, f *runFlags, pos []string) ([]chaos.Entry, error) {
	switch {
	case len(pos) > 0:
		return nil, cmdutil.Usagef("--suite runs the whole catalogue: drop %s, or run it alone without --suite", strings.Join(pos, " "))
	case f.stack == "none":
		return nil, cmdutil.Usagef("--suite needs a stack to run on: use --stack local or netns")
	case f.journal != "":
		return nil, cmdutil.Usagef("--journal-path does not apply to --suite: each run's journal is in its folder")
	}
	entries, err := chaos.Catalogue()
	if err != nil {
		return nil, fmt.Errorf("the built-in catalogue: %w", err)
	}
	for _, en := range entries {
		if ok, _ := en.Supports(f.stack); !ok {
			continue
		}
		exp, _, err := catalogueExperiment(en, f.stack)
		if err != nil {
			return nil, err
		}
		if err := checkRunFlags(f, exp, e); err != nil {
			return nil, fmt.Errorf("%s: %w", en.Name, err)
		}
	}
	return entries, nil
}

// runEntry runs one catalogue entry into its folder under the suite's: once, or once per
// profile with --compare.
func runEntry(ctx context.Context, e *env, f runFlags, en chaos.Entry, args []string) (runs []report.ProfileRun, errText string) {
	exp, name, err := catalogueExperiment(en, f.stack)
	if err != nil {
		return nil, err.Error()
	}
	if p, ok := f.plug.(lab.Processes); ok { // each entry its own topology (checkSuite checked them all)
		if p.Topology, err = topologyFor(exp, f.topology, f.stack); err != nil {
			return nil, err.Error()
		}
		f.plug = p
	}
	if f.stack == k8sStack { // each entry its topology, in its overlay's namespace
		if f.plug, err = k8sEntryStack(e, f, exp); err != nil {
			return nil, err.Error()
		}
	}
	cfg := labConfig(e, f, args)
	cfg.Experiment, cfg.ExperimentName, cfg.OutDir = exp, name, filepath.Join(f.out, en.Name)
	if cfg.Objectives, err = objectivesFor(exp, f.objectives); err != nil {
		return nil, err.Error()
	}
	runs, err = runOne(ctx, cfg, f.profiles)
	if err != nil {
		return nil, err.Error()
	}
	return runs, ""
}

// printSuite prints one line per entry and where the index is; with --compare the line says
// which profiles passed.
func printSuite(e *env, f runFlags, rows []report.SuiteEntry) {
	fmt.Fprintln(e.stdout, "\nsuite:")
	for _, r := range rows {
		var what string
		switch {
		case r.Unavailable != "":
			what = "SKIPPED: " + r.Unavailable
		case len(r.Runs) == 0:
			what = "FAILED: " + r.Err
		case f.compare:
			what = report.CompareHeadline(r.Runs)
		default:
			what = r.Runs[0].A.Verdict.Text()
		}
		fmt.Fprintf(e.stdout, "  %-32s %s\n", r.Name, what)
	}
	fmt.Fprintf(e.stdout, "index:   %s\n", filepath.Join(f.out, report.IndexHTML))
}
