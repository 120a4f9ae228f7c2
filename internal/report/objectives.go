package report

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"chaoslab/internal/results"
)

// Units of an objective's bound and value.
const (
	UnitMS       = "ms"       // milliseconds
	UnitS        = "s"        // seconds
	UnitFraction = "fraction" // 0 to 1: a share of requests
	UnitRatio    = "ratio"    // backend calls per request
	UnitFlag     = "flag"     // 1 (yes) or 0 (no)
)

// The objectives on the goodput (Goodput, with DefaultGoodputParams).
const (
	objHealToGoodput = "heal_to_goodput_95_max_s"
	objGoodputStuck  = "goodput_stuck_after_max"
)

// objectiveDef is one objective of the registry: a bound on a figure the analysis measures.
type objectiveDef struct {
	Figure string // what is bounded and from which moment, for a person
	Unit   string
	Max    bool                              // true: the figure must be at most the bound; false: at least
	get    func(a *Analysis) (float64, bool) // the figure in Unit; false: not measured in this run
}

// objectiveDefs is the registry of objectives by name: <figure>_<phase>_<min|max>[_<unit>].
// ParseObjectives, the judging and ObjectiveNames all read it, so they cannot drift.
func objectiveDefs() map[string]objectiveDef {
	share := func(phase int, pct func(PhaseStats) float64) func(*Analysis) (float64, bool) {
		return func(a *Analysis) (float64, bool) {
			p := a.Phases[phase]
			return pct(p) / 100, p.Sent > 0
		}
	}
	ok := func(p PhaseStats) float64 { return p.PctOK200 }
	errs := func(p PhaseStats) float64 { return p.PctErrors }
	lat := func(group func(*Analysis) PhaseStats, q func(PhaseStats) time.Duration) func(*Analysis) (float64, bool) {
		return func(a *Analysis) (float64, bool) {
			p := group(a)
			return millis(q(p)), p.Sent > 0
		}
	}
	phase := func(i int) func(*Analysis) PhaseStats { return func(a *Analysis) PhaseStats { return a.Phases[i] } }
	open := func(a *Analysis) PhaseStats { return a.WhileOpen }
	p50 := func(p PhaseStats) time.Duration { return p.P50 }
	p99 := func(p PhaseStats) time.Duration { return p.P99 }
	after := func(d func(*Analysis) *time.Duration) func(*Analysis) (float64, bool) {
		return func(a *Analysis) (float64, bool) {
			v := d(a)
			if v == nil {
				return 0, false
			}
			return v.Seconds(), true
		}
	}
	amp := func(phase int) func(*Analysis) (float64, bool) {
		return func(a *Analysis) (float64, bool) {
			p := a.Phases[phase]
			return p.Amplification, p.KnownAttempts > 0
		}
	}
	return map[string]objectiveDef{
		"answered_before_min":           {"share of the requests before the fault answered 200 (backend or fallback)", UnitFraction, false, share(0, ok)},
		"answered_during_fault_min":     {"share of the requests during the fault answered 200 (backend or fallback)", UnitFraction, false, share(1, ok)},
		"answered_after_min":            {"share of the requests after the heal answered 200 (backend or fallback)", UnitFraction, false, share(2, ok)},
		"errors_during_fault_max":       {"share of the requests during the fault without a usable answer (non-200, timeout, refused)", UnitFraction, true, share(1, errs)},
		"errors_after_max":              {"share of the requests after the heal without a usable answer", UnitFraction, true, share(2, errs)},
		"p99_before_max_ms":             {"p99 latency of the requests before the fault, from their scheduled arrival", UnitMS, true, lat(phase(0), p99)},
		"p50_during_fault_max_ms":       {"p50 latency of the requests during the fault, from their scheduled arrival", UnitMS, true, lat(phase(1), p50)},
		"p99_during_fault_max_ms":       {"p99 latency of the requests during the fault, from their scheduled arrival", UnitMS, true, lat(phase(1), p99)},
		"p99_after_max_ms":              {"p99 latency of the requests after the heal, from their scheduled arrival", UnitMS, true, lat(phase(2), p99)},
		"p99_while_open_max_ms":         {"p99 latency of the requests that arrived while the breaker was OPEN", UnitMS, true, lat(open, p99)},
		"fault_to_first_fallback_max_s": {"from the fault's injection to the first fallback answer", UnitS, true, after(func(a *Analysis) *time.Duration { return a.FirstFallbackAfterFault })},
		"fault_to_open_max_s":           {"from the fault's injection to the breaker's first transition to OPEN", UnitS, true, after(func(a *Analysis) *time.Duration { return a.OpenAfterFault })},
		"heal_to_first_backend_max_s":   {"from the fault's removal to the first backend answer", UnitS, true, after(func(a *Analysis) *time.Duration { return a.FirstBackendAfterHeal })},
		"heal_to_closed_max_s":          {"from the fault's removal to the breaker's first transition to CLOSED (0 when it was CLOSED at the removal)", UnitS, true, healToClosed},
		"amplification_max":             {"backend calls per request during the fault (retries included)", UnitRatio, true, amp(1)},
		"amplification_after_max":       {"backend calls per request after the heal", UnitRatio, true, amp(2)},
		objHealToGoodput: {"from the fault's removal to the start of the first 5 s in a row whose goodput (backend answers 200 within the load's timeout per second, by scheduled arrival) is each at least 95 % of its level before the fault",
			UnitS, true, goodputBack},
		objGoodputStuck: {"1 when the goodput stayed below 50 % of its level before the fault in each of the first 30 s after the fault's removal (stuck), 0 when it did not",
			UnitFlag, true, goodputStuck},
	}
}

// goodputBack is Goodput.BackTo95 in seconds; not measured when it is nil (not measured, or
// never back within the run: either way nothing shows that it came back in time).
func goodputBack(a *Analysis) (float64, bool) {
	if a.Goodput == nil || a.Goodput.BackTo95 == nil {
		return 0, false
	}
	return a.Goodput.BackTo95.Seconds(), true
}

// goodputStuck is Goodput.Stuck as 1 or 0.
func goodputStuck(a *Analysis) (float64, bool) {
	if a.Goodput == nil || a.Goodput.Stuck == nil {
		return 0, false
	}
	if *a.Goodput.Stuck {
		return 1, true
	}
	return 0, true
}

// healToClosed is ClosedAfterHeal, or 0 when the breaker was CLOSED at the heal already (it
// never opened, or closed before the heal): it had nothing left to recover.
func healToClosed(a *Analysis) (float64, bool) {
	if a.ClosedAfterHeal != nil {
		return a.ClosedAfterHeal.Seconds(), true
	}
	if a.FaultOff == nil || !a.BreakerEnabled {
		return 0, false
	}
	for _, iv := range a.Intervals {
		if iv.Contains(*a.FaultOff) {
			return 0, iv.State == results.BreakerClosed
		}
	}
	return 0, false
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ObjectiveNames returns the names of every objective, sorted.
func ObjectiveNames() []string { return slices.Sorted(maps.Keys(objectiveDefs())) }

// ObjectiveDoc says what an objective bounds, for --help and the README: "p99_while_open_max_ms:
// p99 latency of ... (ms, at most)".
func ObjectiveDoc(name string) string {
	d, ok := objectiveDefs()[name]
	if !ok {
		return ""
	}
	way := "at least"
	if d.Max {
		way = "at most"
	}
	return fmt.Sprintf("%s: %s (%s, %s)", name, d.Figure, d.Unit, way)
}

// ParseObjectives checks objectives as an experiment's `chaoslab` extension or --objective
// gives them: every name known, every bound a number in range (a fraction within 0..1, others
// at least 0). The error is one line naming the objective.
func ParseObjectives(raw map[string]any) (map[string]float64, error) {
	defs := objectiveDefs()
	out := make(map[string]float64, len(raw))
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		d, ok := defs[name]
		if !ok {
			return nil, fmt.Errorf("unknown objective %q: use one of %s", name, strings.Join(ObjectiveNames(), ", "))
		}
		v, ok := number(raw[name])
		switch {
		case !ok:
			return nil, fmt.Errorf("objective %s: %s is not a number", name, jsonText(raw[name]))
		case math.IsNaN(v) || math.IsInf(v, 0) || v < 0:
			return nil, fmt.Errorf("objective %s: %g must be a number of at least 0", name, v)
		case d.Unit == UnitFraction && v > 1:
			return nil, fmt.Errorf("objective %s: %g is a share of requests, from 0 to 1", name, v)
		case d.Unit == UnitFlag && v != 0 && v != 1:
			return nil, fmt.Errorf("objective %s: %g must be 0 (no) or 1 (yes)", name, v)
		}
		out[name] = v
	}
	return out, nil
}

// jsonText shows a value as JSON writes it ("15s" quoted, null, true).
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	}
	return 0, false
}

// ObjectiveResult is one objective judged on a run.
type ObjectiveResult struct {
	Name   string   `json:"name"`
	Figure string   `json:"figure"` // what is bounded, from which moment
	Unit   string   `json:"unit"`
	Bound  float64  `json:"bound"`
	Max    bool     `json:"max"`             // true: the value must be at most the bound
	Value  *float64 `json:"value,omitempty"` // nil: not measured in this run (the objective fails)
	Passed bool     `json:"passed"`
}

// Text is the judgement for a person: "p99_while_open_max_ms: 3.20 ms, want <= 20.0 ms: met".
func (o ObjectiveResult) Text() string {
	if o.Passed {
		return o.Measure() + ": met"
	}
	return o.Measure() + ": FAILED"
}

// Measure is the value against the bound: "p99_while_open_max_ms: 3.20 ms, want <= 20.0 ms".
func (o ObjectiveResult) Measure() string {
	return fmt.Sprintf("%s: %s, want %s", o.Name, objectiveValue(o), objectiveBound(o))
}

// objectiveValue is the measured value for a table ("not measured" when nil).
func objectiveValue(o ObjectiveResult) string {
	if o.Value == nil {
		return "not measured"
	}
	return formatObjective(*o.Value, o.Unit)
}

// objectiveBound is the bound with its direction, for a table: "<= 20.0 ms".
func objectiveBound(o ObjectiveResult) string {
	if o.Max {
		return "<= " + formatObjective(o.Bound, o.Unit)
	}
	return ">= " + formatObjective(o.Bound, o.Unit)
}

func formatObjective(v float64, unit string) string {
	switch unit {
	case UnitMS:
		return FormatDuration(time.Duration(v * float64(time.Millisecond)))
	case UnitS:
		return FormatDuration(time.Duration(v * float64(time.Second)))
	case UnitFraction:
		return fmt.Sprintf("%.4g (%s)", v, formatPct(100*v))
	case UnitFlag:
		if v == 1 {
			return "1 (yes)"
		}
		return fmt.Sprintf("%g (no)", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// judgeObjectives judges the run's objectives (RunInfo.Objectives), in name order. A figure the
// run did not measure fails its objective: nothing was shown to hold.
func (a *Analysis) judgeObjectives() {
	defs := objectiveDefs()
	a.Objectives = nil
	for _, name := range slices.Sorted(maps.Keys(a.Run.Objectives)) {
		d, ok := defs[name]
		bound := a.Run.Objectives[name]
		r := ObjectiveResult{Name: name, Figure: d.Figure, Unit: d.Unit, Bound: bound, Max: d.Max}
		if ok {
			if v, measured := d.get(a); measured {
				r.Value = &v
				r.Passed = (d.Max && v <= bound) || (!d.Max && v >= bound)
			}
		} else {
			r.Figure = "unknown objective"
		}
		a.Objectives = append(a.Objectives, r)
	}
}
