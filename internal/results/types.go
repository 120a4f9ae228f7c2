package results

import (
	"encoding/json"
	"time"
)

// UnknownAttempts is Record.Attempts when the number of backend calls the client made for a
// request is not known (no attempt events and no answer that says).
const UnknownAttempts = -1

// Record is one load request as the load generator saw it. It is one row of requests.csv.
//
// Times follow the open loop: Start is the request's scheduled arrival, the moment a user
// arriving at the configured rate would have sent it. Latency counts from Start, so a load
// generator that falls behind adds its own lag to the latency instead of hiding it (no
// coordinated omission); SendLag says how much of the latency was that lag.
type Record struct {
	ID       uint64        // the load's sequence number, 1-based; sent as the X-Request-Id header
	Start    time.Time     // the scheduled arrival
	SendLag  time.Duration // from Start until the request was actually sent (0 for a dropped one)
	Latency  time.Duration // from Start until the whole answer was read, or until it failed; 0 when dropped
	Status   int           // HTTP status; 0 when there was no answer (timeout, refused, reset, dropped)
	Source   string        // SourceBackend, SourceFallback, SourceError or SourceDropped
	Attempts int           // backend calls the client made for this request; UnknownAttempts when not known
	Breaker  string        // circuitBreakerState the client reported; "" if unknown
	Error    string        // why it failed, for SourceError, SourceFallback and SourceDropped; "" otherwise
	Tier     string        // with a Topology: the entry tier the load sent it to; "" otherwise
	TraceID  string        // the trace id (32 hex digits) of the traceparent the load sent with it; "" when none
}

// Answered reports whether the request was sent (it was not dropped by the load generator).
func (r Record) Answered() bool { return r.Source != SourceDropped }

// Event kinds written to events.jsonl.
const (
	KindFault      = "fault"      // a fault was injected (Action "on") or removed (Action "off")
	KindBreaker    = "breaker"    // the circuit breaker changed state (From, To)
	KindRetry      = "retry"      // the client scheduled a retry (Attempt, WaitMS, Error, RequestID)
	KindFallback   = "fallback"   // the client answered with its fallback (Error, RequestID)
	KindAttempt    = "attempt"    // the client made one backend call (Attempt, Outcome, DurationMS, Error, RequestID)
	KindActivity   = "activity"   // an experiment activity started or ended (Name, Action "start"/"end", Status)
	KindPhase      = "phase"      // the run entered a phase (Phase)
	KindChildExit  = "child-exit" // a service process exited (Service, Error); fails the run unless stopping
	KindProcess    = "process"    // a process fault: Action "kill" or "start" (Service, Message; start: DurationMS since the kill)
	KindExperiment = "experiment" // the experiment ended (Status, Message)
)

// Outcomes of a KindAttempt event: what the circuit breaker recorded for the call.
const (
	OutcomeSuccess = "success" // the backend answered (2xx, or a 4xx that says nothing about its health)
	OutcomeFailure = "failure" // connection error, attempt timeout, 5xx or 429
	OutcomeIgnored = "ignored" // cut short by its caller: neither success nor failure
)

// Event is one line of events.jsonl. Only the fields that matter for its Kind are set.
type Event struct {
	Time       time.Time `json:"time"`
	Kind       string    `json:"kind"`
	Action     string    `json:"action,omitempty"`      // fault: on|off; activity: start|end; process: kill|start
	Name       string    `json:"name,omitempty"`        // fault: its kind (partition, latency, http-errors, crash, ...); activity: its name
	From       string    `json:"from,omitempty"`        // breaker: previous state
	To         string    `json:"to,omitempty"`          // breaker: new state
	Attempt    int       `json:"attempt,omitempty"`     // retry: retry number (1 = first retry); attempt: call number (1 = first call)
	WaitMS     float64   `json:"wait_ms,omitempty"`     // retry: the wait before this retry, in ms
	DurationMS float64   `json:"duration_ms,omitempty"` // attempt: how long the call took; process start: since the kill; in ms
	Outcome    string    `json:"outcome,omitempty"`     // attempt: OutcomeSuccess, OutcomeFailure or OutcomeIgnored
	RequestID  uint64    `json:"request_id,omitempty"`  // retry, fallback, attempt: the load request's ID (X-Request-Id), 0 if none
	Phase      string    `json:"phase,omitempty"`       // phase: before|during|after|recovery|done
	Service    string    `json:"service,omitempty"`     // child-exit, process: which service
	Status     string    `json:"status,omitempty"`      // activity/experiment status
	Error      string    `json:"error,omitempty"`       // retry/fallback/attempt/child-exit: the error text
	Message    string    `json:"message,omitempty"`     // free text for a person
	Tier       string    `json:"tier,omitempty"`        // retry, breaker, fallback, attempt: the tier (TIER) whose client-service wrote it; "" without one
}

// RetrySchedule is the configured retry policy, so the report can compare observed waits with it.
type RetrySchedule struct {
	MaxRetries     int      `json:"max_retries"`
	InitialBackoff Duration `json:"initial_backoff_ms"`
	Multiplier     float64  `json:"multiplier"`
	MaxBackoff     Duration `json:"max_backoff_ms"`
	Jitter         float64  `json:"jitter"`
}

// RunInfo is run.json: what was run, with which settings, and what the lab saw go wrong. The
// verdict is not stored: it is computed from a Run by one function (report.Judge), for the exit
// status and for every report alike.
type RunInfo struct {
	Label       string            `json:"label,omitempty"` // a compare run's profile label (LabelBaseline, LabelResilient, LabelAdaptive)
	Title       string            `json:"title"`           // the experiment's title
	Experiment  string            `json:"experiment"`      // path, or "built-in"
	Stack       string            `json:"stack"`           // local | netns
	Resilience  string            `json:"resilience"`      // ResilienceOn | ResilienceAdaptive | ResilienceOff
	RPS         float64           `json:"rps"`
	Seed        int64             `json:"seed"`
	Recovery    Duration          `json:"recovery_ms"`     // the recovery window after the rollbacks
	LoadTimeout Duration          `json:"load_timeout_ms"` // the load's per-request timeout
	Start       time.Time         `json:"start"`
	End         time.Time         `json:"end"`
	Status      string            `json:"status"` // the journal's status ("" when the experiment never ran)
	Deviated    bool              `json:"deviated"`
	Interrupted bool              `json:"interrupted,omitempty"` // stopped by Ctrl-C or SIGTERM
	Problems    []string          `json:"problems,omitempty"`    // what the lab saw fail (a service died, a cleanup failed, ...)
	Warnings    []string          `json:"warnings,omitempty"`    // settings that weaken the evidence, said at start
	ClientEnv   map[string]string `json:"client_env"`            // the pipeline variables the client ran with
	Retry       RetrySchedule     `json:"retry"`
	CBWait      Duration          `json:"cb_wait_duration_ms"`
	HalfOpen    int               `json:"cb_half_open_calls,omitempty"`
	Vars        map[string]any    `json:"vars,omitempty"` // --var overrides
	// Objectives are the bounds the run is judged against (the experiment's, then --objective),
	// by name: report.ObjectiveNames.
	Objectives   map[string]float64 `json:"objectives,omitempty"`
	ChaoslabArgs []string           `json:"args,omitempty"`
	// Topology is the call graph of tiers the run started; nil for today's two services. With
	// one, ClientEnv, Resilience, Retry and the breaker settings are the first entry tier's.
	Topology *Topology `json:"topology,omitempty"`
	// GoodputStuckFor and GoodputBackHold, when above 0, replace the goodput's windows (the
	// report's default 30 s for stuck and 5 s in a row for back): a sweep of short runs judges
	// them over the seconds it watches. Absent (0): the defaults.
	GoodputStuckFor Duration `json:"goodput_stuck_for_ms,omitempty"`
	GoodputBackHold Duration `json:"goodput_back_hold_ms,omitempty"`
	// Traces says where the services' spans went and how many the lab kept; nil when the run
	// did not trace (older folders, a stack that does not).
	Traces *TracesInfo `json:"traces,omitempty"`
}

// TracesInfo is what a run did with traces (run.json "traces").
type TracesInfo struct {
	// Endpoint is the OTLP/HTTP base URL the services sent their spans to: the lab's own
	// receiver on loopback, or the user's OTEL_EXPORTER_OTLP_ENDPOINT; "" when not traced.
	Endpoint string `json:"endpoint,omitempty"`
	// Kept: the lab received the spans itself and wrote them to spans.jsonl.
	Kept bool `json:"kept"`
	// Spans is the number of spans in spans.jsonl: every span the receiver took, from the
	// services' start to their stop.
	Spans int `json:"spans"`
	// Refused is the number of spans the receiver refused because it already held Limit.
	Refused int64 `json:"refused"`
	Limit   int   `json:"limit,omitempty"` // the most spans the receiver keeps
	// Sample is the share of the load's requests sent with the sampled flag (0 to 1).
	Sample float64 `json:"sample"`
	// Note says why the spans are not in the folder, or whose settings were kept, for a person.
	Note string `json:"note,omitempty"`
}

// Snapshot is an observation of the services at one moment (observations/before.json and
// after.json), like one run of the guide's observe-system.sh.
type Snapshot struct {
	Time     time.Time                  `json:"time"`
	Moment   string                     `json:"moment"` // "before" or "after"
	Services map[string]ServiceSnapshot `json:"services"`
	Injector *InjectorStats             `json:"injector,omitempty"` // the L7 fault injector's counters since the stack started
}

// InjectorStats are the L7 fault injector's counters: an independent count of the requests that
// crossed the data path between the client and the backend.
type InjectorStats struct {
	Requests        int64 `json:"requests"`         // requests that entered the injector
	Aborted         int64 `json:"aborted"`          // answered by an HTTP fault's abort
	Delayed         int64 `json:"delayed"`          // delayed by an HTTP fault
	Forwarded       int64 `json:"forwarded"`        // forwarded, and the backend answered with headers
	UpstreamRefused int64 `json:"upstream_refused"` // the backend refused the connection (not listening)
	UpstreamErrors  int64 `json:"upstream_errors"`  // every other failure to reach the backend
}

// ServiceSnapshot is what was seen of one service.
type ServiceSnapshot struct {
	Running    bool               `json:"running"`
	PID        int                `json:"pid,omitempty"`
	Restarts   int                `json:"restarts"`
	Healthz    int                `json:"healthz"`              // status of GET /healthz, 0 = no answer
	Readyz     int                `json:"readyz"`               // status of GET /readyz, 0 = no answer
	Resilience json.RawMessage    `json:"resilience,omitempty"` // client only: GET /api/resilience
	Metrics    map[string]float64 `json:"metrics,omitempty"`    // selected series, "name{labels}" -> value
	Error      string             `json:"error,omitempty"`      // what could not be observed
}
