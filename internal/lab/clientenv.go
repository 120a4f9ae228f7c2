package lab

import (
	"os"

	"chaoslab/internal/client"
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
// value is a usage error before anything starts.
func CheckClientEnv(overrides map[string]string) error {
	_, err := client.LoadConfig(clientGetenv(overrides))
	return err
}

// describeClient records the pipeline variables the client runs with and the retry schedule.
func describeClient(overrides map[string]string) (env map[string]string, resilience string, retry results.RetrySchedule, cbWait string) {
	getenv := clientGetenv(overrides)
	env = map[string]string{}
	for k, def := range client.Defaults() {
		if v := getenv(k); v != "" {
			env[k] = v
		} else {
			env[k] = def
		}
	}
	cfg, err := client.LoadConfig(getenv)
	if err != nil {
		return env, env["RESILIENCE"], retry, env["CB_WAIT_DURATION"]
	}
	resilience = results.ResilienceOn
	if !cfg.Resilience {
		resilience = results.ResilienceOff
	}
	retry = results.RetrySchedule{MaxRetries: cfg.MaxRetries, InitialBackoff: cfg.InitialBackoff.String(),
		Multiplier: cfg.Multiplier, MaxBackoff: cfg.MaxBackoff.String(), Jitter: cfg.Jitter}
	return env, resilience, retry, cfg.CBWaitDuration.String()
}
