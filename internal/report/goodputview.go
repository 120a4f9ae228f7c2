package report

import (
	"fmt"
	"math"
	"time"
)

// goodputView is section 4.7 of a run's report: the goodput figures, the backend's capacity
// and, for report.md, both over time.
type goodputView struct {
	Figures []kv
	Backend []kv         // nil without capacity samples
	Rows    []goodputRow // over time, Window seconds a row
	Window  string       // "5 s"
}

// goodputRow is a window of the goodput's grid: the means per second of its whole seconds and
// what the capacity samples taken in it said.
type goodputRow struct {
	At, Offered, Good, Queued, InService, Rejected, Wasted, Expired string
}

// maxGoodputRows is the most rows report.md's table over time has.
const maxGoodputRows = 40

// newGoodputView formats the goodput and the capacity of a; nil when it does not show them.
func newGoodputView(a *Analysis) *goodputView {
	if !a.ShowsGoodput() || a.Goodput == nil {
		return nil
	}
	v := &goodputView{Figures: goodputFigures(a), Backend: capacityRows(a.Capacity)}
	v.Rows, v.Window = goodputRows(a)
	return v
}

// goodputFigures are the goodput's figures relative to the trigger, each saying what it counts.
func goodputFigures(a *Analysis) []kv {
	g := a.Goodput
	deadline := "any latency (the run gave no load timeout)"
	if g.Deadline > 0 {
		deadline = "latency at most " + FormatDuration(g.Deadline) + " (the load's timeout)"
	}
	before := NA
	if g.Before != nil {
		before = formatRate(*g.Before)
	}
	rows := []kv{
		{"goodput", "backend answers 200, " + deadline, "per second, each request in the second of its scheduled arrival"},
		{"goodput before the fault", before, "mean of the " + pluralOf(g.BeforeSeconds, "whole second", "whole seconds") + " before the fault"},
		{"measured after the heal", formatSeconds(g.After), "whole seconds of load after the fault's removal"},
		{"stuck", stuckText(g), fmt.Sprintf("goodput below %s of before in each of the first %d s after the heal", formatShare(g.Params.StuckBelow), wholeSeconds(g.Params.StuckFor))},
		{"heal → goodput back to " + formatShare(g.Params.BackAt), backText(g), fmt.Sprintf("to the start of the first %d s in a row each at least %s of before", wholeSeconds(g.Params.BackHold), formatShare(g.Params.BackAt))},
	}
	if g.Why != "" {
		rows = append(rows, kv{"not measured", g.Why, ""})
	}
	return rows
}

// stuckText is Stuck for a person: "yes", "no" or "not measured".
func stuckText(g *Goodput) string {
	if g.Stuck == nil {
		return "not measured"
	}
	return yesNo(*g.Stuck)
}

// backText is BackTo95 for a person.
func backText(g *Goodput) string {
	switch {
	case g.BackTo95 != nil:
		return formatNumber(g.BackTo95.Seconds()) + " s"
	case g.NotBack:
		return "not back within the " + formatSeconds(g.After) + " measured"
	}
	return "not measured"
}

// capacityRows are the backend's capacity settings and counters; nil without samples.
func capacityRows(c *CapacityStats) []kv {
	if c == nil {
		return nil
	}
	f := c.First
	workers := fmt.Sprint(f.Workers)
	if f.Workers == 0 {
		workers = "unlimited"
	}
	rows := []kv{
		{"capacity at the start", fmt.Sprintf("%s workers, queue %d (%s), service time %s × %g", workers, f.QueueLimit, f.QueueOrder, f.ServiceTime, f.Factor), "GET /api/capacity of backend-service"},
		{"samples", fmt.Sprint(len(c.Samples)), "about one a second, and at the start and the end of the run"},
		{"completed", fmt.Sprint(c.Completed), "served for a caller still waiting, from the first sample to the last"},
		{"wasted", fmt.Sprint(c.Wasted), "served (in full or until the deadline) for a caller that had gone"},
		{"rejected", fmt.Sprint(c.Rejected), "queue full: 503 at once"},
		{"expired", fmt.Sprint(c.Expired), "dropped from the queue at their deadline"},
		{"largest queue sampled", fmt.Sprint(c.MaxQueued), fmt.Sprintf("in service at most %d", c.MaxInService)},
	}
	if c.Restarts > 0 {
		rows = append(rows, kv{"restarts", fmt.Sprint(c.Restarts), "the counters went down: the backend restarted; the totals are at least these"})
	}
	return rows
}

// goodputRows aggregates the grid's seconds into at most maxGoodputRows windows of a round
// number of seconds, with the capacity samples taken in each window.
func goodputRows(a *Analysis) ([]goodputRow, string) {
	secs := a.Goodput.Seconds
	if len(secs) == 0 {
		return nil, ""
	}
	w := 1
	for _, n := range []int{1, 2, 5, 10, 15, 30, 60, 120, 300} {
		if w = n; (len(secs)+n-1)/n <= maxGoodputRows {
			break
		}
	}
	var rows []goodputRow
	for i := 0; i < len(secs); i += w {
		win := secs[i:min(i+w, len(secs))]
		from, to := win[0].From, win[len(win)-1].From.Add(time.Second)
		offered, good := 0, 0
		for _, s := range win {
			offered, good = offered+s.Offered, good+s.Good
		}
		n := float64(len(win))
		r := goodputRow{At: FormatOffset(a.Rel(from)), Offered: formatRate(float64(offered) / n), Good: formatRate(float64(good) / n),
			Queued: "—", InService: "—", Rejected: "—", Wasted: "—", Expired: "—"}
		if a.Capacity != nil {
			capacityCells(&r, a.Capacity.Points, from, to)
		}
		rows = append(rows, r)
	}
	return rows, fmt.Sprintf("%d s", w)
}

// capacityCells fills r from the samples taken in [from, to): the largest levels, and the rates
// over the intervals that end in it.
func capacityCells(r *goodputRow, pts []CapacityPoint, from, to time.Time) {
	queued, service := -1, -1
	var rej, wst, exp, secs float64
	for i, p := range pts {
		if p.Time.Before(from) || !p.Time.Before(to) {
			continue
		}
		queued, service = max(queued, p.Queued), max(service, p.InService)
		if p.Rates {
			dt := p.Time.Sub(pts[i-1].Time).Seconds()
			rej, wst, exp, secs = rej+p.RejectedPerS*dt, wst+p.WastedPerS*dt, exp+p.ExpiredPerS*dt, secs+dt
		}
	}
	if queued >= 0 {
		r.Queued, r.InService = fmt.Sprint(queued), fmt.Sprint(service)
	}
	if secs > 0 {
		r.Rejected, r.Wasted, r.Expired = formatRate(math.Round(rej)/secs), formatRate(math.Round(wst)/secs), formatRate(math.Round(exp)/secs)
	}
}

// goodputDefinition is the definition a report with the goodput adds to the others, with the
// run's thresholds p.
func goodputDefinition(p GoodputParams) string {
	return fmt.Sprintf("Goodput (a run whose backend had its capacity model on, or with a goodput objective): per second, the load's requests the backend answered with 200 (not a fallback) within the request's deadline, the load's timeout, its latency counted from the scheduled arrival; a request counts in the second of its scheduled arrival. The seconds are whole seconds on a grid that starts at the fault's removal (at the load's first arrival without one), kept only where the load offered requests throughout. Before = the mean over the whole seconds before the fault. Stuck = goodput below %s of before in each of the first %d s after the removal; back to %s = from the removal to the start of the first %d s in a row each at least %s of before. Either is not measured when the run has too few seconds after the removal, or no level before. The backend's figures are read from its GET /api/capacity about once a second: levels (queued, in service) at each sample, and rates per second of its counters (rejected, wasted, expired) between consecutive samples.",
		formatShare(p.StuckBelow), wholeSeconds(p.StuckFor), formatShare(p.BackAt), wholeSeconds(p.BackHold), formatShare(p.BackAt))
}
