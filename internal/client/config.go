package client

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"chaoslab/internal/httpserve"
	"chaoslab/internal/resilience"
	"chaoslab/internal/results"
	"chaoslab/internal/tracing"
)

// Config is client-service's configuration, read from environment variables (DESIGN.md §2).
type Config struct {
	ListenAddr string
	BackendURL string // without a trailing slash
	Tier       string // TIER: the tier's name in a call graph, on every record and metric; "" = none
	Resilience bool   // RESILIENCE=on, retry or adaptive: the patterns run
	RetryOnly  bool   // RESILIENCE=retry: only the retry and the timeouts run; no breaker, no fallback
	Adaptive   bool   // RESILIENCE=adaptive: the patterns adapt (adaptive timeout, probing, retry budget)

	AttemptTimeout time.Duration
	RequestTimeout time.Duration

	MaxRetries     int
	InitialBackoff time.Duration
	Multiplier     float64
	MaxBackoff     time.Duration
	Jitter         float64
	JitterSeed     int // RETRY_JITTER_SEED; 0 = seeded from the clock at start-up

	CBSlidingWindow        int
	CBMinimumCalls         int
	CBFailureRateThreshold float64
	CBWaitDuration         time.Duration
	CBHalfOpenCalls        int

	// RESILIENCE=adaptive only.
	AdaptiveTimeoutFloor    time.Duration
	AdaptiveTimeoutFactor   float64
	AdaptiveTimeoutWindow   int
	AdaptiveColdStart       bool    // ADAPTIVE_COLD_START=on: the cold estimate and the opening on a silent call while cold
	AdaptiveColdMargin      float64 // ADAPTIVE_COLD_MARGIN
	ProbeInterval           time.Duration
	RetryBudgetPercent      float64
	RetryBudgetMin          int
	AdaptiveRetryBackoff    time.Duration
	AdaptiveRetryMaxBackoff time.Duration

	// DEADLINE_PROPAGATION=on: the caller's deadline is read from results.DeadlineHeader and
	// each backend attempt sends its own; a retry needs DeadlineMinAttempt of the caller's left.
	DeadlinePropagation bool
	DeadlineMinAttempt  time.Duration

	BackendConnMaxAge time.Duration
	ShutdownTimeout   time.Duration
	ShutdownDrain     time.Duration // part of ShutdownTimeout: serving on with /readyz at 503
	LogFormat         string
	LogLevel          string // debug, info, warn or error; debug adds one record per backend call

	// Tracing is the OpenTelemetry traces' configuration (OTEL_*); off unless an endpoint is set.
	Tracing tracing.Config
}

type setting = httpserve.Setting[Config]

// variable makes one row of the variables table.
func variable(name, def, help string, set func(c *Config, v string) error) setting {
	return setting{Name: name, Default: def, Help: help, Set: set}
}

// settings is the table of client-service's variables; LoadConfig, Defaults, Effective and
// --help all read it, so they cannot drift apart.
func settings() []setting {
	return slices.Concat([]setting{
		variable("LISTEN_ADDR", ":8080", "address to listen on (port 0 picks a free port)",
			func(c *Config, v string) error { return httpserve.ListenAddr(v, &c.ListenAddr) }),
		variable("BACKEND_URL", "http://localhost:8081", "base URL of backend-service; the only URL ever called",
			func(c *Config, v string) error { return backendURL(v, &c.BackendURL) }),
		variable("TIER", "", "the tier's name in a call graph (such as edge, mid): every log record, /api/resilience and every metric (constant label tier) carry it; empty = none",
			func(c *Config, v string) error { return tierName(v, &c.Tier) }),
		variable("RESILIENCE", "on", "on = the patterns; retry = the retries with ATTEMPT_TIMEOUT and REQUEST_TIMEOUT only: no breaker, no fallback, errors as 502; adaptive = the patterns with an adaptive attempt timeout, active probing while OPEN and a retry budget; off = baseline: one attempt, no breaker, no fallback, errors as 502",
			func(c *Config, v string) error { return profile(v, c) }),
		variable("ATTEMPT_TIMEOUT", "1s", "timeout of one attempt (connect + response)",
			func(c *Config, v string) error { return httpserve.Duration(v, &c.AttemptTimeout, 1) }),
		variable("REQUEST_TIMEOUT", "15s", "deadline of one incoming request, all retries included",
			func(c *Config, v string) error { return httpserve.Duration(v, &c.RequestTimeout, 1) }),
		variable("RETRY_MAX_RETRIES", "5", "retries after the first call",
			func(c *Config, v string) error { return httpserve.Int(v, &c.MaxRetries, 0) }),
		variable("RETRY_INITIAL_BACKOFF", "1s", "wait before retry #1",
			func(c *Config, v string) error { return httpserve.Duration(v, &c.InitialBackoff, 0) }),
		variable("RETRY_MULTIPLIER", "2", "growth of the wait per retry",
			func(c *Config, v string) error { return httpserve.Float(v, &c.Multiplier, 1, 100, false) }),
		variable("RETRY_MAX_BACKOFF", "16s", "cap of one wait",
			func(c *Config, v string) error { return httpserve.Duration(v, &c.MaxBackoff, 0) }),
		variable("RETRY_JITTER", "0.5", "each wait is drawn uniformly from [w*(1-j), w*(1+j)]",
			func(c *Config, v string) error { return httpserve.Float(v, &c.Jitter, 0, 1, false) }),
		variable("RETRY_JITTER_SEED", "0", "seed of the jitter's random numbers, so a run can be repeated (0 = from the clock)",
			func(c *Config, v string) error { return httpserve.Int(v, &c.JitterSeed, 0) }),
		variable("CB_SLIDING_WINDOW", "10", "count-based window of the last N calls",
			func(c *Config, v string) error { return httpserve.Int(v, &c.CBSlidingWindow, 1) }),
		variable("CB_MINIMUM_CALLS", "5", "calls recorded before the failure rate is judged",
			func(c *Config, v string) error { return httpserve.Int(v, &c.CBMinimumCalls, 1) }),
		variable("CB_FAILURE_RATE_THRESHOLD", "50", "percent of failed calls in the window that opens the breaker",
			func(c *Config, v string) error { return httpserve.Float(v, &c.CBFailureRateThreshold, 0, 100, true) }),
		variable("CB_WAIT_DURATION", "10s", "time OPEN before HALF_OPEN",
			func(c *Config, v string) error { return httpserve.Duration(v, &c.CBWaitDuration, 1) }),
		variable("CB_HALF_OPEN_CALLS", "3", "trial calls in HALF_OPEN: all succeed -> CLOSED, one fails -> OPEN",
			func(c *Config, v string) error { return httpserve.Int(v, &c.CBHalfOpenCalls, 1) }),
	}, adaptiveSettings(), []setting{
		variable("DEADLINE_PROPAGATION", "on", "on = a request's "+results.DeadlineHeader+" (ms its caller will still wait) bounds it, and every backend attempt sends the ms this hop will wait for it; off = the header is neither read nor sent",
			func(c *Config, v string) error { return onOff(v, &c.DeadlinePropagation) }),
		variable("DEADLINE_MIN_ATTEMPT", "5ms", "with a caller's deadline: a retry is not started when less than this of it would be left after the retry's wait; the request ends with the last error",
			func(c *Config, v string) error { return httpserve.Duration(v, &c.DeadlineMinAttempt, time.Millisecond) }),
		variable("BACKEND_CONN_MAX_AGE", "30s", "a backend connection older than this is not reused (0 = no limit)",
			func(c *Config, v string) error { return httpserve.Duration(v, &c.BackendConnMaxAge, 0) }),
		variable("SHUTDOWN_TIMEOUT", "10s", "how long in-flight requests may finish on SIGTERM",
			func(c *Config, v string) error { return httpserve.Duration(v, &c.ShutdownTimeout, 0) }),
		variable("SHUTDOWN_DRAIN", "0s", httpserve.DrainHelp,
			func(c *Config, v string) error { return httpserve.Duration(v, &c.ShutdownDrain, 0) }),
		variable("LOG_FORMAT", "text", "text or json",
			func(c *Config, v string) error { return httpserve.Choice(v, &c.LogFormat, "text", "json") }),
		variable("LOG_LEVEL", "info", "debug, info, warn or error; debug adds a record of every backend call (PUT /api/attempt-records?for=2m adds them for a while at any level)",
			func(c *Config, v string) error {
				return httpserve.Choice(v, &c.LogLevel, "debug", "info", "warn", "error")
			}),
	}, tracing.Settings("client-service", func(c *Config) *tracing.Config { return &c.Tracing }))
}

// adaptiveSettings are the variables of RESILIENCE=adaptive, in the table settings.
func adaptiveSettings() []setting {
	return []setting{
		variable("ADAPTIVE_TIMEOUT_FLOOR", "50ms", "adaptive: the attempt timeout is never shorter than this",
			func(c *Config, v string) error {
				return httpserve.Duration(v, &c.AdaptiveTimeoutFloor, time.Millisecond)
			}),
		variable("ADAPTIVE_TIMEOUT_FACTOR", "3", "adaptive: attempt timeout = p99.9 of recent successful calls x this, between ADAPTIVE_TIMEOUT_FLOOR and ATTEMPT_TIMEOUT",
			func(c *Config, v string) error { return httpserve.Float(v, &c.AdaptiveTimeoutFactor, 1, 100, false) }),
		variable("ADAPTIVE_TIMEOUT_WINDOW", "1000", "adaptive: successful calls the p99.9 is taken over; until a tenth of them have succeeded the client is cold (ADAPTIVE_COLD_START)",
			func(c *Config, v string) error { return httpserve.Int(v, &c.AdaptiveTimeoutWindow, 10) }),
		variable("ADAPTIVE_COLD_START", "on", "adaptive, while cold: on = attempt timeout = the slowest of the n calls that succeeded so far x ADAPTIVE_TIMEOUT_FACTOR x (1 + ADAPTIVE_COLD_MARGIN/n), between ADAPTIVE_TIMEOUT_FLOOR and ATTEMPT_TIMEOUT (ATTEMPT_TIMEOUT before the first), and an attempt that gets no answer within it while no other call succeeds opens the breaker, with a probe at once; off = ATTEMPT_TIMEOUT until warm, and only CB_FAILURE_RATE_THRESHOLD opens the breaker",
			func(c *Config, v string) error { return onOff(v, &c.AdaptiveColdStart) }),
		variable("ADAPTIVE_COLD_MARGIN", "10", "adaptive, while cold: the margin of the cold attempt timeout for having seen few calls (x 11 after one, x 2 after ten)",
			func(c *Config, v string) error { return httpserve.Float(v, &c.AdaptiveColdMargin, 0, 1000, false) }),
		variable("PROBE_INTERVAL", "100ms", "adaptive: while OPEN, probe the backend's /readyz this often; the first good probe -> HALF_OPEN",
			func(c *Config, v string) error { return httpserve.Duration(v, &c.ProbeInterval, time.Millisecond) }),
		variable("RETRY_BUDGET_PERCENT", "20", "adaptive: at most this percent of the requests in flight may be retrying ...",
			func(c *Config, v string) error { return httpserve.Float(v, &c.RetryBudgetPercent, 0, 100, true) }),
		variable("RETRY_BUDGET_MIN", "3", "adaptive: ... or this many, whatever their share",
			func(c *Config, v string) error { return httpserve.Int(v, &c.RetryBudgetMin, 0) }),
		variable("ADAPTIVE_RETRY_BACKOFF", "25ms", "adaptive: the wait before retry n is drawn from [0, min(ADAPTIVE_RETRY_MAX_BACKOFF, this x 2^(n-1))]",
			func(c *Config, v string) error { return httpserve.Duration(v, &c.AdaptiveRetryBackoff, 0) }),
		variable("ADAPTIVE_RETRY_MAX_BACKOFF", "250ms", "adaptive: cap of one wait",
			func(c *Config, v string) error { return httpserve.Duration(v, &c.AdaptiveRetryMaxBackoff, 0) }),
	}
}

// LoadConfig reads the configuration from getenv: defaults, then each variable, then the checks
// across variables. A bad value is a cmdutil usage error of one line naming the variable, the
// value and what is allowed.
func LoadConfig(getenv func(string) string) (Config, error) {
	var c Config
	if err := httpserve.Load(settings(), getenv, &c); err != nil {
		return Config{}, err
	}
	if err := c.check(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// check validates what no single variable can: how they relate.
func (c Config) check() error {
	switch {
	case c.CBSlidingWindow < c.CBMinimumCalls:
		return httpserve.Invalid("CB_SLIDING_WINDOW", strconv.Itoa(c.CBSlidingWindow),
			fmt.Sprintf("must be at least CB_MINIMUM_CALLS (%d)", c.CBMinimumCalls))
	case c.AttemptTimeout > c.RequestTimeout:
		return httpserve.Invalid("ATTEMPT_TIMEOUT", c.AttemptTimeout.String(),
			fmt.Sprintf("must not exceed REQUEST_TIMEOUT (%s)", c.RequestTimeout))
	case c.MaxBackoff < c.InitialBackoff:
		return httpserve.Invalid("RETRY_MAX_BACKOFF", c.MaxBackoff.String(),
			fmt.Sprintf("must be at least RETRY_INITIAL_BACKOFF (%s)", c.InitialBackoff))
	case c.AdaptiveTimeoutFloor > c.AttemptTimeout:
		return httpserve.Invalid("ADAPTIVE_TIMEOUT_FLOOR", c.AdaptiveTimeoutFloor.String(),
			fmt.Sprintf("must not exceed ATTEMPT_TIMEOUT (%s)", c.AttemptTimeout))
	case c.DeadlineMinAttempt > c.RequestTimeout:
		return httpserve.Invalid("DEADLINE_MIN_ATTEMPT", c.DeadlineMinAttempt.String(),
			fmt.Sprintf("must not exceed REQUEST_TIMEOUT (%s)", c.RequestTimeout))
	case c.AdaptiveRetryMaxBackoff < c.AdaptiveRetryBackoff:
		return httpserve.Invalid("ADAPTIVE_RETRY_MAX_BACKOFF", c.AdaptiveRetryMaxBackoff.String(),
			fmt.Sprintf("must be at least ADAPTIVE_RETRY_BACKOFF (%s)", c.AdaptiveRetryBackoff))
	}
	return httpserve.CheckDrain(c.ShutdownDrain, c.ShutdownTimeout)
}

// Defaults maps every variable of client-service to its default text, as in DESIGN.md's table.
func Defaults() map[string]string { return httpserve.Defaults(settings()) }

// Effective maps every variable to the value in force, in the variables' own notation.
func (c Config) Effective() map[string]string {
	profile := map[bool]string{true: "on", false: "off"}[c.Resilience]
	switch {
	case c.Adaptive:
		profile = "adaptive"
	case c.RetryOnly:
		profile = "retry"
	}
	f := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	eff := map[string]string{
		"LISTEN_ADDR": c.ListenAddr, "BACKEND_URL": c.BackendURL, "TIER": c.Tier, "RESILIENCE": profile,
		"ATTEMPT_TIMEOUT": c.AttemptTimeout.String(), "REQUEST_TIMEOUT": c.RequestTimeout.String(),
		"RETRY_MAX_RETRIES": strconv.Itoa(c.MaxRetries), "RETRY_INITIAL_BACKOFF": c.InitialBackoff.String(),
		"RETRY_MULTIPLIER": f(c.Multiplier), "RETRY_MAX_BACKOFF": c.MaxBackoff.String(), "RETRY_JITTER": f(c.Jitter),
		"RETRY_JITTER_SEED": strconv.Itoa(c.JitterSeed),
		"CB_SLIDING_WINDOW": strconv.Itoa(c.CBSlidingWindow), "CB_MINIMUM_CALLS": strconv.Itoa(c.CBMinimumCalls),
		"CB_FAILURE_RATE_THRESHOLD": f(c.CBFailureRateThreshold), "CB_WAIT_DURATION": c.CBWaitDuration.String(),
		"CB_HALF_OPEN_CALLS": strconv.Itoa(c.CBHalfOpenCalls), "BACKEND_CONN_MAX_AGE": c.BackendConnMaxAge.String(),
		"ADAPTIVE_TIMEOUT_FLOOR": c.AdaptiveTimeoutFloor.String(), "ADAPTIVE_TIMEOUT_FACTOR": f(c.AdaptiveTimeoutFactor),
		"ADAPTIVE_TIMEOUT_WINDOW": strconv.Itoa(c.AdaptiveTimeoutWindow), "PROBE_INTERVAL": c.ProbeInterval.String(),
		"ADAPTIVE_COLD_START": map[bool]string{true: "on", false: "off"}[c.AdaptiveColdStart], "ADAPTIVE_COLD_MARGIN": f(c.AdaptiveColdMargin),
		"RETRY_BUDGET_PERCENT": f(c.RetryBudgetPercent), "RETRY_BUDGET_MIN": strconv.Itoa(c.RetryBudgetMin),
		"ADAPTIVE_RETRY_BACKOFF": c.AdaptiveRetryBackoff.String(), "ADAPTIVE_RETRY_MAX_BACKOFF": c.AdaptiveRetryMaxBackoff.String(),
		"DEADLINE_PROPAGATION": map[bool]string{true: "on", false: "off"}[c.DeadlinePropagation], "DEADLINE_MIN_ATTEMPT": c.DeadlineMinAttempt.String(),
		"SHUTDOWN_TIMEOUT": c.ShutdownTimeout.String(), "SHUTDOWN_DRAIN": c.ShutdownDrain.String(), "LOG_FORMAT": c.LogFormat, "LOG_LEVEL": c.LogLevel,
	}
	maps.Copy(eff, c.Tracing.Effective())
	return eff
}

// pipelineConfig is the part of the configuration the resilience pipeline runs on.
func (c Config) pipelineConfig() resilience.Config {
	return resilience.Config{
		Enabled: c.Resilience, RetryOnly: c.RetryOnly, AttemptTimeout: c.AttemptTimeout, RequestTimeout: c.RequestTimeout,
		MaxRetries: c.MaxRetries, InitialBackoff: c.InitialBackoff, Multiplier: c.Multiplier,
		MaxBackoff: c.MaxBackoff, Jitter: c.Jitter,
		SlidingWindow: c.CBSlidingWindow, MinimumCalls: c.CBMinimumCalls,
		FailureRateThreshold: c.CBFailureRateThreshold, WaitDuration: c.CBWaitDuration,
		HalfOpenCalls: c.CBHalfOpenCalls,
		Adaptive: resilience.Adaptive{Enabled: c.Adaptive,
			TimeoutFloor: c.AdaptiveTimeoutFloor, TimeoutFactor: c.AdaptiveTimeoutFactor, TimeoutWindow: c.AdaptiveTimeoutWindow,
			ColdStart: c.AdaptiveColdStart, ColdMargin: c.AdaptiveColdMargin,
			ProbeInterval: c.ProbeInterval, BudgetPercent: c.RetryBudgetPercent, BudgetMin: c.RetryBudgetMin,
			RetryBackoff: c.AdaptiveRetryBackoff, RetryMaxBackoff: c.AdaptiveRetryMaxBackoff},
		Propagation: c.DeadlinePropagation, MinAttempt: c.DeadlineMinAttempt,
	}
}

// level is LOG_LEVEL as a slog level.
func (c Config) level() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return slog.LevelInfo // not reached: the LOG_LEVEL setting allows only slog's level names
	}
	return l
}

// profile reads RESILIENCE: on, retry, adaptive or off.
func profile(v string, c *Config) error {
	switch v {
	case "on", "retry", "adaptive", "off":
		c.Resilience, c.RetryOnly, c.Adaptive = v != "off", v == "retry", v == "adaptive"
		return nil
	}
	return errors.New("must be on, retry, adaptive or off")
}

// onOff reads on or off.
func onOff(v string, dst *bool) error {
	switch v {
	case "on", "off":
		*dst = v == "on"
		return nil
	}
	return errors.New("must be on or off")
}

// tierPattern is what a tier may be called: a Kubernetes label value, so it can be a pod's label
// too, and safe unquoted in a log line.
var tierPattern = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$`)

// tierName reads TIER.
func tierName(v string, dst *string) error {
	if !tierPattern.MatchString(v) {
		return errors.New("must be empty or a name of at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, such as edge")
	}
	*dst = v
	return nil
}

func backendURL(v string, dst *string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return errors.New("must be an http:// or https:// base URL with a host, such as http://localhost:8081")
	}
	*dst = strings.TrimRight(v, "/")
	return nil
}
