package report

import (
	"slices"
	"time"

	"chaoslab/internal/results"
)

// PhaseStats is what the requests of one phase (or another group of requests) looked like.
//
// Requests counts every request offered (scheduled), dropped ones included, and the percentages
// are of them: a dropped request is not answered. Latencies are of the requests sent (Sent);
// amplification is of the requests sent whose attempt count is known. A number that has no
// request to be made of is zero, and the report shows "n/a".
type PhaseStats struct {
	Name            string        `json:"name"`
	From            time.Time     `json:"from"`     // the phase's start (zero for groups that are not phases)
	To              time.Time     `json:"to"`       // the phase's end
	Requests        int           `json:"requests"` // requests whose scheduled Start falls in the phase
	Sent            int           `json:"sent"`     // Requests minus Dropped
	OK200           int           `json:"ok_200"`   // answered with status 200 (backend or fallback)
	Backend         int           `json:"backend"`  // answered by the backend
	Fallbacks       int           `json:"fallbacks"`
	Errors          int           `json:"errors"`   // sent, no usable answer: non-200, timeout, refused
	Timeouts        int           `json:"timeouts"` // errors without any HTTP status (status 0)
	Dropped         int           `json:"dropped"`  // never sent: the load's in-flight cap was reached
	PctOK200        float64       `json:"pct_ok_200"`
	PctFallback     float64       `json:"pct_fallback"`
	PctErrors       float64       `json:"pct_errors"`
	PctDropped      float64       `json:"pct_dropped"`
	P50             time.Duration `json:"p50"`
	P90             time.Duration `json:"p90"`
	P99             time.Duration `json:"p99"`
	Max             time.Duration `json:"max"`
	MaxSendLag      time.Duration `json:"max_send_lag"`     // the longest the load was late sending one
	Attempts        int           `json:"attempts"`         // sum of the known attempt counts
	KnownAttempts   int           `json:"known_attempts"`   // requests sent whose attempt count is known
	UnknownAttempts int           `json:"unknown_attempts"` // requests sent whose attempt count is not known
	Amplification   float64       `json:"amplification"`    // Attempts / KnownAttempts
	Retries         int           `json:"retries"`          // retry events whose time falls in the phase
}

// Empty reports whether the group has no request.
func (p PhaseStats) Empty() bool { return p.Requests == 0 }

// Percentile returns the nearest-rank percentile p (0 < p <= 100) of sorted latencies:
// sorted[ceil(p/100*n)-1]. It returns false for an empty slice.
func Percentile(sorted []time.Duration, p float64) (time.Duration, bool) {
	n := len(sorted)
	if n == 0 {
		return 0, false
	}
	rank := int(ceilDiv(p*float64(n), 100))
	rank = min(max(rank, 1), n)
	return sorted[rank-1], true
}

// ceilDiv returns ceil(x/d), robust to float error when x/d is a whole number.
func ceilDiv(x, d float64) float64 {
	q := x / d
	r := float64(int(q))
	if q-r > 1e-9 {
		return r + 1
	}
	return r
}

// statsOf computes the numbers of one group of records.
func statsOf(name string, recs []results.Record) PhaseStats {
	s := PhaseStats{Name: name, Requests: len(recs)}
	lat := make([]time.Duration, 0, len(recs))
	for _, r := range recs {
		s.count(r)
		if r.Answered() {
			lat = append(lat, r.Latency)
		}
	}
	if s.Requests == 0 {
		return s
	}
	n := float64(s.Requests)
	s.PctOK200 = 100 * float64(s.OK200) / n
	s.PctFallback = 100 * float64(s.Fallbacks) / n
	s.PctErrors = 100 * float64(s.Errors) / n
	s.PctDropped = 100 * float64(s.Dropped) / n
	if s.KnownAttempts > 0 {
		s.Amplification = float64(s.Attempts) / float64(s.KnownAttempts)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		s.P50, _ = Percentile(lat, 50)
		s.P90, _ = Percentile(lat, 90)
		s.P99, _ = Percentile(lat, 99)
		s.Max = lat[len(lat)-1]
	}
	return s
}

func (s *PhaseStats) count(r results.Record) {
	if r.Status == 200 {
		s.OK200++
	}
	switch r.Source {
	case results.SourceDropped:
		s.Dropped++
		return // not sent: no latency, no attempts, no send lag
	case results.SourceBackend:
		s.Backend++
	case results.SourceFallback:
		s.Fallbacks++
	default:
		s.Errors++
		if r.Status == 0 {
			s.Timeouts++
		}
	}
	s.Sent++
	s.MaxSendLag = max(s.MaxSendLag, r.SendLag)
	if r.Attempts == results.UnknownAttempts {
		s.UnknownAttempts++
		return
	}
	s.Attempts += r.Attempts
	s.KnownAttempts++
}

// phaseOf returns the index (0 before, 1 during, 2 after) of the phase that t falls in.
func (a *Analysis) phaseOf(t time.Time) int {
	switch {
	case a.FaultOn == nil || t.Before(*a.FaultOn):
		return 0
	case a.FaultOff == nil || t.Before(*a.FaultOff):
		return 1
	default:
		return 2
	}
}

// phases fills Phases and Total.
func (a *Analysis) phases() {
	var groups [3][]results.Record
	for _, r := range a.Records {
		i := a.phaseOf(r.Start)
		groups[i] = append(groups[i], r)
	}
	names := [3]string{PhaseBefore, PhaseDuring, PhaseAfter}
	from, to := a.phaseBounds()
	a.Phases = make([]PhaseStats, 3)
	for i := range groups {
		a.Phases[i] = statsOf(names[i], groups[i])
		a.Phases[i].From, a.Phases[i].To = from[i], to[i]
	}
	for _, e := range a.Events {
		if e.Kind == results.KindRetry {
			a.Phases[a.phaseOf(e.Time)].Retries++
		}
	}
	a.Total = statsOf("total", a.Records)
	a.Fallbacks = statsOf("fallbacks", filter(a.Records, func(r results.Record) bool { return r.Source == results.SourceFallback }))
	a.Reasons = reasons(a.Records)
	for _, p := range a.Phases {
		a.Total.Retries += p.Retries
	}
}

// phaseBounds returns the start and end of each phase; a phase that does not exist has
// equal bounds.
func (a *Analysis) phaseBounds() (from, to [3]time.Time) {
	start, end := a.Origin, a.End
	if len(a.Records) > 0 {
		start = a.Records[0].Start
	}
	on, off := end, end
	if a.FaultOn != nil {
		on = *a.FaultOn
		if a.FaultOff != nil {
			off = *a.FaultOff
		}
	}
	return [3]time.Time{start, on, off}, [3]time.Time{on, off, end}
}

func filter(recs []results.Record, keep func(results.Record) bool) []results.Record {
	var out []results.Record
	for _, r := range recs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// maxReasons is how many distinct failure reasons the report lists.
const maxReasons = 6

// Reason is one error text that fallbacks, errors or dropped requests carried, and how often.
type Reason struct {
	Source string `json:"source"` // SourceFallback, SourceError or SourceDropped
	Error  string `json:"error"`
	Count  int    `json:"count"`
}

// reasons counts the error texts of every request not answered by the backend, most frequent
// first.
func reasons(recs []results.Record) []Reason {
	idx := map[[2]string]int{}
	var out []Reason
	for _, r := range recs {
		if r.Source == results.SourceBackend {
			continue
		}
		k := [2]string{r.Source, orNA(r.Error)}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, Reason{Source: k[0], Error: k[1]})
		}
		out[i].Count++
	}
	slices.SortStableFunc(out, func(x, y Reason) int { return y.Count - x.Count })
	return out[:min(len(out), maxReasons)]
}
