package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"chaoslab/internal/report"
)

// row is one figure of the table: how to read it from Figures and how to print it.
type row struct {
	name  string
	get   func(Figures) (float64, bool) // false: not measured
	print func(float64) string
}

func durationRow(name string, get func(Figures) *time.Duration) row {
	return row{name, func(f Figures) (float64, bool) {
		d := get(f)
		if d == nil {
			return 0, false
		}
		return float64(*d), true
	}, func(v float64) string { return report.FormatDuration(time.Duration(v)) }}
}

func pct(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) }

func rows() []row {
	return []row{
		durationRow("partition -> first fallback", func(f Figures) *time.Duration { return f.FaultToFallback }),
		durationRow("heal -> first backend answer", func(f Figures) *time.Duration { return f.HealToBackend }),
		{"healthy calls that timed out", func(f Figures) (float64, bool) { return f.FalseTimeoutShare(), f.HealthyCalls > 0 }, pct},
		{fmt.Sprintf("calls per request, %d%% 503s", ErrorPercentage), func(f Figures) (float64, bool) { return f.Amplification, f.ErrorRequests > 0 },
			func(v float64) string { return fmt.Sprintf("%.2f", v) }},
		{fmt.Sprintf("backend answers, %d%% 503s", ErrorPercentage), func(f Figures) (float64, bool) { return f.BackendShare, f.ErrorRequests > 0 }, pct},
		{fmt.Sprintf("answered 200, %d%% 503s", ErrorPercentage), func(f Figures) (float64, bool) { return f.Answered, f.ErrorRequests > 0 }, pct},
		durationRow(fmt.Sprintf("latency step -> %.0f%% backend", 100*StepTarget), func(f Figures) *time.Duration { return f.StepRecovery }),
		{"healthy throughput, closed loop", func(f Figures) (float64, bool) { return f.Throughput, f.Throughput > 0 },
			func(v float64) string { return fmt.Sprintf("%.0f/s", v) }},
		{"closed loop: fallback answers", func(f Figures) (float64, bool) { return f.LoopFallbackShare, f.Throughput > 0 }, pct},
	}
}

// WriteTable prints the figures of every run: per profile the median over the runs and, with
// more than one run, the spread [min - max]; then the ratio of the last profile to the first,
// computed within each run (so both come from the same moment of the machine), as a median
// and spread. A figure a run did not measure is n/a and counts in no median.
func WriteTable(w io.Writer, runs [][]Figures) error {
	if len(runs) == 0 || len(runs[0]) == 0 {
		return fmt.Errorf("no figures to print")
	}
	profiles := runs[0]
	first, last := profiles[0].Profile, profiles[len(profiles)-1].Profile
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', tabwriter.AlignRight)
	head := []string{"figure"}
	for _, p := range profiles {
		head = append(head, p.Profile)
	}
	if len(profiles) > 1 {
		head = append(head, last+" / "+first)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, r := range rows() {
		cells := []string{r.name}
		for i := range profiles {
			var vs []float64
			for _, run := range runs {
				if v, ok := r.get(run[i]); ok {
					vs = append(vs, v)
				}
			}
			cells = append(cells, spread(vs, r.print))
		}
		if len(profiles) > 1 {
			var ratios []float64
			for _, run := range runs {
				a, okA := r.get(run[0])
				b, okB := r.get(run[len(run)-1])
				if okA && okB && a != 0 {
					ratios = append(ratios, b/a)
				}
			}
			cells = append(cells, spread(ratios, func(v float64) string { return fmt.Sprintf("%.3g", v) }))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d run(s); a cell is the median over the runs [min - max]; a ratio is taken within each run (n/a: not measured, or the reference is 0)\n", len(runs))
	return err
}

// spread is the median of vs, with [min - max] when there are several.
func spread(vs []float64, print func(float64) string) string {
	if len(vs) == 0 {
		return "n/a"
	}
	s := slices.Sorted(slices.Values(vs))
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	if len(s) == 1 || s[0] == s[len(s)-1] || math.IsNaN(med) {
		return print(med)
	}
	return fmt.Sprintf("%s [%s - %s]", print(med), print(s[0]), print(s[len(s)-1]))
}
