package report

import (
	"cmp"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"chaoslab/internal/results"
)

// Causes of a backend call that did not succeed, from its error text (callCause).
const (
	causeStatus      = "status"       // the backend (or the fault injector) answered a status that is not 2xx
	causeRefused     = "refused"      // connection refused
	causeReset       = "reset"        // connection reset by peer, or EOF
	causeTimeout     = "timeout"      // ATTEMPT_TIMEOUT or the request deadline, before the answer's headers
	causeBodyTimeout = "body-timeout" // a timeout while reading the answer's body
	causeOther       = "other"
)

// statusPattern finds the status in a StatusError's text: "backend answered 503: reason".
var statusPattern = regexp.MustCompile(`backend answered (\d{3})\b`) // read-only

// callCause classifies the error text of a backend call. The order matters: a status answer may
// quote a reason that mentions a timeout. A 5xx whose reason says the connection was refused is
// a refused connection: the proxy in the data path (the lab's L7 injector, an Envoy sidecar)
// answered it because the backend was not listening.
func callCause(err string) (cause string, status int) {
	low := strings.ToLower(err)
	if m := statusPattern.FindStringSubmatch(err); m != nil {
		if strings.Contains(low, "connection refused") && strings.HasPrefix(m[1], "5") {
			return causeRefused, 0
		}
		status, _ = strconv.Atoi(m[1])
		return causeStatus, status
	}
	switch {
	case strings.Contains(low, "connection refused"):
		return causeRefused, 0
	case strings.Contains(low, "connection reset"), low == "eof", strings.HasSuffix(low, ": eof"),
		strings.Contains(low, "unexpected eof"):
		return causeReset, 0
	case strings.Contains(low, "timeout"), strings.Contains(low, "timed out"), strings.Contains(low, "deadline"):
		if strings.Contains(low, "reading the backend answer") {
			return causeBodyTimeout, 0
		}
		return causeTimeout, 0
	}
	return causeOther, 0
}

// StatusCount is how many backend calls got one HTTP status.
type StatusCount struct {
	Status int `json:"status"`
	Count  int `json:"count"`
}

// CallStats is what the backend calls of one phase looked like: the client's attempt events
// (one per call). A call belongs to the phase of its start (the event's time minus its
// duration). The causes are read from the error texts (see callCause); a call its caller cut
// short (outcome ignored) has none.
type CallStats struct {
	Name         string        `json:"name"`
	Attempts     int           `json:"attempts"`      // calls made
	Succeeded    int           `json:"succeeded"`     // outcome success without an error: a 2xx answer
	Failed       int           `json:"failed"`        // outcome failure: what the breaker counts against the backend
	Ignored      int           `json:"ignored"`       // cut short by the caller
	TimedOut     int           `json:"timed_out"`     // ended by ATTEMPT_TIMEOUT or the request deadline
	BodyTimeouts int           `json:"body_timeouts"` // of TimedOut: while reading the answer's body
	HTTPErrors   int           `json:"http_errors"`   // answered with a status that is not 2xx
	Statuses     []StatusCount `json:"statuses"`      // HTTPErrors by status, most frequent first
	Refused      int           `json:"refused"`       // connection refused
	Reset        int           `json:"reset"`         // connection reset by peer, or EOF
	OtherErrors  int           `json:"other_errors"`  // any other error
	SuccessP50   time.Duration `json:"success_p50"`   // durations of the successful calls, nearest rank
	SuccessP99   time.Duration `json:"success_p99"`
	SuccessMax   time.Duration `json:"success_max"`
	SlowAbove    time.Duration `json:"slow_above"`   // the before phase's SuccessP99; 0 when it has no success
	Slow         int           `json:"slow"`         // successful calls slower than SlowAbove
	ResetP50     time.Duration `json:"reset_p50"`    // the median duration of the reset calls
	RefusedP50   time.Duration `json:"refused_p50"`  // the median duration of the refused calls
	FailedCalls  int           `json:"failed_calls"` // failed calls of the phase's requests (by request Start) known by id
	// FailedRequests counts the requests of the phase (by their scheduled Start) that had at
	// least one failed call; Absorbed, those of them the backend answered in the end: a retry
	// absorbed the error.
	FailedRequests int `json:"failed_requests"`
	Absorbed       int `json:"absorbed"`
}

// HeaderTimeouts is the timeouts before the answer's headers: TimedOut without the body ones.
func (c CallStats) HeaderTimeouts() int { return c.TimedOut - c.BodyTimeouts }

// StatusShare is the percentage of the calls answered with an HTTP error (0 without calls).
func (c CallStats) StatusShare() float64 {
	if c.Attempts == 0 {
		return 0
	}
	return 100 * float64(c.HTTPErrors) / float64(c.Attempts)
}

// callSamples are the durations a phase's calls are summarised from.
type callSamples struct {
	success, reset, refused []time.Duration
	statuses                map[int]int
}

// calls fills Calls: before, during and after, from the attempt events.
func (a *Analysis) calls() {
	a.Calls = make([]CallStats, 3)
	samples := make([]callSamples, 3)
	names := [3]string{PhaseBefore, PhaseDuring, PhaseAfter}
	for i := range a.Calls {
		a.Calls[i].Name = names[i]
		samples[i].statuses = map[int]int{}
	}
	for _, e := range a.Events {
		if e.Kind != results.KindAttempt {
			continue
		}
		i := a.phaseOf(e.Time.Add(-results.FromMS(e.DurationMS)))
		a.Calls[i].count(e, &samples[i])
	}
	a.Calls[0].summarise(samples[0], 0) // before: the reference for slow calls, judged by none
	for i := 1; i < len(a.Calls); i++ {
		a.Calls[i].summarise(samples[i], a.Calls[0].SuccessP99)
	}
	a.absorbed()
}

func (c *CallStats) count(e results.Event, s *callSamples) {
	c.Attempts++
	d := results.FromMS(e.DurationMS)
	switch e.Outcome {
	case results.OutcomeIgnored:
		c.Ignored++
		return
	case results.OutcomeFailure:
		c.Failed++
	}
	if e.Error == "" {
		if e.Outcome == results.OutcomeSuccess {
			c.Succeeded++
			s.success = append(s.success, d)
		}
		return
	}
	cause, status := callCause(e.Error)
	switch cause {
	case causeStatus:
		c.HTTPErrors++
		s.statuses[status]++
	case causeRefused:
		c.Refused++
		s.refused = append(s.refused, d)
	case causeReset:
		c.Reset++
		s.reset = append(s.reset, d)
	case causeBodyTimeout:
		c.TimedOut++
		c.BodyTimeouts++
	case causeTimeout:
		c.TimedOut++
	default:
		c.OtherErrors++
	}
}

// summarise computes the percentiles and the slow calls (slower than slowAbove, if set).
func (c *CallStats) summarise(s callSamples, slowAbove time.Duration) {
	c.SuccessP50, c.SuccessP99, c.SuccessMax = percentiles(s.success)
	c.ResetP50, _, _ = percentiles(s.reset)
	c.RefusedP50, _, _ = percentiles(s.refused)
	if slowAbove > 0 {
		c.SlowAbove = slowAbove
		for _, d := range s.success {
			if d > slowAbove {
				c.Slow++
			}
		}
	}
	for st, n := range s.statuses {
		c.Statuses = append(c.Statuses, StatusCount{Status: st, Count: n})
	}
	slices.SortFunc(c.Statuses, func(x, y StatusCount) int {
		return cmp.Or(y.Count-x.Count, x.Status-y.Status)
	})
}

// percentiles returns the nearest-rank p50, p99 and the max of ds (zeros when empty); it sorts
// ds.
func percentiles(ds []time.Duration) (p50, p99, maxD time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	slices.Sort(ds)
	p50, _ = Percentile(ds, 50)
	p99, _ = Percentile(ds, 99)
	return p50, p99, ds[len(ds)-1]
}

// absorbed counts, per phase of the requests' Start, the requests with a failed call and those
// of them the backend answered in the end (the calls name their request by id).
func (a *Analysis) absorbed() {
	failed := map[uint64]int{}
	for _, e := range a.Events {
		if e.Kind == results.KindAttempt && e.Outcome == results.OutcomeFailure && e.RequestID != 0 {
			failed[e.RequestID]++
		}
	}
	for _, r := range a.Records {
		n, ok := failed[r.ID]
		if !ok || r.ID == 0 {
			continue
		}
		c := &a.Calls[a.phaseOf(r.Start)]
		c.FailedRequests++
		c.FailedCalls += n
		if r.Source == results.SourceBackend {
			c.Absorbed++
		}
	}
}

// StatusList formats the statuses: "503 ×120, 500 ×3".
func (c CallStats) StatusList() string {
	parts := make([]string, len(c.Statuses))
	for i, s := range c.Statuses {
		parts[i] = strconv.Itoa(s.Status) + " ×" + strconv.Itoa(s.Count)
	}
	return strings.Join(parts, ", ")
}
