package diff

import (
	"fmt"
	"slices"
	"strings"

	"chaoslab/internal/report"
)

// Units of a figure, besides report.UnitMS, report.UnitFraction and report.UnitRatio.
const (
	UnitCount   = "count"   // a whole number
	UnitVerdict = "verdict" // 1 passed, 0 failed
)

// Direction says which way a figure gets worse.
type Direction int

// Directions.
const (
	Neutral       Direction = iota // shown, never a regression
	HigherIsWorse                  // latency, times, errors, amplification
	LowerIsWorse                   // answered 200, objectives passed, the verdict
)

// String is "higher" or "lower" (the way that is worse), or "" for Neutral.
func (d Direction) String() string {
	switch d {
	case HigherIsWorse:
		return "higher"
	case LowerIsWorse:
		return "lower"
	}
	return ""
}

// MarshalText writes String, so that JSON says "higher", "lower" or "".
func (d Direction) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads what MarshalText writes.
func (d *Direction) UnmarshalText(b []byte) error {
	for _, v := range []Direction{Neutral, HigherIsWorse, LowerIsWorse} {
		if v.String() == string(b) {
			*d = v
			return nil
		}
	}
	return fmt.Errorf("worse: %q is not higher, lower or empty", b)
}

// figure is one figure of the registry.
type figure struct {
	Name    string // as rows and --tolerance name it: "during.p99_ms"
	Metric  string // the name without its phase ("p99_ms"): --tolerance p99_ms sets every phase's
	Doc     string // what it counts, from which moment
	Unit    string
	Worse   Direction
	Default Tolerance
	get     func(s *report.Summary) *float64 // nil: not measured
}

// metric is a figure every phase has.
type metric struct {
	key, doc, unit string
	worse          Direction
	tol            Tolerance
	get            func(p *report.SummaryPhase) *float64
}

// The default tolerances (see FiguresHelp).
func shareTolerance() Tolerance   { return Tolerance{Abs: 0.01} }           // 1 percentage point
func latencyTolerance() Tolerance { return Tolerance{Rel: 0.2, Abs: 5} }    // +20% and at least +5 ms
func timeTolerance() Tolerance    { return Tolerance{Rel: 0.2, Abs: 500} }  // +20% and at least +0.5 s
func ampTolerance() Tolerance     { return Tolerance{Rel: 0.1, Abs: 0.05} } // +10% and at least +0.05 calls per request

// phaseMetrics are the figures of the phases before, during and after, in order.
func phaseMetrics() []metric {
	return []metric{
		{"answered_200", "share of the phase's requests answered 200, by the backend or a fallback", report.UnitFraction, LowerIsWorse, shareTolerance(),
			func(p *report.SummaryPhase) *float64 { return p.Answered200 }},
		{"fallback", "share of the phase's requests answered with a fallback (more may mean fewer errors, or fewer backend answers)", report.UnitFraction, Neutral, Tolerance{},
			func(p *report.SummaryPhase) *float64 { return p.Fallback }},
		{"errors", "share of the phase's requests without a usable answer (non-200, timeout, refused)", report.UnitFraction, HigherIsWorse, shareTolerance(),
			func(p *report.SummaryPhase) *float64 { return p.Errors }},
		{"p50_ms", "median latency of the phase's requests, from their scheduled arrival", report.UnitMS, HigherIsWorse, latencyTolerance(),
			func(p *report.SummaryPhase) *float64 { return p.P50MS }},
		{"p99_ms", "p99 latency of the phase's requests, from their scheduled arrival", report.UnitMS, HigherIsWorse, latencyTolerance(),
			func(p *report.SummaryPhase) *float64 { return p.P99MS }},
		{"amplification", "backend calls per request, retries included", report.UnitRatio, HigherIsWorse, ampTolerance(),
			func(p *report.SummaryPhase) *float64 { return p.Amplification }},
	}
}

// figures is the registry: every figure compared, in the order rows show them.
func figures() []figure {
	names := []string{"before", "during", "after", "while_open"}
	phases := []func(s *report.Summary) *report.SummaryPhase{
		func(s *report.Summary) *report.SummaryPhase { return &s.Phases.Before },
		func(s *report.Summary) *report.SummaryPhase { return &s.Phases.During },
		func(s *report.Summary) *report.SummaryPhase { return &s.Phases.After },
		func(s *report.Summary) *report.SummaryPhase { return &s.Phases.WhileOpen },
	}
	var out []figure
	for i, phase := range phases {
		for _, m := range phaseMetrics() {
			if names[i] == "while_open" && m.key != "p99_ms" {
				continue // while OPEN, only the p99 is a key figure
			}
			out = append(out, figure{Name: names[i] + "." + m.key, Metric: m.key, Doc: m.doc, Unit: m.unit,
				Worse: m.worse, Default: m.tol, get: func(s *report.Summary) *float64 { return m.get(phase(s)) }})
		}
	}
	return append(out, otherFigures()...)
}

// otherFigures are the figures that are not of a phase.
func otherFigures() []figure {
	timing := func(name, doc string, get func(t *report.SummaryTimes) *float64) figure {
		return figure{Name: name, Metric: name, Doc: doc, Unit: report.UnitMS, Worse: HigherIsWorse, Default: timeTolerance(),
			get: func(s *report.Summary) *float64 { return get(&s.Times) }}
	}
	return []figure{
		timing("fault_to_first_fallback_ms", "from the fault's injection to the first fallback answer",
			func(t *report.SummaryTimes) *float64 { return t.FaultToFirstFallbackMS }),
		timing("fault_to_open_ms", "from the fault's injection to the breaker's first transition to OPEN",
			func(t *report.SummaryTimes) *float64 { return t.FaultToOpenMS }),
		timing("heal_to_first_backend_ms", "from the fault's removal to the first backend answer",
			func(t *report.SummaryTimes) *float64 { return t.HealToFirstBackendMS }),
		timing("heal_to_closed_ms", "from the fault's removal to the breaker's first transition to CLOSED",
			func(t *report.SummaryTimes) *float64 { return t.HealToClosedMS }),
		{Name: "objectives_passed", Metric: "objectives_passed", Doc: "how many of the run's objectives were met (not measured without objectives)",
			Unit: UnitCount, Worse: LowerIsWorse, Default: Tolerance{}, get: objectivesPassed},
		{Name: "verdict", Metric: "verdict", Doc: "the run's verdict: 1 PASSED, 0 FAILED", Unit: UnitVerdict,
			Worse: LowerIsWorse, Default: Tolerance{}, get: func(s *report.Summary) *float64 { return boolNumber(s.Verdict.Passed) }},
	}
}

func objectivesPassed(s *report.Summary) *float64 {
	if len(s.Objectives) == 0 {
		return nil
	}
	n := 0.0
	for _, o := range s.Objectives {
		if o.Passed {
			n++
		}
	}
	return &n
}

func boolNumber(b bool) *float64 {
	v := 0.0
	if b {
		v = 1
	}
	return &v
}

// toleranceNames are the names --tolerance accepts: every figure's name and every metric.
func toleranceNames() []string {
	var out []string
	for _, f := range figures() {
		for _, n := range []string{f.Metric, f.Name} {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// FiguresHelp describes every figure for --help: its names, what it counts, which way is worse
// and its default tolerance.
func FiguresHelp() string {
	var b strings.Builder
	var done []string
	for _, f := range figures() {
		if slices.Contains(done, f.Metric) {
			continue
		}
		done = append(done, f.Metric)
		name := f.Name + ", " + unitWords(f.Unit)
		if f.Metric != f.Name {
			name = "PHASE." + f.Metric + ", " + unitWords(f.Unit) + " (PHASE: " + strings.Join(phasesOf(f.Metric), ", ") + ")"
		}
		fmt.Fprintf(&b, "  %s\n      %s\n      %s\n", name, f.Doc, judged(f))
	}
	return b.String()
}

// phasesOf lists the phases that have the metric.
func phasesOf(metric string) []string {
	var out []string
	for _, f := range figures() {
		if f.Metric == metric && f.Name != metric {
			out = append(out, strings.TrimSuffix(f.Name, "."+metric))
		}
	}
	return out
}

// judged says which way is worse and what is tolerated.
func judged(f figure) string {
	if f.Worse == Neutral {
		return "shown, never a regression: answered_200 and errors judge"
	}
	return fmt.Sprintf("%s is worse; tolerated: %s", f.Worse, f.Default.Describe(f.Unit, f.Worse))
}

func unitWords(unit string) string {
	switch unit {
	case report.UnitMS:
		return "ms"
	case report.UnitFraction:
		return "a fraction 0..1"
	case report.UnitRatio:
		return "calls per request"
	case UnitVerdict:
		return "1 or 0"
	}
	return "a count"
}
