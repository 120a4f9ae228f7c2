package resilience

// Snapshot is the pipeline's state and counters, as served on GET /api/resilience.
type Snapshot struct {
	Enabled           bool              `json:"enabled"`
	CircuitBreaker    BreakerSnapshot   `json:"circuitBreaker"`
	Retry             RetrySnapshot     `json:"retry"`
	FallbackResponses int64             `json:"fallbackResponses"`
	Adaptive          *AdaptiveSnapshot `json:"adaptive,omitempty"` // RESILIENCE=adaptive only
	Deadline          *DeadlineSnapshot `json:"deadline,omitempty"` // DEADLINE_PROPAGATION=on only
}

// DeadlineSnapshot is the caller's deadlines' part of a Snapshot (Config.Propagation).
type DeadlineSnapshot struct {
	MinAttemptMs     float64 `json:"minAttemptMs"`     // a retry is not started with less of the caller's deadline left
	RetriesSkipped   int64   `json:"retriesSkipped"`   // retries not started for that
	ExpiredOnArrival int64   `json:"expiredOnArrival"` // requests whose caller's deadline had passed on arrival
}

// AdaptiveSnapshot is the adaptive profile's part of a Snapshot.
type AdaptiveSnapshot struct {
	AttemptTimeoutMs float64 `json:"attemptTimeoutMs"` // the attempt timeout in force
	Samples          int     `json:"samples"`          // successful calls in the timeout's window
	P999Ms           float64 `json:"p999Ms"`           // their p99.9 (0 before the first)
	ProbesSucceeded  int64   `json:"probesSucceeded"`
	ProbesFailed     int64   `json:"probesFailed"`
	BudgetRate       float64 `json:"budgetRate"`    // share of the executions in flight that are retries, 0 to 1
	BudgetRefused    int64   `json:"budgetRefused"` // retries the budget refused
	Cold             bool    `json:"cold"`          // fewer than a tenth of ADAPTIVE_TIMEOUT_WINDOW calls have succeeded
	ColdOpenings     int64   `json:"coldOpenings"`  // openings by a silent call while cold (ADAPTIVE_COLD_START)
}

// BreakerSnapshot is the circuit breaker's part of a Snapshot.
type BreakerSnapshot struct {
	Name              string  `json:"name"`
	State             State   `json:"state"`
	FailureRate       float64 `json:"failureRate"` // percent; -1 below the minimum number of calls
	BufferedCalls     int     `json:"bufferedCalls"`
	FailedCalls       int     `json:"failedCalls"`
	NotPermittedCalls int64   `json:"notPermittedCalls"`
	IgnoredCalls      int64   `json:"ignoredCalls"`    // calls cut by their caller: neither success nor failure
	RemainingWaitMs   int64   `json:"remainingWaitMs"` // time left OPEN before HALF_OPEN
}

// RetrySnapshot is the retry's part of a Snapshot: requests by outcome, and retries scheduled.
type RetrySnapshot struct {
	Name                   string `json:"name"`
	SuccessfulWithoutRetry int64  `json:"successfulWithoutRetry"`
	SuccessfulWithRetry    int64  `json:"successfulWithRetry"`
	FailedWithoutRetry     int64  `json:"failedWithoutRetry"`
	FailedWithRetry        int64  `json:"failedWithRetry"`
	RetriesScheduled       int64  `json:"retriesScheduled"`
}

// Snapshot returns the pipeline's current state and counters.
func (p *Pipeline) Snapshot() Snapshot {
	c := &p.obs.counts
	return Snapshot{
		Enabled:        p.cfg.Enabled,
		CircuitBreaker: p.breakerSnapshot(),
		Retry: RetrySnapshot{
			Name:                   RetryName,
			SuccessfulWithoutRetry: c.okWithout.Load(),
			SuccessfulWithRetry:    c.okWith.Load(),
			FailedWithoutRetry:     c.failedWithout.Load(),
			FailedWithRetry:        c.failedWith.Load(),
			RetriesScheduled:       c.retries.Load(),
		},
		FallbackResponses: c.fallbacks.Load(),
		Adaptive:          p.adaptiveSnapshot(),
		Deadline:          p.deadlineSnapshot(),
	}
}

func (p *Pipeline) deadlineSnapshot() *DeadlineSnapshot {
	if !p.cfg.Propagation {
		return nil
	}
	c := &p.obs.counts
	return &DeadlineSnapshot{MinAttemptMs: ms(p.cfg.MinAttempt), RetriesSkipped: c.retriesSkipped.Load(), ExpiredOnArrival: c.expired.Load()}
}

func (p *Pipeline) adaptiveSnapshot() *AdaptiveSnapshot {
	if p.adaptive == nil {
		return nil
	}
	c := &p.obs.counts
	n, q, t := p.adaptive.timeout.state()
	return &AdaptiveSnapshot{AttemptTimeoutMs: ms(t), Samples: n, P999Ms: ms(q),
		ProbesSucceeded: c.probesOK.Load(), ProbesFailed: c.probesFailed.Load(),
		BudgetRate: p.adaptive.budget.Rate(), BudgetRefused: c.budgetRefused.Load(),
		Cold: p.adaptive.timeout.isCold(), ColdOpenings: p.adaptive.coldOpenings.Load()}
}

func (p *Pipeline) breakerSnapshot() BreakerSnapshot {
	c := &p.obs.counts
	b := BreakerSnapshot{Name: BreakerName, State: StateDisabled, FailureRate: -1,
		NotPermittedCalls: c.notPermitted.Load(), IgnoredCalls: c.ignored.Load()}
	if p.breaker != nil {
		p.breaker.fill(&b)
	}
	return b
}
