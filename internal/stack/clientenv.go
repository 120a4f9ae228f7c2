package stack

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"chaoslab/internal/client"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/results"
)

// clientGetenv is the environment a client child sees: the lab's overrides over chaoslab's own.
func clientGetenv(overrides map[string]string) func(string) string {
	return func(k string) string {
		if v, ok := overrides[k]; ok {
			return v
		}
		return os.Getenv(k)
	}
}

// CheckClientEnv validates the pipeline variables the client will be started with, so a bad
// value or a variable client-service does not know is a usage error before anything starts.
func CheckClientEnv(overrides map[string]string) error {
	known := client.Defaults()
	for k := range overrides {
		if _, ok := known[k]; !ok {
			return cmdutil.Usagef("--env %s: client-service has no such variable; known: %s", k, strings.Join(slices.Sorted(maps.Keys(known)), ", "))
		}
	}
	if _, err := client.LoadConfig(clientGetenv(overrides)); err != nil {
		return err
	}
	return nil
}

// ClientSettings is what a run records of the client's configuration.
type ClientSettings struct {
	Env            map[string]string // every pipeline variable, with the value it runs with
	Resilience     string            // results.ResilienceOn, ResilienceAdaptive or ResilienceOff
	Retry          results.RetrySchedule
	CBWait         time.Duration
	HalfOpenCalls  int
	AttemptTimeout time.Duration
	RequestTimeout time.Duration
}

// DescribeClient reads the configuration the client will run with, given the lab's overrides.
// The overrides must have passed CheckClientEnv.
func DescribeClient(overrides map[string]string) (ClientSettings, error) {
	getenv := clientGetenv(overrides)
	cs := ClientSettings{Env: map[string]string{}}
	for k, def := range client.Defaults() {
		if v := getenv(k); v != "" {
			cs.Env[k] = v
		} else {
			cs.Env[k] = def
		}
	}
	cfg, err := client.LoadConfig(getenv)
	if err != nil {
		return cs, fmt.Errorf("client-service configuration: %w", err)
	}
	cs.Resilience = cs.Env["RESILIENCE"]
	cs.Retry = results.RetrySchedule{MaxRetries: cfg.MaxRetries, InitialBackoff: results.Duration(cfg.InitialBackoff),
		Multiplier: cfg.Multiplier, MaxBackoff: results.Duration(cfg.MaxBackoff), Jitter: cfg.Jitter}
	cs.CBWait, cs.HalfOpenCalls = cfg.CBWaitDuration, cfg.CBHalfOpenCalls
	cs.AttemptTimeout, cs.RequestTimeout = cfg.AttemptTimeout, cfg.RequestTimeout
	return cs, nil
}
