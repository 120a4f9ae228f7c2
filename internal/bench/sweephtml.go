package bench

import (
	"fmt"
	"html/template"
	"io"
	"path"
	"strings"

	"chaoslab/internal/results"
)

// The plot's geometry, in SVG units.
const (
	plotW, plotH         = 820, 380
	plotLeft, plotRight  = 60, 190
	plotTop, plotBottom  = 30, 60
	plotInnerW, plotInnH = plotW - plotLeft - plotRight, plotH - plotTop - plotBottom
)

// palette colours the profiles' lines, in the profiles' order.
var palette = []string{"#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"}

// sweepPage is what sweep.html shows.
type sweepPage struct {
	File        SweepFile
	Plot        sweepPlot
	Rows        []sweepRowView
	Runs        []sweepRunView
	Tipping     []string
	Definitions string
	Settings    string // what was run, for a person
}

type sweepPlot struct {
	W, H, Left, Top, Right, Bottom, InnerW, InnerH int
	YTicks                                         []plotTick
	XTicks                                         []plotTick
	TipY                                           float64 // the y of P(stuck) = 0.5
	Lines                                          []plotLine
}

type plotTick struct {
	Pos   float64
	Label string
}

type plotLine struct {
	Name, Colour, Dash string
	Path               string // the SVG path; a trigger without measured runs breaks it
	Points             []plotPoint
	LegendY            float64
	Tip                *plotPoint // the tipping point, ringed
}

type plotPoint struct {
	X, Y  float64
	Title string
}

type sweepRowView struct {
	Cells []string
	Tip   bool
}

type sweepRunView struct {
	Trigger, Profile, Seed, Outcome, Report string
}

// newSweepPlot lays out P(stuck) against the triggers (evenly spaced, in the axis' order), one
// line per profile.
func newSweepPlot(sw *Sweep) sweepPlot {
	p := sweepPlot{W: plotW, H: plotH, Left: plotLeft, Top: plotTop, Right: plotLeft + plotInnerW, Bottom: plotTop + plotInnH,
		InnerW: plotInnerW, InnerH: plotInnH}
	n := len(sw.Config.Triggers)
	x := func(i int) float64 { return plotLeft + (float64(i)+0.5)*plotInnerW/float64(max(1, n)) }
	y := func(v float64) float64 { return plotTop + (1-v)*plotInnH }
	p.TipY = y(TippingShare)
	for _, v := range []float64{0, 0.25, 0.5, 0.75, 1} {
		p.YTicks = append(p.YTicks, plotTick{y(v), fmt.Sprintf("%.2g", v)})
	}
	for i, t := range sw.Config.Triggers {
		p.XTicks = append(p.XTicks, plotTick{x(i), t.String()})
	}
	// Each profile's points are moved sideways a little, so that equal values stay visible.
	dodge := func(k int) float64 { return (float64(k) - float64(len(sw.Config.Profiles)-1)/2) * 5 }
	for k, prof := range sw.Config.Profiles {
		l := plotLine{Name: prof.String(), Colour: palette[k%len(palette)], LegendY: plotTop + 10 + 22*float64(k)}
		if prof.NoDeadline {
			l.Dash = "6 4"
		}
		var b strings.Builder
		pen := "M"
		for i, t := range sw.Config.Triggers {
			c, ok := cellOf(sw.Cells, t, prof)
			v, measured := c.PStuck()
			if !ok || !measured {
				pen = "M"
				continue
			}
			pt := plotPoint{X: x(i) + dodge(k), Y: y(v), Title: fmt.Sprintf("%s, %s: %d of %d measured runs stuck (P %.2f); %d not measured",
				prof, t, c.Stuck, c.Measured, v, c.NotMeasured+c.Failed)}
			fmt.Fprintf(&b, "%s%.1f %.1f ", pen, pt.X, pt.Y)
			pen = "L"
			l.Points = append(l.Points, pt)
			if l.Tip == nil && c.Tipped() {
				tip := pt
				l.Tip = &tip
			}
		}
		l.Path = strings.TrimSpace(b.String())
		p.Lines = append(p.Lines, l)
	}
	return p
}

func cellOf(cells []Cell, t Trigger, p SweepProfile) (Cell, bool) {
	for _, c := range cells {
		if c.Trigger == t && c.Profile == p {
			return c, true
		}
	}
	return Cell{}, false
}

// writeSweepHTML writes sweep.html: the plot, the table, the tipping points, the definitions
// and a link to each run's report. It needs no network.
func writeSweepHTML(w io.Writer, sw *Sweep, f SweepFile) error {
	cfg, win := sw.Config, sw.Config.windows()
	page := sweepPage{File: f, Plot: newSweepPlot(sw), Tipping: TippingLines(sw.Cells, cfg.Profiles), Definitions: SweepDefinitions,
		Settings: fmt.Sprintf("%s at %g requests/s, %d seed(s) per cell from seed %d, %d at a time: %v of warm-up, the trigger, %v of watch, %v of recovery; stuck window %v, back window %v; %s to %s UTC.",
			Metastable, cfg.RPS, cfg.Seeds, cfg.FirstSeed, max(1, cfg.Parallel), cfg.Warmup, cfg.Watch, cfg.Recovery, win.StuckFor, win.BackHold,
			sw.Start.UTC().Format("2006-01-02 15:04:05"), sw.End.UTC().Format("15:04:05"))}
	for _, c := range sw.Cells {
		page.Rows = append(page.Rows, sweepRowView{Cells: rowValues(c), Tip: c.Tipped()})
	}
	for _, r := range sw.Runs {
		page.Runs = append(page.Runs, sweepRunView{Trigger: r.Trigger.String(), Profile: r.Profile.String(), Seed: fmt.Sprint(r.Seed),
			Outcome: runOutcome(r), Report: path.Join(strings.ReplaceAll(r.Dir, "\\", "/"), results.ReportHTML)})
	}
	return sweepTemplate.Execute(w, page)
}

var sweepTemplate = template.Must(template.New("sweep").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chaoslab bench metastable</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:14px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td{white-space:nowrap}td:first-child,td:nth-child(2),th{text-align:left}tr.tip td{background:#fde0dc}
pre{background:#f6f6f6;padding:1em;font-size:13px;white-space:pre-wrap}
svg text{font-size:12px;font-family:system-ui,sans-serif}
</style></head><body>
<h1>Metastable sweep: P(stuck) by trigger</h1>
<p>{{.Settings}}{{if not .File.Complete}} <strong>The sweep was stopped before every run was made.</strong>{{end}}</p>
{{with .Plot}}<svg xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="P(stuck) against the trigger, one line per profile">
<rect x="{{.Left}}" y="{{.Top}}" width="{{.InnerW}}" height="{{.InnerH}}" fill="#fff" stroke="#999"/>
{{range .YTicks}}<line x1="{{$.Plot.Left}}" x2="{{$.Plot.Right}}" y1="{{.Pos}}" y2="{{.Pos}}" stroke="#eee"/><text x="{{$.Plot.Left}}" dx="-6" y="{{.Pos}}" dy="4" text-anchor="end">{{.Label}}</text>
{{end}}<line x1="{{.Left}}" x2="{{.Right}}" y1="{{.TipY}}" y2="{{.TipY}}" stroke="#d62728" stroke-dasharray="2 3"/><text x="{{.Right}}" dx="-4" y="{{.TipY}}" dy="-4" text-anchor="end" fill="#d62728">tips at 0.5</text>
{{range .XTicks}}<text x="{{.Pos}}" y="{{$.Plot.Bottom}}" dy="18" text-anchor="middle">{{.Label}}</text>
{{end}}<text x="{{.Left}}" y="{{.Top}}" dy="-10">P(stuck)</text><text x="{{.Left}}" dx="{{.InnerW}}" y="{{.Bottom}}" dy="44" text-anchor="end">trigger (service time factor, duration)</text>
{{range .Lines}}<g class="profile"><path d="{{.Path}}" fill="none" stroke="{{.Colour}}" stroke-width="2"{{if .Dash}} stroke-dasharray="{{.Dash}}"{{end}}/>
{{$c := .Colour}}{{range .Points}}<circle cx="{{.X}}" cy="{{.Y}}" r="4" fill="{{$c}}"><title>{{.Title}}</title></circle>
{{end}}{{with .Tip}}<circle cx="{{.X}}" cy="{{.Y}}" r="9" fill="none" stroke="{{$c}}" stroke-width="2"><title>tipping point: {{.Title}}</title></circle>
{{end}}<g transform="translate({{$.Plot.Right}},{{.LegendY}})"><line x1="16" x2="40" y1="0" y2="0" stroke="{{.Colour}}" stroke-width="2"{{if .Dash}} stroke-dasharray="{{.Dash}}"{{end}}/><text x="46" y="4">{{.Name}}</text></g></g>
{{end}}</svg>{{end}}
<p>{{range .Tipping}}{{.}}<br>{{end}}</p>
<h2>Cells</h2>
<table><tr><th>trigger</th><th>profile</th><th>P(stuck)</th><th>stuck</th><th>not measured</th><th>back to 95 %</th><th>back median</th><th>back max</th><th>calls/req after</th><th>answered after</th></tr>
{{range .Rows}}<tr{{if .Tip}} class="tip"{{end}}>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
<h2>Definitions</h2>
<pre>{{.Definitions}}</pre>
<h2>Runs</h2>
<table><tr><th>trigger</th><th>profile</th><th>seed</th><th>outcome</th><th>report</th></tr>
{{range .Runs}}<tr><td>{{.Trigger}}</td><td>{{.Profile}}</td><td>{{.Seed}}</td><td style="text-align:left">{{.Outcome}}</td><td><a href="{{.Report}}">report</a></td></tr>
{{end}}</table>
</body></html>
`))
