package live

import (
	"fmt"
	"slices"
	"time"

	"chaoslab/internal/report"
	"chaoslab/internal/results"
)

// chartEvery is the shortest time between two renders of the chart (and the counters).
const chartEvery = 500 * time.Millisecond

// emptyTotals are the totals of a run without a request.
var emptyTotals = report.PhaseStats{Name: "whole run"}

// drawing is the hub's bookkeeping of renders. A render runs on its own goroutine (a timer's),
// never on a caller of the hub, and only while a viewer is connected.
type drawing struct {
	version   uint64    // bumped by every change the chart or the counters may show
	drawn     uint64    // the version the current chart shows
	epoch     uint64    // bumped when a new run begins: a render of the old one is thrown away
	scheduled bool      // a render is due: its timer is set
	last      time.Time // when the last render began
}

// changedLocked notes new data and schedules a render.
func (h *Hub) changedLocked() {
	h.draw.version++
	h.kickLocked()
}

// kickLocked schedules a render when the chart is behind the data and someone watches, at
// most one every chartEvery.
func (h *Hub) kickLocked() {
	if h.draw.scheduled || h.draw.drawn == h.draw.version || len(h.subs) == 0 {
		return
	}
	h.draw.scheduled = true
	wait := max(h.draw.last.Add(chartEvery).Sub(h.now()), 0)
	h.after(wait, h.render)
}

// render draws the chart and the counters of the run so far and sends them to every viewer.
func (h *Hub) render() {
	h.mu.Lock()
	run := &results.Run{Info: h.runInfoLocked(), Records: slices.Clone(h.records), Events: slices.Clone(h.events),
		Capacity: slices.Clone(h.samples)}
	version, epoch := h.draw.version, h.draw.epoch
	h.draw.last = h.now()
	h.mu.Unlock()

	svg, capSVG, c, err := draw(run)

	h.mu.Lock()
	defer h.mu.Unlock()
	h.draw.scheduled = false
	switch {
	case epoch != h.draw.epoch:
	case err != nil:
		h.log.Warn("live page: cannot draw the chart", "error", err)
		h.draw.drawn = version // not again until the data changes
	case version > h.draw.drawn:
		h.st.Chart, h.st.CapacityChart, h.st.Counters, h.draw.drawn = svg, capSVG, c, version
		h.publishLocked(message{msgChart, chartMsg{SVG: svg, Capacity: capSVG}})
		h.publishLocked(message{msgCounters, c})
	}
	h.kickLocked()
}

// runInfoLocked is the run's settings as the analysis needs them (the load's timeout, the
// topology and the objectives among them): the start is the page's origin.
func (h *Hub) runInfoLocked() results.RunInfo {
	info := h.run
	info.Title, info.Start = h.st.Info.Title, h.originLocked()
	return info
}

// draw analyzes run as the report does and renders its charts with the report's code: the
// timeline, and the goodput and capacity chart ("" when the report would not show it). A panic
// in the analysis of a partial run is returned as an error: the live page must never stop the
// run it shows.
func draw(run *results.Run) (svg, capSVG string, c counters, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("analysis of the run so far: %v", p)
		}
	}()
	run.JoinAttempts()
	a := report.Analyze(run, nil)
	if svg, err = report.ChartSVG(a); err != nil {
		return "", "", counters{}, err
	}
	capSVG, err = report.CapacityChartSVG(a)
	return svg, capSVG, countersOf(a.Total), err
}
