package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"chaoslab/internal/report"
)

// Output formats of Write.
const (
	FormatText     = "text" // a plain table per run, for a terminal
	FormatMarkdown = "md"   // Markdown tables, for a pull request or a chat bot
	FormatJSON     = "json" // Result, indented
)

// Formats lists the output formats, in the order --help gives them.
func Formats() []string { return []string{FormatText, FormatMarkdown, FormatJSON} }

// Write prints r in format (one of Formats).
func Write(w io.Writer, r *Result, format string) error {
	switch format {
	case FormatText:
		return writeText(w, r)
	case FormatMarkdown:
		return writeMarkdown(w, r)
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return fmt.Errorf("unknown format %q: one of %s", format, strings.Join(Formats(), ", "))
}

// scopes groups the rows by scope, in order.
func scopes(rows []Row) [][]Row {
	var out [][]Row
	for i, row := range rows {
		if i == 0 || row.Scope != rows[i-1].Scope {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], row)
	}
	return out
}

// writeText prints one table per scope, the entries in one folder only, the notes and the
// number of regressions.
func writeText(w io.Writer, r *Result) error {
	fmt.Fprintf(w, "chaoslab diff: OLD %s, NEW %s (%s folders)\n", r.Old, r.New, r.Kind)
	for _, rows := range scopes(r.Rows) {
		fmt.Fprintln(w)
		if rows[0].Scope != "" {
			fmt.Fprintln(w, rows[0].Scope+":")
		}
		if err := writeTable(w, rows); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	for _, l := range trailer(r) {
		fmt.Fprintln(w, l)
	}
	_, err := fmt.Fprintln(w, verdictLine(r))
	return err
}

// writeTable prints one scope's rows as a table, without trailing blanks.
func writeTable(w io.Writer, rows []Row) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tOLD\tNEW\tchange\trelative\t")
	for _, row := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", row.Figure, formatValue(row.Old, row.Unit), formatValue(row.New, row.Unit),
			formatChange(row.Change, row.Unit), formatRelative(row.Relative), mark(row))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for line := range strings.Lines(buf.String()) {
		if _, err := fmt.Fprintln(w, strings.TrimRight(line, " \n")); err != nil {
			return err
		}
	}
	return nil
}

// writeMarkdown prints the same as writeText as Markdown, with each figure's tolerance.
func writeMarkdown(w io.Writer, r *Result) error {
	fmt.Fprintf(w, "# chaoslab diff\n\nOLD `%s`, NEW `%s` (%s folders): **%s**\n", r.Old, r.New, r.Kind, verdictLine(r))
	for _, rows := range scopes(r.Rows) {
		fmt.Fprintln(w)
		if rows[0].Scope != "" {
			fmt.Fprintf(w, "## %s\n\n", rows[0].Scope)
		}
		fmt.Fprintln(w, "| figure | OLD | NEW | change | relative | worse when | tolerated | |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|---|---|---|")
		for _, row := range rows {
			m := mark(row)
			if row.Regression {
				m = "**" + m + "**"
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", row.Figure, formatValue(row.Old, row.Unit),
				formatValue(row.New, row.Unit), formatChange(row.Change, row.Unit), formatRelative(row.Relative),
				row.Worse, row.Tolerance.Describe(row.Unit, row.Worse), m)
		}
	}
	if t := trailer(r); len(t) > 0 {
		fmt.Fprintln(w)
		for _, l := range t {
			fmt.Fprintln(w, "- "+l)
		}
	}
	return nil
}

// trailer lists the entries in one folder only and the notes.
func trailer(r *Result) []string {
	var out []string
	if len(r.OnlyInOld) > 0 {
		out = append(out, "only in OLD (not compared): "+strings.Join(r.OnlyInOld, ", "))
	}
	if len(r.OnlyInNew) > 0 {
		out = append(out, "only in NEW (not compared): "+strings.Join(r.OnlyInNew, ", "))
	}
	for _, n := range r.Notes {
		out = append(out, "note: "+n)
	}
	return out
}

// verdictLine is the last line: "no regression", or how many and which.
func verdictLine(r *Result) string {
	if r.Regressions == 0 {
		return fmt.Sprintf("no regression (%d figures compared)", len(r.Rows))
	}
	var names []string
	for _, row := range r.Rows {
		if row.Regression {
			names = append(names, scoped(row))
		}
	}
	noun := "regressions"
	if r.Regressions == 1 {
		noun = "regression"
	}
	return fmt.Sprintf("%d %s: %s", r.Regressions, noun, strings.Join(names, ", "))
}

// scoped names a row's figure with its scope: "heal_to_closed_ms (resilient)".
func scoped(row Row) string {
	if row.Scope == "" {
		return row.Figure
	}
	return row.Figure + " (" + row.Scope + ")"
}

// mark is a row's last column: REGRESSION or better, and its note.
func mark(row Row) string {
	var parts []string
	switch {
	case row.Regression:
		parts = append(parts, "REGRESSION")
	case row.Improved:
		parts = append(parts, "better")
	}
	if row.Note != "" {
		parts = append(parts, row.Note)
	}
	return strings.Join(parts, ": ")
}

// formatValue formats a figure in its unit: "3.20 ms", "99.5%", "0.86", "PASSED", "n/a".
func formatValue(v *float64, unit string) string {
	if v == nil {
		return report.NA
	}
	switch unit {
	case report.UnitMS:
		return report.FormatDuration(msDuration(*v))
	case report.UnitFraction:
		return fmt.Sprintf("%.1f%%", 100**v)
	case report.UnitRatio:
		return fmt.Sprintf("%.2f", *v)
	case UnitVerdict:
		if *v >= 1 {
			return "PASSED"
		}
		return "FAILED"
	}
	return fmt.Sprintf("%g", *v)
}

// formatChange formats New - Old in the unit, signed: "+1.20 s", "-2.0 pp", "+0.05"; "" when
// there is none.
func formatChange(d *float64, unit string) string {
	if d == nil {
		return ""
	}
	v := *d
	if v == 0 {
		return "0"
	}
	switch unit {
	case report.UnitMS:
		return sign(v) + report.FormatDuration(msDuration(math.Abs(v)))
	case report.UnitFraction:
		return signed("%+.1f", 100*v) + " pp"
	case report.UnitRatio:
		return signed("%+.2f", v)
	case UnitVerdict:
		if v < 0 {
			return "PASSED -> FAILED"
		}
		return "FAILED -> PASSED"
	}
	return signed("%+g", v)
}

// formatRelative formats a relative change: "+25.0%", "0%"; "" when there is none.
func formatRelative(r *float64) string {
	switch {
	case r == nil:
		return ""
	case *r == 0:
		return "0%"
	}
	return signed("%+.1f", 100**r) + "%"
}

// signed formats v with a sign, without a "-0.0" for a change that rounds to nothing.
func signed(format string, v float64) string {
	s := fmt.Sprintf(format, v)
	if strings.Trim(s, "+-0.") == "" {
		return strings.Replace(s, "-", "+", 1)
	}
	return s
}

func sign(v float64) string {
	if v < 0 {
		return "-"
	}
	return "+"
}

func msDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }
