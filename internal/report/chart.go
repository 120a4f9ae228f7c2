package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"chaoslab/internal/results"
)

// MaxMarks is the most requests the timeline draws one mark each for. Above it, requests are
// aggregated: one mark per occupied cell of aggCell x aggCell pixels and outcome, sized by the
// number of requests it stands for, which it names (data-count and its tooltip).
const MaxMarks = 5000

const (
	aggCell  = 4.0
	chartW   = 1200.0
	padLeft  = 64.0
	padRight = 24.0
	padTop   = 26.0
	plotH    = 340.0
	bandGap  = 10.0
	bandH    = 24.0
	axisH    = 34.0
)

// scale is shared by the charts of a compare report, so both runs are drawn alike.
type scale struct {
	Span       time.Duration // x: 0 .. Span from each run's start
	LoMS, HiMS float64       // y: log10 range in milliseconds, whole decades
}

// chart is the geometry of one SVG timeline, ready for the template.
type chart struct {
	W, H, PlotX, PlotY, PlotW, PlotH, BandY, BandH float64
	Faults                                         []box // one per fault window; the first is labelled
	FaultLabel                                     string
	Lines                                          []line // the fault windows' edges
	PhaseLabels                                    []tick // phase names, centred over each phase
	Target                                         *line  // the OPEN p99 target
	XTicks, YTicks                                 []tick
	Marks                                          []mark
	Band                                           []box
	Aggregated                                     bool
	Requests                                       int // the requests drawn: every request sent
	Dropped                                        int // requests never sent, not drawn
}

type box struct {
	X, Y, W, H   float64
	Class, Label string
}

type line struct {
	X1, Y1, X2, Y2 float64
	Label          string
	LabelLeft      bool // the label ends at the line (it is near the plot's right edge)
}

type tick struct {
	Pos   float64
	Label string
}

type mark struct {
	X, Y, R float64
	Class   string
	Count   int
	Title   string
}

// newScale returns the scale that fits every run.
func newScale(as ...*Analysis) scale {
	s := scale{Span: time.Second, LoMS: math.Inf(1), HiMS: 0}
	for _, a := range as {
		s.Span = max(s.Span, a.End.Sub(a.Origin))
		for _, r := range sentRecords(a) {
			v := max(msOf(r.Latency), 0.1)
			s.LoMS, s.HiMS = min(s.LoMS, v), max(s.HiMS, v)
		}
	}
	if s.HiMS == 0 {
		s.LoMS, s.HiMS = 1, 1000
	}
	s.LoMS = math.Pow(10, math.Floor(math.Log10(s.LoMS)))
	s.HiMS = niceCeil(s.HiMS * 1.3) // headroom above the slowest request
	if s.HiMS <= s.LoMS {
		s.HiMS = s.LoMS * 10
	}
	return s
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p*1.0000001 {
			return m * p
		}
	}
	return 10 * p
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// newChart lays out the timeline of a on scale s.
func newChart(a *Analysis, s scale) *chart {
	sent := sentRecords(a)
	c := &chart{W: chartW, PlotX: padLeft, PlotY: padTop, PlotW: chartW - padLeft - padRight, PlotH: plotH,
		Requests: len(sent), Dropped: len(a.Records) - len(sent)}
	c.BandY, c.BandH = c.PlotY+c.PlotH+bandGap, bandH
	c.H = c.BandY + c.BandH + axisH
	c.faultWindow(a, s)
	c.ticks(s)
	c.marks(a, sent, s)
	c.band(a, s)
	if a.BreakerEnabled {
		y := c.y(msOf(OpenP99Target), s)
		c.Target = &line{X1: c.PlotX, Y1: y, X2: c.PlotX + c.PlotW, Y2: y, Label: FormatDuration(OpenP99Target) + " target while OPEN"}
	}
	return c
}

// x maps a time to a horizontal position.
func (c *chart) x(a *Analysis, t time.Time, s scale) float64 {
	f := float64(t.Sub(a.Origin)) / float64(s.Span)
	return c.PlotX + c.PlotW*min(max(f, 0), 1)
}

// y maps a latency in ms to a vertical position on the log scale.
func (c *chart) y(ms float64, s scale) float64 {
	ms = min(max(ms, s.LoMS), s.HiMS)
	f := (math.Log10(ms) - math.Log10(s.LoMS)) / (math.Log10(s.HiMS) - math.Log10(s.LoMS))
	return c.PlotY + c.PlotH*(1-f)
}

// maxFaultLabel is the longest fault label the chart writes (the report has the whole).
const maxFaultLabel = 90

func (c *chart) faultWindow(a *Analysis, s scale) {
	if a.FaultOn == nil {
		return
	}
	for _, w := range a.Faults {
		end := a.End
		if w.Off != nil {
			end = *w.Off
		}
		x1, x2 := c.x(a, w.On, s), c.x(a, end, s)
		c.Faults = append(c.Faults, box{X: x1, Y: c.PlotY, W: max(x2-x1, 1), H: c.BandY + c.BandH - c.PlotY, Class: "fault"})
		for _, x := range []float64{x1, x2} {
			c.Lines = append(c.Lines, line{X1: x, Y1: c.PlotY, X2: x, Y2: c.BandY + c.BandH})
		}
	}
	c.FaultLabel = "fault: " + cut(faultDescription(a), maxFaultLabel)
	if len(a.Faults) > 1 {
		c.FaultLabel += " · " + windowsPhrase(a)
	}
	for _, p := range a.Phases {
		if p.To.After(p.From) {
			c.PhaseLabels = append(c.PhaseLabels, tick{Pos: (c.x(a, p.From, s) + c.x(a, p.To, s)) / 2, Label: p.Name})
		}
	}
}

func (c *chart) ticks(s scale) {
	for v := s.LoMS; v <= s.HiMS*1.0001; v *= 10 {
		c.YTicks = append(c.YTicks, tick{Pos: c.y(v, s), Label: latencyLabel(v)})
	}
	step := tickStep(s.Span)
	for t := time.Duration(0); t <= s.Span; t += step {
		c.XTicks = append(c.XTicks, tick{Pos: c.PlotX + c.PlotW*float64(t)/float64(s.Span), Label: offsetLabel(t)})
	}
}

// latencyLabel labels a decade of the latency axis: "0.1 ms", "10 ms", "1 s".
func latencyLabel(ms float64) string {
	if ms >= 1000 {
		return strconv.FormatFloat(ms/1000, 'g', -1, 64) + " s"
	}
	return strconv.FormatFloat(ms, 'g', -1, 64) + " ms"
}

// offsetLabel labels the time axis in seconds: "0s", "+10s", "+90s".
func offsetLabel(t time.Duration) string {
	if t == 0 {
		return "0s"
	}
	return "+" + strconv.FormatFloat(t.Seconds(), 'f', -1, 64) + "s"
}

// tickStep picks a round step giving at most 12 ticks.
func tickStep(span time.Duration) time.Duration {
	for _, s := range []int{1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 1800, 3600} {
		if step := time.Duration(s) * time.Second; span/step <= 12 {
			return step
		}
	}
	return span / 10
}

// sourceClass is the CSS class of a request's outcome.
func sourceClass(src string) string {
	switch src {
	case results.SourceBackend:
		return "m-backend"
	case results.SourceFallback:
		return "m-fallback"
	}
	return "m-error"
}

// markOrder draws errors above fallbacks above backend answers.
func markOrder(p, q mark) int { return classRank(p.Class) - classRank(q.Class) }

func classRank(class string) int {
	switch class {
	case "m-backend":
		return 0
	case "m-fallback":
		return 1
	}
	return 2
}

// sentRecords returns the requests that were sent: the ones with a latency to draw.
func sentRecords(a *Analysis) []results.Record { return filter(a.Records, results.Record.Answered) }

func (c *chart) marks(a *Analysis, sent []results.Record, s scale) {
	if len(sent) > MaxMarks {
		c.aggregate(a, sent, s)
		return
	}
	for _, r := range sent {
		c.Marks = append(c.Marks, mark{X: c.x(a, r.Start, s), Y: c.y(msOf(r.Latency), s), R: 2.6,
			Class: sourceClass(r.Source), Count: 1, Title: recordTitle(a, r)})
	}
	slices.SortStableFunc(c.Marks, markOrder)
}

func recordTitle(a *Analysis, r results.Record) string {
	calls := "attempts unknown"
	if r.Attempts != results.UnknownAttempts {
		calls = plural(r.Attempts, "attempt")
	}
	t := fmt.Sprintf("%s %s, status %d, %s, %s", FormatOffset(a.Rel(r.Start)), r.Source, r.Status, FormatDuration(r.Latency), calls)
	if r.Error != "" {
		t += ": " + cut(r.Error, 120)
	}
	return t
}

type cellKey struct {
	X, Y  int
	Class string
}

// aggregate draws one mark per occupied cell and outcome.
func (c *chart) aggregate(a *Analysis, sent []results.Record, s scale) {
	c.Aggregated = true
	cells := map[cellKey]*mark{}
	var keys []cellKey
	for _, r := range sent {
		x, y := c.x(a, r.Start, s), c.y(msOf(r.Latency), s)
		k := cellKey{int(x / aggCell), int(y / aggCell), sourceClass(r.Source)}
		m, ok := cells[k]
		if !ok {
			m = &mark{X: (float64(k.X) + 0.5) * aggCell, Y: (float64(k.Y) + 0.5) * aggCell, Class: k.Class}
			cells[k] = m
			keys = append(keys, k)
		}
		m.Count++
	}
	for _, k := range keys {
		m := cells[k]
		m.R = min(1.8+math.Sqrt(float64(m.Count))*0.6, 6)
		m.Title = fmt.Sprintf("%d %s requests", m.Count, k.Class[2:])
		c.Marks = append(c.Marks, *m)
	}
	slices.SortStableFunc(c.Marks, markOrder)
}

func (c *chart) band(a *Analysis, s scale) {
	if !a.BreakerEnabled {
		c.Band = []box{{X: c.PlotX, Y: c.BandY, W: c.PlotW, H: c.BandH, Class: "b-none", Label: "no breaker (RESILIENCE=" + profileOf(a) + ")"}}
		return
	}
	for _, iv := range a.Intervals {
		x1, x2 := c.x(a, iv.From, s), c.x(a, iv.To, s)
		b := box{X: x1, Y: c.BandY, W: max(x2-x1, 0.5), H: c.BandH, Class: bandClass(iv.State)}
		if x2-x1 > 70 {
			b.Label = iv.State
		}
		c.Band = append(c.Band, b)
	}
}

func bandClass(state string) string {
	switch state {
	case results.BreakerOpen:
		return "b-open"
	case results.BreakerHalfOpen:
		return "b-half"
	}
	return "b-closed"
}
