package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The capacity chart's geometry: two panels (the goodput, the backend's capacity), then one
// breaker band per tier, on the latency chart's time axis (same width, margins and scale).
const (
	capLegendH = 26.0
	capPanelH  = 140.0
	capBandGap = 10.0
	capBandH   = 16.0
	capBandSep = 3.0
)

// capChart is the geometry of the capacity chart, ready for the "capacity" template.
type capChart struct {
	W, H, PlotX, PlotW, AxisY float64
	Panels                    []capPanel
	Faults                    []box // the fault windows, over both panels and the bands
	Lines                     []line
	XTicks                    []tick
	Bands                     []capBand
	Seconds, Samples          int // the goodput's seconds and the capacity samples drawn
}

// capPanel is one panel: its series on a linear axis from 0, and its reference lines.
type capPanel struct {
	Name         string // "goodput" or "backend"
	Y, H         float64
	YTicks       []tick
	Series       []capSeries
	Refs         []line // horizontal: the level before the fault, the stuck threshold
	Marks        []line // vertical: where the goodput came back
	Note         string // what the panel says of the goodput after the heal ("" when nothing)
	NoteX, NoteY float64
}

// capSeries is one line of a panel, with its legend entry.
type capSeries struct {
	Name, Label, Color, Dash string
	Points                   string // the polyline's points, "x,y x,y ..."
	N                        int    // how many points
	LegendX                  float64
}

// capBand is one tier's breaker band.
type capBand struct {
	Y, H  float64
	Label string
	Boxes []box
}

// The series' colours (presentation attributes: the shared stylesheet stays as it was).
const (
	colGood     = "#2b9348"
	colOffered  = "#8a99a8"
	colQueued   = "#1c4fa0"
	colService  = "#0c8599"
	colRejected = "#e03131"
	colWasted   = "#7048e8"
	colExpired  = "#f08c00"
)

// newCapChart lays out the goodput and the capacity of a on scale s; nil when a does not show
// them (ShowsGoodput).
func newCapChart(a *Analysis, s scale) *capChart {
	if !a.ShowsGoodput() || a.Goodput == nil {
		return nil
	}
	c := &capChart{W: chartW, PlotX: padLeft, PlotW: chartW - padLeft - padRight, Seconds: len(a.Goodput.Seconds)}
	y := capLegendH
	c.Panels = append(c.Panels, c.goodputPanel(a, s, y))
	y += capPanelH + capLegendH
	if a.Capacity != nil {
		c.Samples = len(a.Capacity.Points)
		c.Panels = append(c.Panels, c.backendPanel(a, s, y))
		y += capPanelH
	}
	y += capBandGap
	for _, tb := range a.TierBreakers {
		c.Bands = append(c.Bands, c.band(a, s, tb, y))
		y += capBandH + capBandSep
	}
	top := capLegendH
	for _, w := range a.Faults {
		end := a.End
		if w.Off != nil {
			end = *w.Off
		}
		x1, x2 := c.x(a, w.On, s), c.x(a, end, s)
		c.Faults = append(c.Faults, box{X: x1, Y: top, W: max(x2-x1, 1), H: y - top, Class: "fault"})
		for _, x := range []float64{x1, x2} {
			c.Lines = append(c.Lines, line{X1: x, Y1: top, X2: x, Y2: y})
		}
	}
	c.AxisY = y + 14
	c.H = c.AxisY + 10
	step := tickStep(s.Span)
	for t := time.Duration(0); t <= s.Span; t += step {
		c.XTicks = append(c.XTicks, tick{Pos: c.PlotX + c.PlotW*float64(t)/float64(s.Span), Label: offsetLabel(t)})
	}
	return c
}

func (c *capChart) x(a *Analysis, t time.Time, s scale) float64 {
	f := float64(t.Sub(a.Origin)) / float64(s.Span)
	return c.PlotX + c.PlotW*min(max(f, 0), 1)
}

// point is one value of a series at a time.
type point struct {
	t time.Time
	v float64
}

// goodputPanel draws the goodput and the requests offered per second, at each second's middle,
// with the level before the fault and the stuck threshold.
func (c *capChart) goodputPanel(a *Analysis, s scale, y float64) capPanel {
	g := a.Goodput
	var good, offered []point
	top := 1.0
	for _, sec := range g.Seconds {
		mid := sec.From.Add(time.Second / 2)
		good, offered = append(good, point{mid, float64(sec.Good)}), append(offered, point{mid, float64(sec.Offered)})
		top = max(top, float64(sec.Offered))
	}
	p := capPanel{Name: "goodput", Y: y, H: capPanelH}
	top = p.axis(top)
	c.series(a, s, &p, top, "offered", "requests offered /s", colOffered, "4 3", offered)
	c.series(a, s, &p, top, "goodput", "goodput /s (backend 200 in time)", colGood, "", good)
	if g.Before != nil {
		for _, ref := range []struct {
			share float64
			label string
		}{{1, "before: " + formatRate(*g.Before)}, {g.Params.StuckBelow, formatShare(g.Params.StuckBelow) + " of before"}} {
			yy := p.y(ref.share**g.Before, top)
			p.Refs = append(p.Refs, line{X1: c.PlotX, Y1: yy, X2: c.PlotX + c.PlotW, Y2: yy, Label: ref.label})
		}
	}
	if g.BackTo95 != nil {
		x := c.x(a, g.Anchor.Add(*g.BackTo95), s)
		p.Marks = append(p.Marks, line{X1: x, Y1: p.Y, X2: x, Y2: p.Y + p.H, Label: "back to " + formatShare(g.Params.BackAt) + " at heal +" + formatNumber(g.BackTo95.Seconds()) + "s",
			LabelLeft: x > c.PlotX+0.7*c.PlotW})
	}
	p.Note = goodputNote(g)
	p.NoteX, p.NoteY = c.PlotX+c.PlotW-6, p.Y+14
	return p
}

// backendPanel draws the backend's levels at each sample and its counters' rates between
// samples.
func (c *capChart) backendPanel(a *Analysis, s scale, y float64) capPanel {
	var queued, service, rejected, wasted, expired []point
	top := 1.0
	for _, pt := range a.Capacity.Points {
		queued, service = append(queued, point{pt.Time, float64(pt.Queued)}), append(service, point{pt.Time, float64(pt.InService)})
		top = max(top, float64(pt.Queued), float64(pt.InService))
		if pt.Rates {
			rejected, wasted = append(rejected, point{pt.Time, pt.RejectedPerS}), append(wasted, point{pt.Time, pt.WastedPerS})
			expired = append(expired, point{pt.Time, pt.ExpiredPerS})
			top = max(top, pt.RejectedPerS, pt.WastedPerS, pt.ExpiredPerS)
		}
	}
	p := capPanel{Name: "backend", Y: y, H: capPanelH}
	top = p.axis(top)
	c.series(a, s, &p, top, "queued", "queued", colQueued, "", queued)
	c.series(a, s, &p, top, "in-service", "in service", colService, "2 2", service)
	c.series(a, s, &p, top, "rejected", "rejected /s", colRejected, "", rejected)
	c.series(a, s, &p, top, "wasted", "wasted /s", colWasted, "", wasted)
	c.series(a, s, &p, top, "expired", "expired /s", colExpired, "", expired)
	return p
}

// axis rounds top up to at most 5 round steps (1, 2 or 5 times a power of ten) and sets the
// panel's ticks, one a step; it returns the new top.
func (p *capPanel) axis(top float64) float64 {
	top *= 1.05 // a little headroom above the highest point
	step := math.Pow(10, math.Floor(math.Log10(top/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if math.Ceil(top/(m*step)) <= 5 {
			step *= m
			break
		}
	}
	n := math.Ceil(top / step)
	for i := 0.0; i <= n; i++ {
		v := i * step
		p.YTicks = append(p.YTicks, tick{Pos: p.y(v, n*step), Label: formatNumber(math.Round(v*100) / 100)})
	}
	return n * step
}

func (p *capPanel) y(v, top float64) float64 { return p.Y + p.H*(1-min(max(v/top, 0), 1)) }

// series adds one polyline to p, and its legend entry after the previous one's.
func (c *capChart) series(a *Analysis, s scale, p *capPanel, top float64, name, label, color, dash string, pts []point) {
	var b strings.Builder
	for i, pt := range pts {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(c.x(a, pt.t, s), 'f', 1, 64) + "," + strconv.FormatFloat(p.y(pt.v, top), 'f', 1, 64))
	}
	x := c.PlotX
	if n := len(p.Series); n > 0 {
		prev := p.Series[n-1]
		x = prev.LegendX + 30 + 7*float64(len(prev.Label)) + 20
	}
	p.Series = append(p.Series, capSeries{Name: name, Label: label, Color: color, Dash: dash, Points: b.String(), N: len(pts), LegendX: x})
}

// band lays out one tier's breaker.
func (c *capChart) band(a *Analysis, s scale, tb TierBreaker, y float64) capBand {
	b := capBand{Y: y, H: capBandH, Label: tb.Tier}
	if b.Label == "" {
		b.Label = "breaker"
	}
	if !tb.Enabled {
		b.Boxes = []box{{X: c.PlotX, Y: y, W: c.PlotW, H: capBandH, Class: "b-none", Label: "no breaker"}}
		return b
	}
	for _, iv := range tb.Intervals {
		x1, x2 := c.x(a, iv.From, s), c.x(a, iv.To, s)
		bx := box{X: x1, Y: y, W: max(x2-x1, 0.5), H: capBandH, Class: bandClass(iv.State)}
		if x2-x1 > 70 {
			bx.Label = iv.State
		}
		b.Boxes = append(b.Boxes, bx)
	}
	return b
}

// goodputNote says in a few words what the goodput did after the heal, for the chart.
func goodputNote(g *Goodput) string {
	switch {
	case g.Stuck != nil && *g.Stuck:
		return fmt.Sprintf("stuck: below %s of before in each of the first %d s after the heal", formatShare(g.Params.StuckBelow), wholeSeconds(g.Params.StuckFor))
	case g.NotBack:
		return fmt.Sprintf("not back to %s of before within the %s measured after the heal", formatShare(g.Params.BackAt), formatSeconds(g.After))
	}
	return ""
}

// formatRate writes a rate per second: "19.8/s".
func formatRate(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + "/s" }

// formatSeconds writes whole seconds: "30 s".
func formatSeconds(d time.Duration) string { return formatNumber(d.Seconds()) + " s" }
