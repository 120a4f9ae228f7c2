package report

import (
	"maps"
	"math"
	"slices"
	"time"

	"chaoslab/internal/results"
)

// waitTolerance is how far outside the jitter range an observed wait may be and still count as
// inside (the waits are logged with millisecond resolution).
const waitTolerance = time.Millisecond

// Schedule is the configured retry schedule, from RunInfo.Retry.
type Schedule struct {
	MaxRetries int           `json:"max_retries"`
	Initial    time.Duration `json:"initial"`
	Multiplier float64       `json:"multiplier"`
	Max        time.Duration `json:"max"`
	Jitter     float64       `json:"jitter"`
}

// Wait returns the nominal wait before retry n (1-based): min(Initial*Multiplier^(n-1), Max).
func (s Schedule) Wait(n int) time.Duration {
	w := float64(s.Initial) * math.Pow(s.Multiplier, float64(n-1))
	if s.Max > 0 && w > float64(s.Max) {
		return s.Max
	}
	return time.Duration(w)
}

// Range returns the allowed range of the wait before retry n: [w*(1-Jitter), w*(1+Jitter)].
func (s Schedule) Range(n int) (lo, hi time.Duration) {
	w := float64(s.Wait(n))
	return time.Duration(w * (1 - s.Jitter)), time.Duration(w * (1 + s.Jitter))
}

// newSchedule is the configured schedule of run.json; nil when it has none.
func newSchedule(r results.RetrySchedule) *Schedule {
	if r.InitialBackoff <= 0 {
		return nil
	}
	s := &Schedule{MaxRetries: r.MaxRetries, Initial: r.InitialBackoff.D(), Multiplier: r.Multiplier,
		Max: r.MaxBackoff.D(), Jitter: r.Jitter}
	if s.Multiplier == 0 {
		s.Multiplier = 1
	}
	return s
}

// RetryWaits is what was seen of the waits before retry number N.
type RetryWaits struct {
	N        int           `json:"n"`
	Count    int           `json:"count"`
	Min      time.Duration `json:"min"`
	Median   time.Duration `json:"median"` // nearest rank
	Max      time.Duration `json:"max"`
	Expected time.Duration `json:"expected"` // the nominal wait; 0 without a schedule
	Low      time.Duration `json:"low"`      // the allowed range, with jitter
	High     time.Duration `json:"high"`
	Below    int           `json:"below"` // shorter than Low: cut to fit the request deadline, or wrong
	Above    int           `json:"above"` // longer than High
}

// Outside returns how many waits fell outside the allowed range.
func (r RetryWaits) Outside() int { return r.Below + r.Above }

// retries fills Schedule and Retries from the retry events.
func (a *Analysis) retries() {
	s := newSchedule(a.Run.Retry)
	a.Schedule = s
	waits := map[int][]time.Duration{}
	for _, e := range a.Events {
		if e.Kind == results.KindRetry {
			waits[e.Attempt] = append(waits[e.Attempt], results.FromMS(e.WaitMS))
		}
	}
	for _, n := range slices.Sorted(maps.Keys(waits)) {
		a.Retries = append(a.Retries, retryWaits(n, waits[n], s))
	}
}

func retryWaits(n int, ws []time.Duration, s *Schedule) RetryWaits {
	slices.Sort(ws)
	r := RetryWaits{N: n, Count: len(ws), Min: ws[0], Max: ws[len(ws)-1]}
	r.Median, _ = Percentile(ws, 50)
	if s == nil {
		return r
	}
	r.Expected = s.Wait(n)
	r.Low, r.High = s.Range(n)
	for _, w := range ws {
		switch {
		case w < r.Low-waitTolerance:
			r.Below++
		case w > r.High+waitTolerance:
			r.Above++
		}
	}
	return r
}
