package report

import (
	"time"

	"chaoslab/internal/results"
)

// Transition is one circuit breaker state change.
type Transition struct {
	Time time.Time     `json:"time"`
	At   time.Duration `json:"at"` // relative to the run start
	From string        `json:"from"`
	To   string        `json:"to"`
}

// BreakerInterval is a stretch of the timeline in one breaker state, [From, To).
type BreakerInterval struct {
	State string    `json:"state"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
}

// Contains reports whether t falls in [From, To).
func (iv BreakerInterval) Contains(t time.Time) bool { return !t.Before(iv.From) && t.Before(iv.To) }

// breaker fills Transitions, Intervals, FinalBreaker and WhileOpen.
func (a *Analysis) breaker() {
	for _, e := range a.Events {
		if e.Kind == results.KindBreaker {
			a.Transitions = append(a.Transitions, Transition{Time: e.Time, At: a.Rel(e.Time), From: e.From, To: e.To})
		}
	}
	if !a.BreakerEnabled && len(a.Transitions) == 0 {
		a.WhileOpen = statsOf("while OPEN", nil)
		return
	}
	a.BreakerEnabled = true
	state, since := results.BreakerClosed, a.Origin
	for _, t := range a.Transitions {
		if t.Time.After(since) {
			a.Intervals = append(a.Intervals, BreakerInterval{State: state, From: since, To: t.Time})
		}
		state, since = t.To, t.Time
	}
	if a.End.After(since) {
		a.Intervals = append(a.Intervals, BreakerInterval{State: state, From: since, To: a.End})
	}
	a.FinalBreaker = state
	a.WhileOpen = statsOf("while OPEN", a.recordsIn(results.BreakerOpen))
}

// recordsIn returns the records sent (Start + SendLag: the moment the request left the load)
// in an interval of the given state. An OPEN interval ends at the logged move to HALF_OPEN or
// when the breaker's wait (RunInfo.CBWait) ran out, whichever is first: failsafe-go moves to
// HALF_OPEN, and logs it, only when the next call arrives after the wait, and that call, sent a
// moment before the line's time stamp, met HALF_OPEN, not OPEN. For the same reason a request
// that made a backend call (Attempts > 0) is never counted while OPEN: the breaker let it through,
// whatever the time stamps of a loaded machine say; one the breaker rejected made none, however
// long its retries waited.
func (a *Analysis) recordsIn(state string) []results.Record {
	var out []results.Record
	for _, r := range a.Records {
		if state == results.BreakerOpen && r.Attempts > 0 {
			continue
		}
		sent := r.Start.Add(r.SendLag)
		for _, iv := range a.Intervals {
			if state == results.BreakerOpen && a.Run.CBWait > 0 {
				if end := iv.From.Add(a.Run.CBWait.D()); end.Before(iv.To) {
					iv.To = end
				}
			}
			if iv.State == state && iv.Contains(sent) {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// StateAt returns the breaker state at t ("" without a breaker).
func (a *Analysis) StateAt(t time.Time) string {
	for _, iv := range a.Intervals {
		if iv.Contains(t) {
			return iv.State
		}
	}
	return ""
}

// detection fills the four detection and recovery times.
func (a *Analysis) detection() {
	if a.FaultOn != nil {
		a.FirstFallbackAfterFault = a.firstAnswer(results.SourceFallback, *a.FaultOn)
		a.OpenAfterFault = a.firstTransition(results.BreakerOpen, *a.FaultOn)
	}
	if a.FaultOff != nil {
		a.FirstBackendAfterHeal = a.firstAnswer(results.SourceBackend, *a.FaultOff)
		a.ClosedAfterHeal = a.firstTransition(results.BreakerClosed, *a.FaultOff)
	}
}

// firstAnswer returns the time from since to the earliest completion of a record of the given
// source whose Start is at or after since.
func (a *Analysis) firstAnswer(source string, since time.Time) *time.Duration {
	var best *time.Duration
	for _, r := range a.Records {
		if r.Source != source || r.Start.Before(since) {
			continue
		}
		d := r.Start.Add(r.Latency).Sub(since)
		if best == nil || d < *best {
			best = &d
		}
	}
	return best
}

// firstTransition returns the time from since to the first transition to state at or after it.
func (a *Analysis) firstTransition(state string, since time.Time) *time.Duration {
	for _, t := range a.Transitions {
		if t.To == state && !t.Time.Before(since) {
			d := t.Time.Sub(since)
			return &d
		}
	}
	return nil
}
