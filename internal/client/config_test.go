package client

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/cmdutil"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaultsMatchDesign(t *testing.T) {
	want := map[string]string{
		"LISTEN_ADDR": ":8080", "BACKEND_URL": "http://localhost:8081", "TIER": "", "RESILIENCE": "on",
		"ATTEMPT_TIMEOUT": "1s", "REQUEST_TIMEOUT": "15s", "RETRY_MAX_RETRIES": "5",
		"RETRY_INITIAL_BACKOFF": "1s", "RETRY_MULTIPLIER": "2", "RETRY_MAX_BACKOFF": "16s",
		"RETRY_JITTER": "0.5", "RETRY_JITTER_SEED": "0", "CB_SLIDING_WINDOW": "10", "CB_MINIMUM_CALLS": "5",
		"CB_FAILURE_RATE_THRESHOLD": "50", "CB_WAIT_DURATION": "10s", "CB_HALF_OPEN_CALLS": "3",
		"BACKEND_CONN_MAX_AGE": "30s", "SHUTDOWN_TIMEOUT": "10s", "SHUTDOWN_DRAIN": "0s", "LOG_FORMAT": "text", "LOG_LEVEL": "info",
		"ADAPTIVE_TIMEOUT_FLOOR": "50ms", "ADAPTIVE_TIMEOUT_FACTOR": "3", "ADAPTIVE_TIMEOUT_WINDOW": "1000",
		"ADAPTIVE_COLD_START": "on", "ADAPTIVE_COLD_MARGIN": "10",
		"PROBE_INTERVAL": "100ms", "RETRY_BUDGET_PERCENT": "20", "RETRY_BUDGET_MIN": "3",
		"ADAPTIVE_RETRY_BACKOFF": "25ms", "ADAPTIVE_RETRY_MAX_BACKOFF": "250ms",
		"DEADLINE_PROPAGATION": "on", "DEADLINE_MIN_ATTEMPT": "5ms",
		"OTEL_EXPORTER_OTLP_ENDPOINT": "", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "", "OTEL_TRACES_SAMPLER": "parentbased_always_on",
		"OTEL_TRACES_SAMPLER_ARG": "1", "OTEL_SERVICE_NAME": "client-service",
	}
	if got := Defaults(); !maps.Equal(got, want) {
		t.Errorf("Defaults() = %v\nwant %v", got, want)
	}
	cfg, err := LoadConfig(envOf(nil))
	if err != nil {
		t.Fatalf("LoadConfig with no variables: %v", err)
	}
	if got := cfg.Effective(); !maps.Equal(got, want) {
		t.Errorf("effective configuration with no variables = %v\nwant the defaults", got)
	}
}

func TestLoadConfigOverrides(t *testing.T) {
	tests := []struct {
		name, variable, value string
		ok                    func(Config) bool
	}{
		{"listen on port 0", "LISTEN_ADDR", "127.0.0.1:0", func(c Config) bool { return c.ListenAddr == "127.0.0.1:0" }},
		{"backend URL loses its trailing slash", "BACKEND_URL", "http://backend:9000/", func(c Config) bool { return c.BackendURL == "http://backend:9000" }},
		{"resilience off", "RESILIENCE", "off", func(c Config) bool { return !c.Resilience && !c.Adaptive }},
		{"resilience retry", "RESILIENCE", "retry", func(c Config) bool {
			pc := c.pipelineConfig()
			return pc.Enabled && pc.RetryOnly && !pc.Adaptive.Enabled && c.Effective()["RESILIENCE"] == "retry"
		}},
		{"resilience adaptive", "RESILIENCE", "adaptive", func(c Config) bool {
			return c.Resilience && c.Adaptive && c.pipelineConfig().Adaptive.Enabled && c.Effective()["RESILIENCE"] == "adaptive"
		}},
		{"adaptive floor", "ADAPTIVE_TIMEOUT_FLOOR", "10ms", func(c Config) bool { return c.pipelineConfig().Adaptive.TimeoutFloor == 10*time.Millisecond }},
		{"adaptive factor", "ADAPTIVE_TIMEOUT_FACTOR", "1.5", func(c Config) bool { return c.pipelineConfig().Adaptive.TimeoutFactor == 1.5 }},
		{"adaptive window", "ADAPTIVE_TIMEOUT_WINDOW", "200", func(c Config) bool { return c.pipelineConfig().Adaptive.TimeoutWindow == 200 }},
		{"adaptive cold start on by default", "RESILIENCE", "adaptive", func(c Config) bool {
			a := c.pipelineConfig().Adaptive
			return a.ColdStart && a.ColdMargin == 10
		}},
		{"adaptive cold start off", "ADAPTIVE_COLD_START", "off", func(c Config) bool { return !c.pipelineConfig().Adaptive.ColdStart }},
		{"adaptive cold margin", "ADAPTIVE_COLD_MARGIN", "2.5", func(c Config) bool { return c.pipelineConfig().Adaptive.ColdMargin == 2.5 }},
		{"probe interval", "PROBE_INTERVAL", "20ms", func(c Config) bool { return c.pipelineConfig().Adaptive.ProbeInterval == 20*time.Millisecond }},
		{"budget percent", "RETRY_BUDGET_PERCENT", "10", func(c Config) bool { return c.pipelineConfig().Adaptive.BudgetPercent == 10 }},
		{"budget minimum", "RETRY_BUDGET_MIN", "0", func(c Config) bool { return c.pipelineConfig().Adaptive.BudgetMin == 0 }},
		{"adaptive backoff", "ADAPTIVE_RETRY_BACKOFF", "5ms", func(c Config) bool { return c.pipelineConfig().Adaptive.RetryBackoff == 5*time.Millisecond }},
		{"adaptive max backoff", "ADAPTIVE_RETRY_MAX_BACKOFF", "1s", func(c Config) bool { return c.pipelineConfig().Adaptive.RetryMaxBackoff == time.Second }},
		{"attempt timeout", "ATTEMPT_TIMEOUT", "250ms", func(c Config) bool { return c.AttemptTimeout == 250*time.Millisecond }},
		{"request timeout", "REQUEST_TIMEOUT", "2s", func(c Config) bool { return c.RequestTimeout == 2*time.Second }},
		{"no retries", "RETRY_MAX_RETRIES", "0", func(c Config) bool { return c.MaxRetries == 0 }},
		{"initial backoff", "RETRY_INITIAL_BACKOFF", "10ms", func(c Config) bool { return c.InitialBackoff == 10*time.Millisecond }},
		{"multiplier", "RETRY_MULTIPLIER", "1.5", func(c Config) bool { return c.Multiplier == 1.5 }},
		{"max backoff", "RETRY_MAX_BACKOFF", "30s", func(c Config) bool { return c.MaxBackoff == 30*time.Second }},
		{"no jitter", "RETRY_JITTER", "0", func(c Config) bool { return c.Jitter == 0 }},
		{"jitter seed", "RETRY_JITTER_SEED", "42", func(c Config) bool { return c.JitterSeed == 42 }},
		{"window", "CB_SLIDING_WINDOW", "20", func(c Config) bool { return c.CBSlidingWindow == 20 }},
		{"minimum calls", "CB_MINIMUM_CALLS", "10", func(c Config) bool { return c.CBMinimumCalls == 10 }},
		{"threshold", "CB_FAILURE_RATE_THRESHOLD", "100", func(c Config) bool { return c.CBFailureRateThreshold == 100 }},
		{"wait", "CB_WAIT_DURATION", "500ms", func(c Config) bool { return c.CBWaitDuration == 500*time.Millisecond }},
		{"half-open calls", "CB_HALF_OPEN_CALLS", "1", func(c Config) bool { return c.CBHalfOpenCalls == 1 }},
		{"deadline propagation off", "DEADLINE_PROPAGATION", "off", func(c Config) bool {
			return !c.DeadlinePropagation && !c.pipelineConfig().Propagation && c.Effective()["DEADLINE_PROPAGATION"] == "off"
		}},
		{"deadline minimum attempt", "DEADLINE_MIN_ATTEMPT", "20ms", func(c Config) bool { return c.pipelineConfig().MinAttempt == 20*time.Millisecond }},
		{"no connection age limit", "BACKEND_CONN_MAX_AGE", "0", func(c Config) bool { return c.BackendConnMaxAge == 0 }},
		{"shutdown timeout", "SHUTDOWN_TIMEOUT", "1s", func(c Config) bool { return c.ShutdownTimeout == time.Second }},
		{"JSON logs", "LOG_FORMAT", "json", func(c Config) bool { return c.LogFormat == "json" }},
		{"debug logs", "LOG_LEVEL", "debug", func(c Config) bool { return c.level() == slog.LevelDebug }},
		{"error logs only", "LOG_LEVEL", "error", func(c Config) bool { return c.level() == slog.LevelError }},
		{"spaces around a value", "RETRY_MAX_RETRIES", " 2 ", func(c Config) bool { return c.MaxRetries == 2 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := LoadConfig(envOf(map[string]string{tt.variable: tt.value}))
			if err != nil {
				t.Fatalf("%s=%q: %v", tt.variable, tt.value, err)
			}
			if !tt.ok(cfg) {
				t.Errorf("%s=%q gave %+v", tt.variable, tt.value, cfg)
			}
		})
	}
}

func TestLoadConfigRejects(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantVar string // the variable the message must start with
	}{
		{"unparsable duration", map[string]string{"ATTEMPT_TIMEOUT": "abc"}, "ATTEMPT_TIMEOUT"},
		{"duration without unit", map[string]string{"REQUEST_TIMEOUT": "15"}, "REQUEST_TIMEOUT"},
		{"zero attempt timeout", map[string]string{"ATTEMPT_TIMEOUT": "0s"}, "ATTEMPT_TIMEOUT"},
		{"negative backoff", map[string]string{"RETRY_INITIAL_BACKOFF": "-1s"}, "RETRY_INITIAL_BACKOFF"},
		{"negative count", map[string]string{"RETRY_MAX_RETRIES": "-1"}, "RETRY_MAX_RETRIES"},
		{"count not a number", map[string]string{"CB_SLIDING_WINDOW": "ten"}, "CB_SLIDING_WINDOW"},
		{"zero half-open calls", map[string]string{"CB_HALF_OPEN_CALLS": "0"}, "CB_HALF_OPEN_CALLS"},
		{"threshold over 100", map[string]string{"CB_FAILURE_RATE_THRESHOLD": "101"}, "CB_FAILURE_RATE_THRESHOLD"},
		{"threshold of 0", map[string]string{"CB_FAILURE_RATE_THRESHOLD": "0"}, "CB_FAILURE_RATE_THRESHOLD"},
		{"jitter over 1", map[string]string{"RETRY_JITTER": "1.5"}, "RETRY_JITTER"},
		{"negative jitter seed", map[string]string{"RETRY_JITTER_SEED": "-1"}, "RETRY_JITTER_SEED"},
		{"multiplier under 1", map[string]string{"RETRY_MULTIPLIER": "0.5"}, "RETRY_MULTIPLIER"},
		{"window smaller than the minimum calls", map[string]string{"CB_SLIDING_WINDOW": "3"}, "CB_SLIDING_WINDOW"},
		{"attempt longer than the request", map[string]string{"ATTEMPT_TIMEOUT": "20s"}, "ATTEMPT_TIMEOUT"},
		{"max backoff under the initial", map[string]string{"RETRY_MAX_BACKOFF": "500ms"}, "RETRY_MAX_BACKOFF"},
		{"negative connection age", map[string]string{"BACKEND_CONN_MAX_AGE": "-5s"}, "BACKEND_CONN_MAX_AGE"},
		{"resilience neither on, retry, adaptive nor off", map[string]string{"RESILIENCE": "yes"}, "RESILIENCE"},
		{"adaptive floor above the attempt timeout", map[string]string{"ADAPTIVE_TIMEOUT_FLOOR": "2s"}, "ADAPTIVE_TIMEOUT_FLOOR"},
		{"adaptive floor under a millisecond", map[string]string{"ADAPTIVE_TIMEOUT_FLOOR": "10us"}, "ADAPTIVE_TIMEOUT_FLOOR"},
		{"adaptive factor under 1", map[string]string{"ADAPTIVE_TIMEOUT_FACTOR": "0.5"}, "ADAPTIVE_TIMEOUT_FACTOR"},
		{"adaptive window too small", map[string]string{"ADAPTIVE_TIMEOUT_WINDOW": "5"}, "ADAPTIVE_TIMEOUT_WINDOW"},
		{"adaptive cold start neither on nor off", map[string]string{"ADAPTIVE_COLD_START": "yes"}, "ADAPTIVE_COLD_START"},
		{"negative adaptive cold margin", map[string]string{"ADAPTIVE_COLD_MARGIN": "-1"}, "ADAPTIVE_COLD_MARGIN"},
		{"zero probe interval", map[string]string{"PROBE_INTERVAL": "0s"}, "PROBE_INTERVAL"},
		{"budget of 0 percent", map[string]string{"RETRY_BUDGET_PERCENT": "0"}, "RETRY_BUDGET_PERCENT"},
		{"budget over 100 percent", map[string]string{"RETRY_BUDGET_PERCENT": "150"}, "RETRY_BUDGET_PERCENT"},
		{"negative budget minimum", map[string]string{"RETRY_BUDGET_MIN": "-1"}, "RETRY_BUDGET_MIN"},
		{"adaptive max backoff under the base", map[string]string{"ADAPTIVE_RETRY_MAX_BACKOFF": "10ms"}, "ADAPTIVE_RETRY_MAX_BACKOFF"},
		{"deadline propagation neither on nor off", map[string]string{"DEADLINE_PROPAGATION": "yes"}, "DEADLINE_PROPAGATION"},
		{"deadline minimum attempt under a millisecond", map[string]string{"DEADLINE_MIN_ATTEMPT": "500us"}, "DEADLINE_MIN_ATTEMPT"},
		{"deadline minimum attempt longer than the request", map[string]string{"DEADLINE_MIN_ATTEMPT": "16s"}, "DEADLINE_MIN_ATTEMPT"},
		{"unknown log format", map[string]string{"LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		{"unknown log level", map[string]string{"LOG_LEVEL": "verbose"}, "LOG_LEVEL"},
		{"log level in capitals", map[string]string{"LOG_LEVEL": "DEBUG"}, "LOG_LEVEL"},
		{"backend URL without scheme", map[string]string{"BACKEND_URL": "localhost:8081"}, "BACKEND_URL"},
		{"backend URL with a query", map[string]string{"BACKEND_URL": "http://b:1/?x=1"}, "BACKEND_URL"},
		{"listen address without port", map[string]string{"LISTEN_ADDR": "localhost"}, "LISTEN_ADDR"},
		{"listen port out of range", map[string]string{"LISTEN_ADDR": ":70000"}, "LISTEN_ADDR"},
		{"negative shutdown timeout", map[string]string{"SHUTDOWN_TIMEOUT": "-1s"}, "SHUTDOWN_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig(envOf(tt.env))
			checkUsageError(t, err, tt.wantVar)
			// Run refuses the same way, before it listens: exit status 2.
			err = Run(context.Background(), nil, envOf(tt.env), io.Discard, io.Discard)
			checkUsageError(t, err, tt.wantVar)
		})
	}
}

func checkUsageError(t *testing.T, err error, variable string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one naming %s", variable)
	}
	if !errors.Is(err, cmdutil.ErrUsage) || cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Errorf("error %q gives exit status %d, want 2", err, cmdutil.ExitCode(err))
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, variable+"=") {
		t.Errorf("message %q, want one line starting with %s=", msg, variable)
	}
}

func TestRunArgs(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantErr  error
		wantHelp bool
	}{
		{"help lists the variables", []string{"--help"}, cmdutil.ErrHelp, true},
		{"short help", []string{"-h"}, cmdutil.ErrHelp, true},
		{"unexpected argument", []string{"serve"}, cmdutil.ErrUsage, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			err := Run(context.Background(), tt.args, envOf(nil), &out, io.Discard)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantHelp {
				for name, def := range Defaults() {
					if !strings.Contains(out.String(), name) || !strings.Contains(out.String(), def) {
						t.Errorf("help lacks %s (default %s)", name, def)
					}
				}
			}
		})
	}
}
