package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/diff"
)

// diffHelp is the --help of chaoslab diff, with every figure and its default tolerance.
func diffHelp() string {
	return `
Usage: chaoslab diff [--format text|md|json] [--tolerance FIGURE=VALUE]... OLD NEW

Compares two results folders figure by figure and marks every figure that got worse beyond its
tolerance. OLD and NEW are two run folders, two compare folders (run --compare: each profile
both ran, resilient, adaptive and baseline), or two suite folders (run --suite: entry by entry, by name; an entry
in one folder only is listed, not compared). Each run is read from its summary.json; a folder
written before summary.json existed is analyzed from its raw files.

For each figure: OLD, NEW, the change (NEW - OLD; shares in percentage points, pp) and the
relative change (of OLD). A figure is a REGRESSION when it got worse by more than its
tolerance, the larger of the relative part (a share of OLD) and the absolute part (in the
figure's unit); "better" when it improved by more than that. A figure measured in OLD but not
in NEW (the breaker no longer closes, say) is a regression; so is a verdict going from PASSED
to FAILED.

Figures, their unit, and their default tolerances:
` + diff.FiguresHelp() + `
--tolerance FIGURE=VALUE overrides a default: FIGURE is a name above (during.p99_ms) or a
name without its phase (p99_ms: every phase); VALUE is relative ("30%"), absolute in the
figure's unit ("250" ms for a latency or a time, "0.02" for a share), or both ("30%,250": the
larger is tolerated); "0" tolerates nothing. Repeat it for several figures.

--format json prints diff.Result (schema ` + diff.ResultSchema + `): the folders, their kind, one row per
figure and run (scope, figure, unit, old, new, change, relative, worse, tolerance, regression,
improved, note), the entries in one folder only, and the number of regressions.

Exit status: 0 no regression, 1 at least one regression, 2 bad usage (a folder missing or not
a results folder, folders of different kinds, an unreadable or unknown summary.json).
`
}

// toleranceFlag collects --tolerance FIGURE=VALUE.
type toleranceFlag map[string]diff.Tolerance

func (t toleranceFlag) String() string { return "" }
func (t toleranceFlag) Set(s string) error {
	name, tol, err := diff.ParseTolerance(s)
	if err != nil {
		return err
	}
	t[name] = tol
	return nil
}

func diffCmd(_ context.Context, e *env, args []string) error {
	fs := newFlags("diff", diffHelp(), e.stdout)
	format := fs.String("format", diff.FormatText, "output: "+strings.Join(diff.Formats(), ", ")+" (a table, Markdown, or diff.Result as JSON)")
	tols := toleranceFlag{}
	fs.Var(tols, "tolerance", "`FIGURE=VALUE`: how much worse a figure may get, e.g. during.p99_ms=30% or heal_to_closed_ms=2000 (repeatable)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 2:
		return cmdutil.Usagef("diff takes two results folders, OLD and NEW (chaoslab diff --help)")
	case !slices.Contains(diff.Formats(), *format):
		return cmdutil.Usagef("--format %s: one of %s", *format, strings.Join(diff.Formats(), ", "))
	}
	res, err := diff.Compare(pos[0], pos[1], diff.Options{Tolerances: tols})
	if err != nil {
		return cmdutil.Usagef("%v", err)
	}
	if err := diff.Write(e.stdout, res, *format); err != nil {
		return fmt.Errorf("write the comparison: %w", err)
	}
	if res.Regressions > 0 {
		return errors.Join(cmdutil.ErrFailed, cmdutil.ErrSilent)
	}
	return nil
}
