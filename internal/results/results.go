// Package results defines the results folder that a chaoslab run writes and the report reads:
// the file names and the shape of every record in them. It only reads and writes; it computes
// nothing.
//
// A run folder holds:
//
//	run.json                 RunInfo: what was run, with which settings and seed, what went wrong
//	journal.json             the Chaos Toolkit journal of the experiment
//	requests.csv             one Record per load request
//	events.jsonl             one Event per line: fault on/off, breaker transitions, retries,
//	                         fallbacks, every backend attempt, activities, phases, children
//	observations/before.json Snapshot of each service before the fault
//	observations/after.json  Snapshot after the recovery window
//	capacity.csv             one CapacitySample per reading of the backend's GET /api/capacity
//	                         (about once a second, and at the start and the end); only when the
//	                         backend ran with its capacity model on
//	spans.jsonl              the services' spans (OpenTelemetry), one per line, as the lab
//	                         received them on loopback; only when the run kept its traces.
//	                         When the load sent a traceparent, requests.csv gains a last column
//	                         "trace_id"
//	client-service.log, backend-service.log   the services' own logs (JSON lines); with a
//	                         topology (RunInfo.Topology) one <tier>.log per tier instead of
//	                         client-service.log, requests.csv gains a last column "tier" (the
//	                         entry each request went to) and the client records their tier
//	report.md, report.html   written by internal/report
//	summary.json             written by internal/report: every figure, objective and the verdict, for tools
//
// The same content in memory is a Run: the lab hands one to the analysis, ReadRun reads one
// back from a folder.
//
// Encodings, one per kind of value: times are RFC 3339 with nanoseconds, in UTC; durations are
// numbers of milliseconds in fields and columns whose names end in _ms (see Duration); unknown
// attempt counts are an empty cell in requests.csv (UnknownAttempts in memory).
//
// A compare folder (chaoslab run --compare) holds one run folder per profile it ran, two or
// more of baseline/ (RESILIENCE=off), resilient/ (on) and adaptive/ (adaptive), and the
// combined report.md and report.html at its top.
package results

// File and folder names inside a results folder.
const (
	RunFile            = "run.json"
	JournalFile        = "journal.json"
	RequestsFile       = "requests.csv"
	EventsFile         = "events.jsonl"
	ObservationsDir    = "observations"
	BeforeSnapshot     = "before.json"
	AfterSnapshot      = "after.json"
	ClientLogFile      = "client-service.log"
	BackendLogFile     = "backend-service.log"
	ReportMarkdown     = "report.md"
	ReportHTML         = "report.html"
	BaselineDir        = "baseline"
	ResilientDir       = "resilient"
	AdaptiveDir        = "adaptive"
	ClientService      = "client-service"
	BackendService     = "backend-service"
	SourceBackend      = "backend"  // Record.Source: the backend answered
	SourceFallback     = "fallback" // Record.Source: the client's fallback answered
	SourceError        = "error"    // Record.Source: no usable answer (non-200, timeout, refused)
	SourceDropped      = "dropped"  // Record.Source: never sent, the load's in-flight cap was reached
	BreakerClosed      = "CLOSED"
	BreakerOpen        = "OPEN"
	BreakerHalfOpen    = "HALF_OPEN"
	ResilienceOn       = "on"
	ResilienceOff      = "off"
	ResilienceAdaptive = "adaptive"
	ResilienceRetry    = "retry" // the retries and the timeouts only: no breaker, no fallback
	LabelBaseline      = "baseline"
	LabelResilient     = "resilient"
	LabelAdaptive      = "adaptive"
	LabelRetry         = "retry"
	RetryDir           = "retry"
	DefaultStackName   = "local"
)

// HasBreaker says whether a RESILIENCE profile has the circuit breaker (and the fallback): on
// and adaptive do; off and retry do not.
func HasBreaker(resilience string) bool {
	return resilience != ResilienceOff && resilience != ResilienceRetry
}
