package report

import (
	"maps"
	"slices"
	"time"

	"chaoslab/internal/results"
)

// CapacityStats is the backend's capacity model as the lab sampled it (capacity.csv): the
// levels at each sample and, between two samples, the rate of each counter. A counter that went
// down between two samples means the backend restarted (its counters start at 0 again): that
// interval counts the new process's value, so what the old one counted in it after the previous
// sample is lost, and the totals are at least what happened.
type CapacityStats struct {
	Samples []results.CapacitySample // in time order
	Points  []CapacityPoint          // one per sample, in time order
	First   results.CapacitySample   // the first sample: the settings the run started with

	// From the first sample to the last, the sum of each counter's increase between samples.
	Rejected, Expired, Completed, Wasted int64
	MaxQueued, MaxInService              int // the largest levels sampled
	Restarts                             int // intervals in which a counter went down
}

// CapacityPoint is one sample: its levels, and each counter's increase per second since the
// previous sample (Rates false for the first sample, which has none before it).
type CapacityPoint struct {
	Time                                                 time.Time
	Workers                                              int
	Factor                                               float64
	InService, Queued                                    int
	Rates                                                bool
	RejectedPerS, ExpiredPerS, CompletedPerS, WastedPerS float64
	Restarted                                            bool // a counter went down since the previous sample
}

// capacityOf computes the stats of samples; nil without any (the model was off).
func capacityOf(samples []results.CapacitySample) *CapacityStats {
	if len(samples) == 0 {
		return nil
	}
	c := &CapacityStats{Samples: slices.Clone(samples)}
	slices.SortStableFunc(c.Samples, func(x, y results.CapacitySample) int { return x.Time.Compare(y.Time) })
	for i, s := range c.Samples {
		p := CapacityPoint{Time: s.Time, Workers: s.Workers, Factor: s.Factor, InService: s.InService, Queued: s.Queued}
		c.MaxQueued, c.MaxInService = max(c.MaxQueued, s.Queued), max(c.MaxInService, s.InService)
		if i > 0 {
			c.interval(&p, c.Samples[i-1], s)
		}
		c.Points = append(c.Points, p)
	}
	c.First = c.Samples[0]
	return c
}

// interval sets p's rates from prev to s and adds the increases to the totals.
func (c *CapacityStats) interval(p *CapacityPoint, prev, s results.CapacitySample) {
	base := prev
	p.Restarted = s.Rejected < prev.Rejected || s.Expired < prev.Expired || s.Completed < prev.Completed || s.Wasted < prev.Wasted
	if p.Restarted {
		c.Restarts++
		base = results.CapacitySample{} // the new process counts from 0
	}
	dr, de, dc, dw := s.Rejected-base.Rejected, s.Expired-base.Expired, s.Completed-base.Completed, s.Wasted-base.Wasted
	c.Rejected, c.Expired, c.Completed, c.Wasted = c.Rejected+dr, c.Expired+de, c.Completed+dc, c.Wasted+dw
	dt := s.Time.Sub(prev.Time).Seconds()
	if dt <= 0 {
		return
	}
	p.Rates = true
	p.RejectedPerS, p.ExpiredPerS, p.CompletedPerS, p.WastedPerS = float64(dr)/dt, float64(de)/dt, float64(dc)/dt, float64(dw)/dt
}

// TierBreaker is one tier's circuit breaker over the run, for the capacity chart's bands: the
// entry client's without a topology (Tier ""), every tier's with one.
type TierBreaker struct {
	Tier      string            // "" without a topology
	Enabled   bool              // the tier has a breaker (its RESILIENCE, or it logged a transition)
	Intervals []BreakerInterval // CLOSED from the run start, then each transition it logged
}

// tierBreakers lays out the breaker of every tier from all the run's events: without a
// topology the timeline the analysis already has; with one, each tier (highest layer first)
// from its own breaker records.
func (a *Analysis) tierBreakers(all []results.Event) []TierBreaker {
	topo := a.Run.Topology
	if topo == nil {
		return []TierBreaker{{Enabled: a.BreakerEnabled, Intervals: a.Intervals}}
	}
	env := map[string]map[string]string{}
	for _, t := range topo.Tiers {
		env[t.Name] = t.Env
	}
	var out []TierBreaker
	for _, layer := range topo.Layers {
		for _, tier := range layer {
			if _, ok := env[tier]; !ok {
				continue // the backend
			}
			out = append(out, a.tierBreaker(tier, all, env[tier]))
		}
	}
	return out
}

// tierBreaker is one tier's timeline, from its breaker records.
func (a *Analysis) tierBreaker(tier string, all []results.Event, own map[string]string) TierBreaker {
	resilience := a.Run.Resilience
	if r, ok := own["RESILIENCE"]; ok {
		resilience = r
	}
	tb := TierBreaker{Tier: tier, Enabled: results.HasBreaker(resilience)}
	state, since := results.BreakerClosed, a.Origin
	for _, e := range all {
		if e.Kind != results.KindBreaker || e.Tier != tier {
			continue
		}
		tb.Enabled = true
		if e.Time.After(since) {
			tb.Intervals = append(tb.Intervals, BreakerInterval{State: state, From: since, To: e.Time})
		}
		state, since = e.To, e.Time
	}
	if tb.Enabled && a.End.After(since) {
		tb.Intervals = append(tb.Intervals, BreakerInterval{State: state, From: since, To: a.End})
	}
	if !tb.Enabled {
		tb.Intervals = nil
	}
	return tb
}

// goodputObjectives are the objectives that bound a goodput figure: a run that has one shows
// the goodput even without the capacity model.
func goodputObjectives() map[string]bool {
	return map[string]bool{objHealToGoodput: true, objGoodputStuck: true}
}

// ShowsGoodput says whether the run's outputs show the goodput and the backend's capacity: when
// the backend ran with its capacity model (capacity samples exist) or an objective bounds a
// goodput figure. Otherwise every output is what it was before goodput existed.
func (a *Analysis) ShowsGoodput() bool {
	if a.Capacity != nil {
		return true
	}
	for name := range maps.Keys(a.Run.Objectives) {
		if goodputObjectives()[name] {
			return true
		}
	}
	return false
}
