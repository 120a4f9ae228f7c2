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
}
