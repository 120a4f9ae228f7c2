package diff

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"chaoslab/internal/report"
)

// Tolerance is how much worse a figure may get before it is a regression: a change for the
// worse is tolerated up to the larger of Rel times |OLD| and Abs. The zero Tolerance tolerates
// nothing.
type Tolerance struct {
	Rel float64 `json:"relative"` // a fraction of |OLD|: 0.2 tolerates 20%
	Abs float64 `json:"absolute"` // in the figure's unit (ms, a fraction, calls per request, a count)
}

// Allowed is how much worse than old the figure may get, in its unit.
func (t Tolerance) Allowed(old float64) float64 { return max(t.Rel*math.Abs(old), t.Abs) }

// Describe says what is tolerated for a person, with the sign of getting worse: "+20% and at
// least +5 ms", "-0.01 (1 pp)", "none".
func (t Tolerance) Describe(unit string, worse Direction) string {
	if worse == Neutral {
		return "not judged"
	}
	sign := "+"
	if worse == LowerIsWorse {
		sign = "-"
	}
	var parts []string
	if t.Rel > 0 {
		parts = append(parts, fmt.Sprintf("%s%.4g%%", sign, 100*t.Rel))
	}
	if t.Abs > 0 {
		parts = append(parts, sign+amount(t.Abs, unit))
	}
	switch len(parts) {
	case 0:
		return "none"
	case 1:
		return parts[0]
	}
	return parts[0] + " and at least " + parts[1]
}

// amount formats an absolute amount in a unit: "5 ms", "0.01 (1 pp)", "0.05".
func amount(v float64, unit string) string {
	switch unit {
	case report.UnitMS:
		return strconv.FormatFloat(v, 'g', -1, 64) + " ms"
	case report.UnitFraction:
		return fmt.Sprintf("%g (%.4g pp)", v, 100*v)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Options are the settings of a comparison.
type Options struct {
	// Tolerances override the defaults, by figure name ("during.p99_ms") or by metric
	// ("p99_ms": every phase's); a figure's own name wins over its metric.
	Tolerances map[string]Tolerance
}

// tolerance is the tolerance of f under o.
func (o Options) tolerance(f figure) Tolerance {
	if t, ok := o.Tolerances[f.Name]; ok {
		return t
	}
	if t, ok := o.Tolerances[f.Metric]; ok {
		return t
	}
	return f.Default
}

// ParseTolerance reads a --tolerance value, FIGURE=VALUE: FIGURE is a figure's name
// ("during.p99_ms") or a metric ("p99_ms", every phase); VALUE is relative ("20%", of OLD),
// absolute in the figure's unit ("250": ms for a latency or a time, "0.02" for a share), or
// both, comma-separated ("20%,5": the larger is tolerated). The error is one line.
func ParseTolerance(s string) (string, Tolerance, error) {
	name, value, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return "", Tolerance{}, fmt.Errorf("want FIGURE=VALUE, e.g. during.p99_ms=30%% or heal_to_closed_ms=2000, got %q", s)
	}
	if names := toleranceNames(); !slices.Contains(names, name) {
		return "", Tolerance{}, fmt.Errorf("unknown figure %q: use a figure of `chaoslab diff --help`, one of %s", name, strings.Join(names, ", "))
	}
	var t Tolerance
	var rel, abs bool
	for part := range strings.SplitSeq(value, ",") {
		part = strings.TrimPrefix(strings.TrimSpace(part), "+")
		pct := strings.HasSuffix(part, "%")
		v, err := strconv.ParseFloat(strings.TrimSuffix(part, "%"), 64)
		switch {
		case err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0:
			return "", Tolerance{}, fmt.Errorf("%s: %q is not a tolerance: a number >= 0 in the figure's unit, or a percentage such as 20%%", name, part)
		case pct && rel, !pct && abs:
			return "", Tolerance{}, fmt.Errorf("%s: %q gives the same part twice: at most one percentage and one number", name, value)
		case pct:
			t.Rel, rel = v/100, true
		default:
			t.Abs, abs = v, true
		}
	}
	return name, t, nil
}
