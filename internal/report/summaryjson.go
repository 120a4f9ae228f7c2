package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	"chaoslab/internal/results"
)

// SummaryFile is the name of the machine-readable summary in a run folder, next to report.md.
const SummaryFile = "summary.json"

// SummarySchema is Summary.Schema: the name and major version of summary.json's layout. A
// change that only adds fields keeps it; a field removed, renamed or changing its meaning or
// unit makes it chaoslab.summary/v2. ReadSummaryJSON refuses any other value.
const SummarySchema = "chaoslab.summary/v1"

// ErrSchema is returned (wrapped) by ReadSummaryJSON for a file without SummarySchema.
var ErrSchema = errors.New("not a " + SummarySchema + " summary")

// Summary is summary.json: every figure of one run, every objective with its judgement, the
// verdict with its reasons, and the settings, for tools. NewSummary makes it from an Analysis;
// it holds the same numbers as report.md.
//
// Units, as everywhere in the results folder: durations are float64 milliseconds in fields
// whose names end in _ms; offsets named *_at_ms count from the run start (Settings.Start);
// shares are fractions from 0 to 1 of the requests offered; times are RFC 3339 in UTC. A null
// number was not measured in this run (an empty phase, an event never seen). Lists are [] when
// empty, never null. It is a plain value: safe to read concurrently.
type Summary struct {
	Schema        string             `json:"schema"`         // SummarySchema
	Settings      SummarySettings    `json:"settings"`       // what was run, with which settings
	Journal       SummaryJournal     `json:"journal"`        // how the experiment ended, and what went wrong in the lab
	Fault         SummaryFault       `json:"fault"`          // the fault and its windows
	Phases        SummaryPhases      `json:"phases"`         // before, during, after, while_open, total
	Times         SummaryTimes       `json:"times"`          // detection and recovery times
	Breaker       SummaryBreaker     `json:"breaker"`        // the circuit breaker's timeline and final state
	BackendHealed bool               `json:"backend_healed"` // the backend answered a request scheduled at or after the heal
	Recovered     bool               `json:"recovered"`      // BackendHealed and, with a breaker, CLOSED at the end
	Objectives    []SummaryObjective `json:"objectives"`     // the run's objectives judged, in name order
	Verdict       SummaryVerdict     `json:"verdict"`        // the one verdict: chaoslab run's exit status
	Notes         []string           `json:"notes"`          // what a reader must know: missing files, no fault, lagging load

	// Layers are a topology's layers, the entry tiers first, the backend last, each with its
	// calls per user request per phase; absent for today's two services.
	Layers []SummaryLayer `json:"layers,omitempty"`

	// Goodput is the load's goodput per second and the figures relative to the fault (see
	// report.Goodput); absent unless the backend ran with its capacity model or an objective
	// bounds a goodput figure.
	Goodput *SummaryGoodput `json:"goodput,omitempty"`
	// Capacity is the backend's capacity model as sampled (capacity.csv); absent when it was off.
	Capacity *SummaryCapacity `json:"capacity,omitempty"`
}

// SummaryGoodput is the goodput: per second, the load's requests the backend answered 200
// within their deadline (the load's timeout), each in the second of its scheduled arrival, on
// whole seconds from the fault's removal (Goodput's grid), and what it did after the fault.
type SummaryGoodput struct {
	DeadlineMS      *float64               `json:"deadline_ms"`       // a good answer's latency is at most this; null: none known, any latency
	StuckBelow      float64                `json:"stuck_below"`       // a second is down below this share of before (0.5)
	StuckForMS      float64                `json:"stuck_for_ms"`      // stuck: every second of this long after the removal is down (30000)
	BackAt          float64                `json:"back_at"`           // a second is back at this share of before or more (0.95)
	BackHoldMS      float64                `json:"back_hold_ms"`      // back: this long in a row is back (5000)
	BeforePerS      *float64               `json:"before_per_s"`      // mean goodput per second over the whole seconds before the fault; null: not measured
	BeforeSeconds   int                    `json:"before_seconds"`    // how many seconds before_per_s is the mean of
	AfterMeasuredMS float64                `json:"after_measured_ms"` // whole seconds of load measured after the fault's removal, ms
	Stuck           *bool                  `json:"stuck"`             // null: not measured (not_measured says why)
	BackTo95MS      *float64               `json:"back_to_95_ms"`     // from the removal to the first back_hold_ms in a row each back; null: not measured, or not_back
	NotBack         bool                   `json:"not_back"`          // measured for at least back_hold_ms after the removal and never back
	NotMeasured     string                 `json:"not_measured"`      // why stuck or back_to_95_ms is not measured; "" when both are
	LeftOffSeconds  int                    `json:"left_off_seconds"`  // whole seconds at the end not measured: answered over a second after the load's last request
	Seconds         []SummaryGoodputSecond `json:"seconds"`           // the grid's whole seconds, in order
}

// SummaryGoodputSecond is one whole second of the goodput's grid.
type SummaryGoodputSecond struct {
	AtMS    float64 `json:"at_ms"`   // its start, from the run start
	Offered int     `json:"offered"` // requests scheduled in it (dropped ones included)
	Good    int     `json:"good"`    // of them: answered by the backend, 200, within the deadline
}

// SummaryCapacity is the backend's capacity model as the lab sampled its GET /api/capacity.
type SummaryCapacity struct {
	Workers     int     `json:"workers"`      // at the first sample; 0 = unlimited
	QueueLimit  int     `json:"queue_limit"`  // at the first sample
	QueueOrder  string  `json:"queue_order"`  // fifo or lifo
	ServiceTime string  `json:"service_time"` // as BACKEND_SERVICE_TIME reads it, at the first sample
	Factor      float64 `json:"factor"`       // the service time factor at the first sample
	// The counters' increase from the first sample to the last (the run's start to its end).
	Rejected     int64                   `json:"rejected"`
	Expired      int64                   `json:"expired"`
	Completed    int64                   `json:"completed"`
	Wasted       int64                   `json:"wasted"`
	MaxQueued    int                     `json:"max_queued"`     // the largest queue sampled
	MaxInService int                     `json:"max_in_service"` // the most requests in service sampled
	Restarts     int                     `json:"restarts"`       // intervals in which a counter went down: the backend restarted
	Samples      []SummaryCapacitySample `json:"samples"`        // every sample, in time order
}

// SummaryCapacitySample is one sample: the levels at it, and each counter's increase per second
// since the previous sample (null for the first).
type SummaryCapacitySample struct {
	AtMS          float64  `json:"at_ms"` // from the run start
	Workers       int      `json:"workers"`
	Factor        float64  `json:"factor"`
	InService     int      `json:"in_service"`
	Queued        int      `json:"queued"`
	RejectedPerS  *float64 `json:"rejected_per_s"`
	ExpiredPerS   *float64 `json:"expired_per_s"`
	CompletedPerS *float64 `json:"completed_per_s"`
	WastedPerS    *float64 `json:"wasted_per_s"`
}

// SummaryLayer is one layer of a topology: the calls arriving at its nodes for the user
// requests of each phase (by scheduled arrival), counted exactly from the records joined by
// request id.
type SummaryLayer struct {
	Name    string            `json:"name"`    // its nodes, joined by ", "
	Nodes   []string          `json:"nodes"`   // tier names, or "backend"
	Callers []string          `json:"callers"` // the tiers whose attempt records are its calls; [] for the entries' layer alone (the load)
	Before  SummaryLayerPhase `json:"before"`
	During  SummaryLayerPhase `json:"during"`
	After   SummaryLayerPhase `json:"after"`
}

// SummaryLayerPhase is a layer's calls in one phase.
type SummaryLayerPhase struct {
	Requests   int      `json:"requests"`    // user requests of the phase the load sent
	Calls      int      `json:"calls"`       // the calls they made arrive at the layer
	PerRequest *float64 `json:"per_request"` // Calls / Requests; null without requests
}

// SummarySettings are the run's settings (run.json) and its bounds in time.
type SummarySettings struct {
	Label         string             `json:"label"`               // "baseline" or "resilient" in a compare run; "" for a single run
	Title         string             `json:"title"`               // the experiment's title
	Experiment    string             `json:"experiment"`          // its path, or "built-in"
	Stack         string             `json:"stack"`               // local | netns | none
	Topology      string             `json:"topology,omitempty"`  // the topology's name; absent for today's two services
	Resilience    string             `json:"resilience"`          // on | off (RESILIENCE=off: no retries, breaker or fallback)
	RPS           float64            `json:"rps"`                 // the open-loop load's rate, requests per second
	Seed          int64              `json:"seed"`                // the seed of the run's randomness
	Start         time.Time          `json:"start"`               // the run start: the moment every *_at_ms counts from
	End           time.Time          `json:"end"`                 // the last request's end (or the run's end, whichever is later)
	RecoveryMS    float64            `json:"recovery_ms"`         // the recovery window after the rollbacks, ms
	LoadTimeoutMS float64            `json:"load_timeout_ms"`     // the load's per-request timeout, ms
	CBWaitMS      float64            `json:"cb_wait_duration_ms"` // the breaker's OPEN wait before HALF_OPEN, ms
	HalfOpenCalls int                `json:"cb_half_open_calls"`  // trial calls in HALF_OPEN
	Retry         SummaryRetry       `json:"retry"`               // the configured retry schedule
	ClientEnv     map[string]string  `json:"client_env"`          // the pipeline variables the client ran with
	Objectives    map[string]float64 `json:"objectives"`          // the objectives' bounds by name, in each objective's unit
}

// SummaryRetry is the configured retry schedule: wait n = min(initial*multiplier^(n-1), max),
// with jitter.
type SummaryRetry struct {
	MaxRetries       int     `json:"max_retries"`        // retries after the first call
	InitialBackoffMS float64 `json:"initial_backoff_ms"` // the first wait, ms
	Multiplier       float64 `json:"multiplier"`         // each wait is the previous one times this
	MaxBackoffMS     float64 `json:"max_backoff_ms"`     // the longest wait, ms
	Jitter           float64 `json:"jitter"`             // each wait is drawn in [w(1-jitter), w(1+jitter)]
}

// SummaryJournal is how the experiment ended and what went wrong in the lab.
type SummaryJournal struct {
	Status      string   `json:"status"`      // the journal's status (completed, failed, aborted, interrupted); run.json's without a journal; "" when it never ran
	Deviated    bool     `json:"deviated"`    // the steady state did not hold after the fault
	Interrupted bool     `json:"interrupted"` // stopped by Ctrl-C or SIGTERM
	Problems    []string `json:"problems"`    // what the lab saw fail (a service died, a cleanup failed, ...)
	Warnings    []string `json:"warnings"`    // settings that weaken the evidence, said at start
}

// SummaryFault is the fault: the first window's kind and parameters, and every window.
type SummaryFault struct {
	Kind    string          `json:"kind"`      // "latency", "partition", "http-errors+latency"; "" when no fault was recorded
	Detail  string          `json:"detail"`    // the fault and its parameters, for a person
	OnAtMS  *float64        `json:"on_at_ms"`  // the first fault "on" event, from the run start; null: no fault
	OffAtMS *float64        `json:"off_at_ms"` // the end of the last window, from the run start; null: never removed (or no fault)
	Windows []SummaryWindow `json:"windows"`   // each "on" event and the first "off" after it, in order
}

// SummaryWindow is one window the fault was in effect.
type SummaryWindow struct {
	Kind    string   `json:"kind"`      // the kind of fault in effect
	Detail  string   `json:"detail"`    // the fault and its parameters
	OnAtMS  float64  `json:"on_at_ms"`  // from the run start
	OffAtMS *float64 `json:"off_at_ms"` // from the run start; null: never removed
}

// SummaryPhases are the groups of requests: the three phases by scheduled arrival (before =
// [first request, fault on), during = [fault on, last fault off), after = [fault off, end]),
// the requests that arrived while the breaker was OPEN, and every request.
type SummaryPhases struct {
	Before    SummaryPhase `json:"before"`
	During    SummaryPhase `json:"during"`
	After     SummaryPhase `json:"after"`
	WhileOpen SummaryPhase `json:"while_open"` // sent in an OPEN interval of the breaker's timeline (cut at the breaker's wait)
	Total     SummaryPhase `json:"total"`
}

// SummaryPhase is what one group's requests looked like. Shares are of Requests (dropped
// requests included: they were not answered) and null when it is 0; latencies count from the
// scheduled arrival (so they include the load's send lag), nearest-rank over the requests sent,
// and are null when none was sent.
type SummaryPhase struct {
	FromAtMS        *float64 `json:"from_at_ms"`         // the phase's start from the run start; null for while_open and total, or a phase that did not happen
	ToAtMS          *float64 `json:"to_at_ms"`           // the phase's end from the run start; null likewise
	Requests        int      `json:"requests"`           // requests offered (scheduled) in the group
	Sent            int      `json:"sent"`               // Requests minus the dropped ones
	Answered200     *float64 `json:"answered_200"`       // share answered 200, by the backend or a fallback
	Fallback        *float64 `json:"fallback"`           // share answered with the client's fallback
	Errors          *float64 `json:"errors"`             // share without a usable answer: non-200, timeout, refused
	Dropped         *float64 `json:"dropped"`            // share never sent: the load's in-flight cap was reached
	Answered200N    int      `json:"answered_200_count"` // requests answered 200
	BackendN        int      `json:"backend_count"`      // requests answered by the backend
	FallbackN       int      `json:"fallback_count"`     // requests answered with a fallback
	ErrorsN         int      `json:"errors_count"`       // requests without a usable answer
	TimeoutsN       int      `json:"timeouts_count"`     // errors without any HTTP status
	DroppedN        int      `json:"dropped_count"`      // requests never sent
	P50MS           *float64 `json:"p50_ms"`             // median latency, ms
	P90MS           *float64 `json:"p90_ms"`             // 90th percentile latency, ms
	P99MS           *float64 `json:"p99_ms"`             // 99th percentile latency, ms
	MaxMS           *float64 `json:"max_ms"`             // the longest latency, ms
	MaxSendLagMS    *float64 `json:"max_send_lag_ms"`    // the longest the load was late sending a request, ms
	Attempts        int      `json:"attempts"`           // backend calls made for the requests whose count is known
	KnownAttempts   int      `json:"known_attempts"`     // requests sent whose number of backend calls is known
	UnknownAttempts int      `json:"unknown_attempts"`   // requests sent whose number of backend calls is not known
	Amplification   *float64 `json:"amplification"`      // Attempts / KnownAttempts, backend calls per request; null when no count is known
	Retries         int      `json:"retries"`            // retry events whose time falls in the group (phases and total only)
}

// SummaryTimes are the detection and recovery times, ms; null when the event was not seen.
type SummaryTimes struct {
	FaultToFirstFallbackMS *float64 `json:"fault_to_first_fallback_ms"` // fault on -> the earliest completion of a fallback answer to a request scheduled at or after it
	FaultToOpenMS          *float64 `json:"fault_to_open_ms"`           // fault on -> the breaker's first transition to OPEN at or after it
	HealToFirstBackendMS   *float64 `json:"heal_to_first_backend_ms"`   // last fault off -> the earliest completion of a backend answer to a request scheduled at or after it
	HealToClosedMS         *float64 `json:"heal_to_closed_ms"`          // last fault off -> the breaker's first transition to CLOSED at or after it
}

// SummaryBreaker is the circuit breaker: CLOSED at the run start, then each transition.
type SummaryBreaker struct {
	Enabled     bool                `json:"enabled"`     // false for RESILIENCE=off
	Final       string              `json:"final"`       // CLOSED, OPEN or HALF_OPEN at the end; "" without a breaker
	Transitions []SummaryTransition `json:"transitions"` // in time order
}

// SummaryTransition is one breaker event.
type SummaryTransition struct {
	AtMS float64 `json:"at_ms"` // from the run start
	From string  `json:"from"`
	To   string  `json:"to"`
}

// SummaryObjective is one objective judged (see ObjectiveDoc for each name).
type SummaryObjective struct {
	Name   string   `json:"name"`   // e.g. p99_while_open_max_ms
	Figure string   `json:"figure"` // what is bounded, from which moment
	Unit   string   `json:"unit"`   // ms, s, fraction or ratio: the unit of Bound and Value
	Bound  float64  `json:"bound"`  // the bound, in Unit
	Max    bool     `json:"max"`    // true: Value must be at most Bound; false: at least
	Value  *float64 `json:"value"`  // the measured figure in Unit; null: not measured (the objective fails)
	Passed bool     `json:"passed"` // the judgement
}

// SummaryVerdict is the run's verdict (Judge).
type SummaryVerdict struct {
	Passed  bool     `json:"passed"`  // the exit status of chaoslab run is 0 exactly when true
	Text    string   `json:"text"`    // the verdict for a person: PassedText, or "FAILED: " and the reasons
	Reasons []string `json:"reasons"` // why it failed, in Judge's order; [] when it passed
}

// NewSummary makes the summary of an analysis. It does not modify a.
func NewSummary(a *Analysis) Summary {
	return Summary{
		Schema:        SummarySchema,
		Settings:      newSummarySettings(a),
		Journal:       newSummaryJournal(a),
		Fault:         newSummaryFault(a),
		Phases:        newSummaryPhases(a),
		Times:         newSummaryTimes(a),
		Breaker:       newSummaryBreaker(a),
		BackendHealed: a.BackendHealed,
		Recovered:     a.Recovered,
		Objectives:    newSummaryObjectives(a.Objectives),
		Verdict:       SummaryVerdict{Passed: a.Verdict.Passed, Text: a.Verdict.Text(), Reasons: list(a.Verdict.Reasons)},
		Notes:         list(a.Notes),
		Layers:        newSummaryLayers(a.Layers),
		Goodput:       newSummaryGoodput(a),
		Capacity:      newSummaryCapacity(a),
	}
}

// newSummaryGoodput converts the goodput; nil unless the run shows it.
func newSummaryGoodput(a *Analysis) *SummaryGoodput {
	g := a.Goodput
	if g == nil || !a.ShowsGoodput() {
		return nil
	}
	s := &SummaryGoodput{StuckBelow: g.Params.StuckBelow, StuckForMS: millis(time.Duration(wholeSeconds(g.Params.StuckFor)) * time.Second),
		BackAt: g.Params.BackAt, BackHoldMS: millis(time.Duration(wholeSeconds(g.Params.BackHold)) * time.Second),
		BeforePerS: g.Before, BeforeSeconds: g.BeforeSeconds, AfterMeasuredMS: millis(g.After), Stuck: g.Stuck,
		BackTo95MS: optMS(g.BackTo95), NotBack: g.NotBack, NotMeasured: g.Why, LeftOffSeconds: g.LeftOff, Seconds: []SummaryGoodputSecond{}}
	if g.Deadline > 0 {
		s.DeadlineMS = ptrMS(g.Deadline)
	}
	for _, sec := range g.Seconds {
		s.Seconds = append(s.Seconds, SummaryGoodputSecond{AtMS: millis(a.Rel(sec.From)), Offered: sec.Offered, Good: sec.Good})
	}
	return s
}

// newSummaryCapacity converts the capacity samples; nil without any.
func newSummaryCapacity(a *Analysis) *SummaryCapacity {
	c := a.Capacity
	if c == nil {
		return nil
	}
	f := c.First
	s := &SummaryCapacity{Workers: f.Workers, QueueLimit: f.QueueLimit, QueueOrder: f.QueueOrder, ServiceTime: f.ServiceTime, Factor: f.Factor,
		Rejected: c.Rejected, Expired: c.Expired, Completed: c.Completed, Wasted: c.Wasted,
		MaxQueued: c.MaxQueued, MaxInService: c.MaxInService, Restarts: c.Restarts, Samples: []SummaryCapacitySample{}}
	for _, p := range c.Points {
		smp := SummaryCapacitySample{AtMS: millis(a.Rel(p.Time)), Workers: p.Workers, Factor: p.Factor, InService: p.InService, Queued: p.Queued}
		if p.Rates {
			smp.RejectedPerS, smp.ExpiredPerS, smp.CompletedPerS, smp.WastedPerS = num(p.RejectedPerS), num(p.ExpiredPerS), num(p.CompletedPerS), num(p.WastedPerS)
		}
		s.Samples = append(s.Samples, smp)
	}
	return s
}

// newSummaryLayers converts the layers; nil without any (the field is then absent).
func newSummaryLayers(ls []LayerStats) []SummaryLayer {
	var out []SummaryLayer
	for _, l := range ls {
		phase := func(p LayerPhase) SummaryLayerPhase {
			s := SummaryLayerPhase{Requests: p.Requests, Calls: p.Calls}
			if v, ok := p.PerRequest(); ok {
				s.PerRequest = num(v)
			}
			return s
		}
		out = append(out, SummaryLayer{Name: l.Name, Nodes: append([]string{}, l.Nodes...), Callers: append([]string{}, l.Callers...),
			Before: phase(l.Phases[0]), During: phase(l.Phases[1]), After: phase(l.Phases[2])})
	}
	return out
}

// WriteSummaryJSON writes the summary of a into dir/summary.json (indented, replacing it).
func WriteSummaryJSON(dir string, a *Analysis) error { return WriteSummaryFile(dir, NewSummary(a)) }

// WriteSummaryFile writes s as dir/summary.json, creating dir if needed.
func WriteSummaryFile(dir string, s Summary) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return results.WriteJSONFile(filepath.Join(dir, SummaryFile), s)
}

// ReadSummaryJSON reads a summary.json. A file whose schema is not SummarySchema is refused
// with ErrSchema and a message saying how to get one this chaoslab reads; a missing file is
// an error that satisfies errors.Is(err, fs.ErrNotExist).
func ReadSummaryJSON(path string) (Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Summary{}, fmt.Errorf("read summary: %w", err)
	}
	var head struct {
		Schema *string `json:"schema"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return Summary{}, fmt.Errorf("decode %s: %w", path, err)
	}
	switch {
	case head.Schema == nil:
		return Summary{}, fmt.Errorf("%s has no schema field: %w", path, ErrSchema)
	case *head.Schema != SummarySchema:
		return Summary{}, fmt.Errorf("%s has schema %q; this chaoslab reads %s only: use the chaoslab that wrote it, or rewrite it with `chaoslab report %s`: %w",
			path, *head.Schema, SummarySchema, filepath.Dir(path), ErrSchema)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return Summary{}, fmt.Errorf("decode %s: %w", path, err)
	}
	return s, nil
}

func newSummarySettings(a *Analysis) SummarySettings {
	r := a.Run
	return SummarySettings{
		Label: r.Label, Title: r.Title, Experiment: r.Experiment, Stack: r.Stack, Topology: topologyName(r.Topology), Resilience: r.Resilience,
		RPS: r.RPS, Seed: r.Seed, Start: a.Origin.UTC(), End: a.End.UTC(),
		RecoveryMS: results.MS(r.Recovery.D()), LoadTimeoutMS: results.MS(r.LoadTimeout.D()),
		CBWaitMS: results.MS(r.CBWait.D()), HalfOpenCalls: r.HalfOpen,
		Retry: SummaryRetry{MaxRetries: r.Retry.MaxRetries, InitialBackoffMS: results.MS(r.Retry.InitialBackoff.D()),
			Multiplier: r.Retry.Multiplier, MaxBackoffMS: results.MS(r.Retry.MaxBackoff.D()), Jitter: r.Retry.Jitter},
		ClientEnv:  orEmptyMap(r.ClientEnv),
		Objectives: orEmptyMap(r.Objectives),
	}
}

func newSummaryJournal(a *Analysis) SummaryJournal {
	return SummaryJournal{Status: a.Status, Deviated: a.Deviated, Interrupted: a.Run.Interrupted,
		Problems: list(a.Run.Problems), Warnings: list(a.Run.Warnings)}
}

func newSummaryFault(a *Analysis) SummaryFault {
	f := SummaryFault{Kind: a.FaultKind, Windows: []SummaryWindow{}}
	if a.FaultOn != nil {
		f.OnAtMS = ptrMS(a.Rel(*a.FaultOn))
	}
	if a.FaultOff != nil {
		f.OffAtMS = ptrMS(a.Rel(*a.FaultOff))
	}
	for i, w := range a.Faults {
		sw := SummaryWindow{Kind: w.Kind, Detail: w.Detail, OnAtMS: millis(a.Rel(w.On))}
		if w.Off != nil {
			sw.OffAtMS = ptrMS(a.Rel(*w.Off))
		}
		if i == 0 {
			f.Detail = w.Detail
		}
		f.Windows = append(f.Windows, sw)
	}
	return f
}

func newSummaryPhases(a *Analysis) SummaryPhases {
	return SummaryPhases{
		Before: newSummaryPhase(a, a.Phases[0], true), During: newSummaryPhase(a, a.Phases[1], true),
		After: newSummaryPhase(a, a.Phases[2], true), WhileOpen: newSummaryPhase(a, a.WhileOpen, false),
		Total: newSummaryPhase(a, a.Total, false),
	}
}

// newSummaryPhase converts one group; window says whether it is a phase with a span in time.
func newSummaryPhase(a *Analysis, p PhaseStats, window bool) SummaryPhase {
	s := SummaryPhase{Requests: p.Requests, Sent: p.Sent,
		Answered200: share(p.OK200, p.Requests), Fallback: share(p.Fallbacks, p.Requests),
		Errors: share(p.Errors, p.Requests), Dropped: share(p.Dropped, p.Requests),
		Answered200N: p.OK200, BackendN: p.Backend, FallbackN: p.Fallbacks, ErrorsN: p.Errors,
		TimeoutsN: p.Timeouts, DroppedN: p.Dropped,
		Attempts: p.Attempts, KnownAttempts: p.KnownAttempts, UnknownAttempts: p.UnknownAttempts, Retries: p.Retries}
	if window && p.To.After(p.From) {
		s.FromAtMS, s.ToAtMS = ptrMS(a.Rel(p.From)), ptrMS(a.Rel(p.To))
	}
	if p.Sent > 0 {
		s.P50MS, s.P90MS, s.P99MS, s.MaxMS = ptrMS(p.P50), ptrMS(p.P90), ptrMS(p.P99), ptrMS(p.Max)
		s.MaxSendLagMS = ptrMS(p.MaxSendLag)
	}
	if p.KnownAttempts > 0 {
		s.Amplification = num(float64(p.Attempts) / float64(p.KnownAttempts))
	}
	return s
}

func newSummaryTimes(a *Analysis) SummaryTimes {
	return SummaryTimes{
		FaultToFirstFallbackMS: optMS(a.FirstFallbackAfterFault), FaultToOpenMS: optMS(a.OpenAfterFault),
		HealToFirstBackendMS: optMS(a.FirstBackendAfterHeal), HealToClosedMS: optMS(a.ClosedAfterHeal),
	}
}

func newSummaryBreaker(a *Analysis) SummaryBreaker {
	b := SummaryBreaker{Enabled: a.BreakerEnabled, Final: a.FinalBreaker, Transitions: []SummaryTransition{}}
	for _, t := range a.Transitions {
		b.Transitions = append(b.Transitions, SummaryTransition{AtMS: millis(t.At), From: t.From, To: t.To})
	}
	return b
}

func newSummaryObjectives(objs []ObjectiveResult) []SummaryObjective {
	out := make([]SummaryObjective, 0, len(objs))
	for _, o := range objs {
		s := SummaryObjective{Name: o.Name, Figure: o.Figure, Unit: o.Unit, Bound: o.Bound, Max: o.Max, Passed: o.Passed}
		if o.Value != nil {
			s.Value = num(*o.Value)
		}
		out = append(out, s)
	}
	return out
}

// share is n/of as a fraction; nil when of is 0.
func share(n, of int) *float64 {
	if of == 0 {
		return nil
	}
	return num(float64(n) / float64(of))
}

func num(v float64) *float64 { return &v }

func ptrMS(d time.Duration) *float64 { return num(millis(d)) }

// optMS is d in milliseconds; nil when d is nil.
func optMS(d *time.Duration) *float64 {
	if d == nil {
		return nil
	}
	return ptrMS(*d)
}

// list is a copy of s, empty rather than nil (so that JSON has [] and reads back equal).
func list(s []string) []string {
	return append([]string{}, s...)
}

// orEmptyMap is a copy of m, empty rather than nil.
func orEmptyMap[V any](m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	maps.Copy(out, m)
	return out
}

// topologyName is a run's topology's name; "" without one.
func topologyName(t *results.Topology) string {
	if t == nil {
		return ""
	}
	return t.Name
}
