package resilience

import "time"

// Names of the two stateful policies, as they appear in log lines and metric labels.
const (
	BreakerName = "backendCB"
	RetryName   = "backendRetry"
)

// Config is the pipeline's configuration. The client package fills it from its variables and
// validates it; New trusts it.
type Config struct {
	Enabled        bool          // false = the baseline: one attempt, no timeout, no breaker, no fallback
	RetryOnly      bool          // with Enabled: the retry, the attempt timeout and the request deadline only; no breaker, no fallback
	AttemptTimeout time.Duration // timeout of one attempt
	RequestTimeout time.Duration // deadline of one request, all retries included

	MaxRetries     int           // retries after the first call
	InitialBackoff time.Duration // wait before retry #1
	Multiplier     float64       // growth of the wait per retry
	MaxBackoff     time.Duration // cap of one wait (before jitter)
	Jitter         float64       // each wait is drawn from [w·(1−j), w·(1+j)]

	SlidingWindow        int           // count-based window of the last N calls
	MinimumCalls         int           // calls recorded before the failure rate is judged
	FailureRateThreshold float64       // percent of failed calls that opens the breaker
	WaitDuration         time.Duration // time OPEN before HALF_OPEN
	HalfOpenCalls        int           // trial calls in HALF_OPEN

	Adaptive Adaptive // the adaptive profile's parts; used when Adaptive.Enabled (and Enabled, not RetryOnly)

	// Propagation honours the caller's deadline a request carries (WithCallerTimeout), in every
	// profile: it bounds the request, and a retry is not started with less than MinAttempt of it left.
	Propagation bool
	MinAttempt  time.Duration
}

// hasBreaker reports whether the profile runs the circuit breaker (and the fallback): on and
// adaptive do; off and RetryOnly do not.
func (c Config) hasBreaker() bool { return c.Enabled && !c.RetryOnly }

// Adaptive configures the adaptive profile (RESILIENCE=adaptive): the seed's pipeline with an
// attempt timeout learned from the backend's latency, active probing while OPEN and a retry
// budget with a short, fully jittered backoff in place of the exponential one.
type Adaptive struct {
	Enabled bool

	// The attempt timeout is clamp(p99.9 of the last TimeoutWindow successful calls × TimeoutFactor,
	// TimeoutFloor, AttemptTimeout) once TimeoutWindow/10 calls have succeeded (warm). Until then
	// (cold) it is AttemptTimeout, or with ColdStart the cold estimate below.
	TimeoutFloor  time.Duration
	TimeoutFactor float64
	TimeoutWindow int

	// ColdStart protects a cold process (fewer than TimeoutWindow/10 calls succeeded) from the
	// first second. The attempt timeout is clamp(s × TimeoutFactor × (1 + ColdMargin/n),
	// TimeoutFloor, AttemptTimeout), s the slowest of the n calls that succeeded so far
	// (AttemptTimeout while n is 0): never shorter than the warm rule on the same calls, and the
	// fewer calls it has seen, the wider its margin. An attempt that gets no answer at all within
	// it, while no other call succeeded, opens the breaker at once (the window need not judge);
	// the first probe then goes at the opening, so a false opening lasts one probe. The zero
	// value is today's cold behaviour: AttemptTimeout until warm, the window alone opens.
	ColdStart  bool
	ColdMargin float64

	// While OPEN, the backend's /readyz is probed every ProbeInterval (Options.Probe); the first
	// probe that succeeds moves the breaker to HALF_OPEN.
	ProbeInterval time.Duration

	// At most BudgetPercent % of the executions in flight may be retries, or BudgetMin retries
	// whatever their share (failsafe-go's budget, with Envoy's and Finagle's defaults).
	BudgetPercent float64
	BudgetMin     int

	// The wait before retry n is drawn uniformly from [0, min(RetryMaxBackoff, RetryBackoff·2^(n-1))].
	RetryBackoff    time.Duration
	RetryMaxBackoff time.Duration
}
