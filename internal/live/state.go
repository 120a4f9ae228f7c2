package live

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"chaoslab/internal/report"
	"chaoslab/internal/resilience"
	"chaoslab/internal/results"
)

// maxLog is how many of the last retry, breaker and fallback lines the page keeps.
const maxLog = 100

// breakerNone is the breaker state shown for a run without a breaker (RESILIENCE=off).
const breakerNone = "none"

// state is everything the page shows, derived from what the run reported. Its JSON is the
// "snapshot" message.
type state struct {
	Info       infoView   `json:"info"`
	Status     status     `json:"status"`
	Counters   counters   `json:"counters"`
	Activities []activity `json:"activities"`
	Log        []logLine  `json:"log"`
	Chart      string     `json:"chart"` // the SVG timeline; "" until the first render
	// CapacityChart is the SVG of the goodput and the backend's capacity (report.html's second
	// chart); "" until the first render that has capacity samples.
	CapacityChart string    `json:"capacity_chart,omitempty"`
	Done          *doneView `json:"done"` // nil while the run goes
}

// clone returns a copy that shares nothing mutable with s.
func (s state) clone() state {
	s.Activities = slices.Clone(s.Activities)
	s.Log = slices.Clone(s.Log)
	s.Status = s.Status.clone()
	if s.Done != nil {
		d := *s.Done
		s.Done = &d
	}
	return s
}

// infoView is the part of results.RunInfo the page shows.
type infoView struct {
	Title      string    `json:"title"`
	Label      string    `json:"label,omitempty"`
	Experiment string    `json:"experiment,omitempty"`
	Stack      string    `json:"stack,omitempty"`
	Resilience string    `json:"resilience,omitempty"`
	RPS        float64   `json:"rps"`
	Start      time.Time `json:"start"`
}

func newInfoView(info results.RunInfo) infoView {
	title := info.Title
	if title == "" {
		title = "chaoslab run"
	}
	return infoView{Title: title, Label: info.Label, Experiment: info.Experiment, Stack: info.Stack,
		Resilience: info.Resilience, RPS: info.RPS, Start: info.Start}
}

// status is the run's state now: the phase, the breaker, the fault in effect.
type status struct {
	Phase   string     `json:"phase"`   // the lab's phase (starting, warmup, experiment, recovery, done); "" before the first
	Breaker string     `json:"breaker"` // CLOSED, OPEN or HALF_OPEN from the breaker events; "none" without a breaker
	Fault   *faultView `json:"fault"`   // nil: no fault in effect
}

// clone returns a copy that shares nothing mutable with s.
func (s status) clone() status {
	if s.Fault != nil {
		f := *s.Fault
		s.Fault = &f
	}
	return s
}

// faultView is the fault in effect.
type faultView struct {
	Kind   string `json:"kind"`   // the event's Name: partition, latency, http-errors, ...
	Detail string `json:"detail"` // the event's Message: what is in effect and its parameters
	Since  string `json:"since"`  // when it came into effect, from the run start: "+12.3s"
}

// activity is one experiment activity, from its start and end events.
type activity struct {
	Index  int    `json:"index"` // its place in the list: an "end" updates the activity of that index
	Name   string `json:"name"`
	Phase  string `json:"phase"`  // the experiment's phase: steady-state-before, method, ...
	Status string `json:"status"` // running, then the end's status (succeeded, failed), or "ended"
	Start  string `json:"start"`  // "+12.3s"
	End    string `json:"end,omitempty"`
	Error  string `json:"error,omitempty"`
}

// logLine is a retry, breaker or fallback event written as the client logs it.
type logLine struct {
	At     string `json:"at"`               // "+12.3s"
	Kind   string `json:"kind"`             // retry, breaker or fallback
	Text   string `json:"text"`             // the line operators grep for
	Detail string `json:"detail,omitempty"` // the attributes that go with it: wait, error, request id
}

// counters are the run's totals as the report counts them (report.Analysis.Total).
type counters struct {
	Requests      int    `json:"requests"` // offered by the load
	Answered      int    `json:"answered"` // answered 200 (backend or fallback)
	Backend       int    `json:"backend"`
	Fallback      int    `json:"fallback"`
	Errors        int    `json:"errors"`
	Dropped       int    `json:"dropped"`
	PctAnswered   string `json:"pct_answered"` // "99.5%", or "n/a" before the first request
	PctFallback   string `json:"pct_fallback"`
	PctErrors     string `json:"pct_errors"`
	Amplification string `json:"amplification"` // "1.02", "1.02 (3 unknown)" or "n/a"
}

// countersOf formats the totals of an analysis as the report does.
func countersOf(t report.PhaseStats) counters {
	c := counters{Requests: t.Requests, Answered: t.OK200, Backend: t.Backend, Fallback: t.Fallbacks,
		Errors: t.Errors, Dropped: t.Dropped, PctAnswered: report.NA, PctFallback: report.NA, PctErrors: report.NA,
		Amplification: report.NA}
	if !t.Empty() {
		c.PctAnswered, c.PctFallback, c.PctErrors = pct(t.PctOK200), pct(t.PctFallback), pct(t.PctErrors)
	}
	if t.KnownAttempts > 0 {
		c.Amplification = fmt.Sprintf("%.2f", t.Amplification)
	}
	if t.UnknownAttempts > 0 {
		c.Amplification += fmt.Sprintf(" (%d unknown)", t.UnknownAttempts)
	}
	return c
}

func pct(v float64) string { return fmt.Sprintf("%.1f%%", v) }

// doneView is the end of the run: its verdict and where its report is.
type doneView struct {
	Verdict string `json:"verdict"`
	Passed  bool   `json:"passed"`           // the verdict reads PASSED: only its colour on the page
	Report  string `json:"report,omitempty"` // the report's link under /results/; "" when it is not served
	Path    string `json:"path"`             // the report's path on disk, as the run gave it
}

// eventMsg is the "event" message: the event, and what it changed.
type eventMsg struct {
	Event    results.Event `json:"event"`
	Status   status        `json:"status"`             // the status after the event
	Activity *activity     `json:"activity,omitempty"` // the activity it started or ended
	Log      *logLine      `json:"log,omitempty"`      // its log line, for a retry, breaker or fallback
}

// recordView is one request of a "record" message.
type recordView struct {
	ID      uint64 `json:"id"`
	At      string `json:"at"` // its scheduled arrival, from the run start
	Source  string `json:"source"`
	Status  int    `json:"status"`
	Latency string `json:"latency"`
	Error   string `json:"error,omitempty"`
}

func newRecordView(r results.Record, origin time.Time) recordView {
	return recordView{ID: r.ID, At: report.FormatOffset(r.Start.Sub(origin)), Source: r.Source, Status: r.Status,
		Latency: report.FormatDuration(r.Latency), Error: r.Error}
}

// chartMsg is the "chart" message.
type chartMsg struct {
	SVG      string `json:"svg"`
	Capacity string `json:"capacity,omitempty"` // the goodput and capacity chart; "" while there is none
}

// apply updates the state with one event and returns the activity and the log line it made
// (nil when it made none). origin is the run start the offsets count from.
func (s *state) apply(e results.Event, origin time.Time) (*activity, *logLine) {
	at := report.FormatOffset(e.Time.Sub(origin))
	switch e.Kind {
	case results.KindPhase:
		s.Status.Phase = e.Phase
	case results.KindBreaker:
		s.Status.Breaker = e.To
	case results.KindFault:
		s.Status.Fault = nil
		if e.Action == "on" {
			s.Status.Fault = &faultView{Kind: e.Name, Detail: e.Message, Since: at}
		}
	case results.KindActivity:
		a := s.activity(e, at)
		return &a, nil
	}
	if l, ok := logLineOf(e, at); ok {
		s.Log = append(s.Log, l)
		if len(s.Log) > maxLog {
			s.Log = slices.Delete(s.Log, 0, len(s.Log)-maxLog)
		}
		return nil, &l
	}
	return nil, nil
}

// activity records an activity's start, or its end on the latest running activity of the same
// name and phase, and returns it.
func (s *state) activity(e results.Event, at string) activity {
	if e.Action == "end" {
		for i := len(s.Activities) - 1; i >= 0; i-- {
			a := &s.Activities[i]
			if a.Name == e.Name && a.Phase == e.Phase && a.Status == "running" {
				a.Status, a.End, a.Error = endStatus(e.Status), at, e.Error
				return *a
			}
		}
	}
	a := activity{Index: len(s.Activities), Name: e.Name, Phase: e.Phase, Status: "running", Start: at}
	if e.Action == "end" { // an end without its start (the page connected late): shown ended
		a.Status, a.End, a.Error = endStatus(e.Status), at, e.Error
	}
	s.Activities = append(s.Activities, a)
	return a
}

// endStatus is an ended activity's status: succeeded or failed, or "ended" when the engine gave
// none (the activity aborted the run or was interrupted).
func endStatus(s string) string {
	if s == "" {
		return "ended"
	}
	return s
}

// logLineOf writes a retry, breaker or fallback event as client-service logs it (the lines of
// README "Log lines operators grep for"), with its attributes apart.
func logLineOf(e results.Event, at string) (logLine, bool) {
	var l logLine
	var detail []string
	switch e.Kind {
	case results.KindRetry:
		l.Text = fmt.Sprintf("Retry '%s' - Attempt #%d", resilience.RetryName, e.Attempt)
		detail = append(detail, "wait="+report.FormatDuration(results.FromMS(e.WaitMS)))
		if e.Error != "" {
			detail = append(detail, "error="+e.Error)
		}
	case results.KindBreaker:
		l.Text = fmt.Sprintf("CircuitBreaker '%s' changed state: %s -> %s", resilience.BreakerName, e.From, e.To)
	case results.KindFallback:
		l.Text = "Fallback response due to error: " + e.Error
	default:
		return logLine{}, false
	}
	if e.RequestID != 0 {
		detail = append(detail, fmt.Sprintf("request_id=%d", e.RequestID))
	}
	l.At, l.Kind, l.Detail = at, e.Kind, strings.Join(detail, " ")
	return l, true
}
