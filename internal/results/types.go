package results

import (
	"encoding/json"
	"time"
)

// Record is one load request as the load generator saw it. It is one row of requests.csv.
type Record struct {
	Start    time.Time     // when the request was sent (scheduled arrival time of the open loop)
	Latency  time.Duration // until the whole answer was read, or until it failed
	Status   int           // HTTP status; 0 when there was no answer (timeout, refused, reset)
	Source   string        // SourceBackend, SourceFallback or SourceError
	Attempts int           // backend attempts the client reported (the "attempts" field); 0 if unknown
	Breaker  string        // circuitBreakerState the client reported; "" if unknown
	Error    string        // why it failed, for SourceError and SourceFallback; "" otherwise
}

// Event kinds written to events.jsonl.
const (
	KindFault      = "fault"      // a fault was injected (Action "on") or removed (Action "off")
	KindBreaker    = "breaker"    // the circuit breaker changed state (From, To)
	KindRetry      = "retry"      // the client scheduled a retry (Attempt, WaitMS, Error)
	KindFallback   = "fallback"   // the client answered with its fallback (Error)
	KindActivity   = "activity"   // an experiment activity started or ended (Name, Action "start"/"end", Status)
	KindPhase      = "phase"      // the run entered a phase (Phase)
	KindChildExit  = "child-exit" // a service process exited (Service, Error); fails the run unless stopping
	KindExperiment = "experiment" // the experiment ended (Status, Message)
)

// Event is one line of events.jsonl. Only the fields that matter for its Kind are set.
type Event struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	Action  string    `json:"action,omitempty"`  // fault: on|off; activity: start|end
	Name    string    `json:"name,omitempty"`    // fault or activity name
	From    string    `json:"from,omitempty"`    // breaker: previous state
	To      string    `json:"to,omitempty"`      // breaker: new state
	Attempt int       `json:"attempt,omitempty"` // retry: retry number (1 = first retry)
	WaitMS  float64   `json:"wait_ms,omitempty"` // retry: the wait before this retry, in ms
	Phase   string    `json:"phase,omitempty"`   // phase: before|during|after|recovery|done
	Service string    `json:"service,omitempty"` // child-exit: which service
	Status  string    `json:"status,omitempty"`  // activity/experiment status
	Error   string    `json:"error,omitempty"`   // retry/fallback/child-exit: the error text
	Message string    `json:"message,omitempty"` // free text for a person
}

// RetrySchedule is the configured retry policy, so the report can compare observed waits with it.
type RetrySchedule struct {
	MaxRetries     int     `json:"max_retries"`
	InitialBackoff string  `json:"initial_backoff"` // Go duration text, e.g. "1s"
	Multiplier     float64 `json:"multiplier"`
	MaxBackoff     string  `json:"max_backoff"`
	Jitter         float64 `json:"jitter"`
}

// RunInfo is run.json: what was run and how it ended.
type RunInfo struct {
	Label        string            `json:"label,omitempty"` // LabelBaseline or LabelResilient in a compare run
	Title        string            `json:"title"`           // the experiment's title
	Experiment   string            `json:"experiment"`      // path, or "built-in"
	Stack        string            `json:"stack"`           // local | netns
	Resilience   string            `json:"resilience"`      // ResilienceOn | ResilienceOff
	RPS          float64           `json:"rps"`
	Seed         int64             `json:"seed"`
	Recovery     string            `json:"recovery"` // the recovery window after the rollbacks
	Start        time.Time         `json:"start"`
	End          time.Time         `json:"end"`
	Status       string            `json:"status"` // the journal's status
	Deviated     bool              `json:"deviated"`
	ExitCode     int               `json:"exit_code"`
	Failure      string            `json:"failure,omitempty"` // why the run failed, for a person
	ClientEnv    map[string]string `json:"client_env"`        // the pipeline variables the client ran with
	Retry        RetrySchedule     `json:"retry"`
	CBWait       string            `json:"cb_wait_duration"`
	Vars         map[string]any    `json:"vars,omitempty"` // --var overrides
	ChaoslabArgs []string          `json:"args,omitempty"`
}

// Snapshot is an observation of the services at one moment (observations/before.json and
// after.json), like one run of the guide's observe-system.sh.
type Snapshot struct {
	Time     time.Time                  `json:"time"`
	Moment   string                     `json:"moment"` // "before" or "after"
	Services map[string]ServiceSnapshot `json:"services"`
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
