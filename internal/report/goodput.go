package report

import (
	"fmt"
	"math"
	"strings"
	"time"

	"chaoslab/internal/results"
)

// GoodputParams are the thresholds of the goodput figures relative to the trigger (the fault
// window). DefaultGoodputParams are the issue's: stuck = below 50 % of the level before the
// trigger for the first 30 s after its end; back = at least 95 % for 5 s in a row.
type GoodputParams struct {
	StuckBelow float64       // a second is "down" when its goodput is below this share of the level before
	StuckFor   time.Duration // stuck: every one of the first StuckFor (whole seconds) after the trigger's end is down
	BackAt     float64       // a second is "back" when its goodput is at least this share of the level before
	BackHold   time.Duration // back: BackHold (whole seconds) in a row are back
}

// DefaultGoodputParams are the thresholds Analyze uses, unless the run set its own windows
// (RunGoodputParams).
func DefaultGoodputParams() GoodputParams {
	return GoodputParams{StuckBelow: 0.5, StuckFor: 30 * time.Second, BackAt: 0.95, BackHold: 5 * time.Second}
}

// RunGoodputParams are the thresholds Analyze uses for a run: DefaultGoodputParams, with the
// windows the run recorded (RunInfo.GoodputStuckFor, GoodputBackHold) where it set them.
func RunGoodputParams(info results.RunInfo) GoodputParams {
	p := DefaultGoodputParams()
	if info.GoodputStuckFor > 0 {
		p.StuckFor = info.GoodputStuckFor.D()
	}
	if info.GoodputBackHold > 0 {
		p.BackHold = info.GoodputBackHold.D()
	}
	return p
}

// Goodput is the load's goodput per second and what it did around the trigger. A request is
// good when the backend answered it (not a fallback) with 200 within its deadline: its latency,
// from its scheduled arrival, at most the load's per-request timeout (the only deadline the
// load's requests have; a run that does not say has none). A request counts in the second of
// its scheduled arrival, as the phases count it, so a second's goodput is how many of the
// requests offered in it were answered well, however long they took.
//
// The seconds are whole seconds on a grid anchored at the trigger's end (the last fault "off"),
// or at the load's first arrival without one: second k is [Anchor + k s, Anchor + (k+1) s).
// Only the seconds the load offered requests throughout are kept (from its first arrival to its
// last, within one arrival interval), so neither end of the run shows a false dip.
type Goodput struct {
	Params   GoodputParams
	Deadline time.Duration   // the load's per-request timeout; 0: none known, every backend answer counts
	Anchor   time.Time       // the grid's origin: the trigger's end, or the load's first arrival
	Seconds  []GoodputSecond // the whole seconds the load offered requests throughout, in order

	// Before is the mean goodput per second over the whole seconds that end at or before the
	// trigger's start (and start at or after the load's first arrival); nil: no such second, or
	// no trigger.
	Before        *float64
	BeforeSeconds int           // how many seconds Before is the mean of
	After         time.Duration // whole seconds measured after the trigger's end (0 without one)

	// Stuck: every second of the first StuckFor after the trigger's end had goodput below
	// StuckBelow x Before. nil: not measured (Why says why): no trigger that ended, no goodput
	// before it, or fewer than StuckFor seconds measured after its end.
	Stuck *bool
	// BackTo95 is from the trigger's end to the start of the first BackHold seconds in a row
	// whose goodput is each at least BackAt x Before (0: back from its first second). nil when
	// not measured (Why), or when it never came back within the seconds measured (NotBack).
	BackTo95 *time.Duration
	NotBack  bool   // measured for at least BackHold after the trigger's end, and never back
	Why      string // why Stuck or BackTo95 is not measured; "" when both are

	// LeftOff is how many whole seconds at the end are not in Seconds because a good answer to
	// one of their requests came more than loadGone after the load's last arrival: an overloaded
	// backend serves the last requests once the load has stopped feeding it, and counting them
	// would show goodput coming back when only the load went away.
	LeftOff int
}

// loadGone is how long after the load's last arrival an answer still counts: later, the
// backend was no longer serving the load (Goodput.LeftOff).
const loadGone = time.Second

// GoodputSecond is one second of the grid.
type GoodputSecond struct {
	K       int       // its number on the grid: 0 is the first second after the trigger's end
	From    time.Time // its start
	Offered int       // requests whose scheduled arrival falls in it (dropped ones included)
	Good    int       // of them: answered by the backend, 200, within the deadline
}

// Good reports whether r is a good answer: the backend answered 200 within deadline (0: any).
func goodAnswer(r results.Record, deadline time.Duration) bool {
	return r.Source == results.SourceBackend && r.Status == 200 && (deadline <= 0 || r.Latency <= deadline)
}

// GoodputOf computes the goodput of an analysed run with the thresholds p. Analyze sets
// Analysis.Goodput with DefaultGoodputParams; tools that need other windows call this.
func GoodputOf(a *Analysis, p GoodputParams) *Goodput {
	g := &Goodput{Params: p, Deadline: a.Run.LoadTimeout.D()}
	if len(a.Records) == 0 {
		g.Why = "no request was offered"
		return g
	}
	first, last := a.Records[0].Start, a.Records[len(a.Records)-1].Start
	g.Anchor = first
	if a.FaultOff != nil {
		g.Anchor = *a.FaultOff
	}
	var interval time.Duration
	if a.Run.RPS > 0 {
		interval = time.Duration(float64(time.Second) / a.Run.RPS)
	}
	kFrom := int(math.Ceil(float64(first.Sub(g.Anchor)) / float64(time.Second)))
	for k := kFrom; ; k++ {
		from := g.Anchor.Add(time.Duration(k) * time.Second)
		if last.Before(from.Add(time.Second - interval - time.Millisecond)) { // 1 ms for the arrivals' rounding

			break
		}
		g.Seconds = append(g.Seconds, GoodputSecond{K: k, From: from})
	}
	settled := len(g.Seconds)
	for _, r := range a.Records {
		k := int(math.Floor(float64(r.Start.Sub(g.Anchor)) / float64(time.Second)))
		if i := k - kFrom; i >= 0 && i < len(g.Seconds) {
			g.Seconds[i].Offered++
			if goodAnswer(r, g.Deadline) {
				g.Seconds[i].Good++
				if r.Start.Add(r.Latency).After(last.Add(loadGone)) {
					settled = min(settled, i)
				}
			}
		}
	}
	g.LeftOff = len(g.Seconds) - settled
	g.Seconds = g.Seconds[:settled]
	g.judge(a)
	return g
}

// judge sets Before, After, Stuck and BackTo95 relative to the trigger.
func (g *Goodput) judge(a *Analysis) {
	if a.FaultOn == nil {
		g.Why = "no fault was recorded: there is no trigger to be stuck after"
		return
	}
	sum := 0
	var after []GoodputSecond
	for _, s := range g.Seconds {
		if !s.From.Add(time.Second).After(*a.FaultOn) {
			sum += s.Good
			g.BeforeSeconds++
		}
		if a.FaultOff != nil && s.K >= 0 {
			after = append(after, s)
		}
	}
	if g.BeforeSeconds > 0 {
		g.Before = num(float64(sum) / float64(g.BeforeSeconds))
	}
	g.After = time.Duration(len(after)) * time.Second
	stuckFor, hold := wholeSeconds(g.Params.StuckFor), wholeSeconds(g.Params.BackHold)
	switch {
	case a.FaultOff == nil:
		g.Why = "the fault was never removed: nothing after the trigger to measure"
		return
	case g.Before == nil:
		g.Why = "no whole second of load before the fault: no level to compare with"
		return
	case *g.Before == 0:
		g.Why = "no good answer before the fault: no level to fall from"
		return
	}
	down := func(s GoodputSecond) bool { return float64(s.Good) < g.Params.StuckBelow**g.Before }
	back := func(s GoodputSecond) bool { return float64(s.Good) >= g.Params.BackAt**g.Before }
	var why []string
	if len(after) >= stuckFor {
		stuck := true
		for _, s := range after[:stuckFor] {
			stuck = stuck && down(s)
		}
		g.Stuck = &stuck
	} else {
		why = append(why, fmt.Sprintf("stuck needs %d s after the fault's removal, the run measured %d s", stuckFor, len(after)))
	}
	if len(after) >= hold {
		g.NotBack = true
		for k := 0; k+hold <= len(after); k++ {
			if allOf(after[k:k+hold], back) {
				d := time.Duration(after[k].K) * time.Second
				g.BackTo95, g.NotBack = &d, false
				break
			}
		}
	} else {
		why = append(why, fmt.Sprintf("back to %s needs %d s after the fault's removal, the run measured %d s", formatShare(g.Params.BackAt), hold, len(after)))
	}
	if len(why) > 0 {
		g.Why = strings.Join(why, "; ")
	}
}

func allOf(ss []GoodputSecond, ok func(GoodputSecond) bool) bool {
	for _, s := range ss {
		if !ok(s) {
			return false
		}
	}
	return true
}

// wholeSeconds is d in whole seconds, rounded up, at least 1.
func wholeSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// formatShare writes a share as a percentage without a useless fraction: "95 %".
func formatShare(f float64) string { return formatNumber(math.Round(f*1000)/10) + " %" }
