package httpserve_test

import (
	"errors"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"chaoslab/internal/backend"
	"chaoslab/internal/client"
	"chaoslab/internal/cmdutil"
)

// fuzzNames are the variables of both services, sorted: a fuzzed line "3=value" sets the fourth.
func fuzzNames() []string {
	m := client.Defaults()
	maps.Copy(m, backend.Defaults())
	return slices.Sorted(maps.Keys(m))
}

// fuzzEnv builds an environment from lines "NAME=value" (a NAME that is a number picks a
// variable of fuzzNames, so the fuzzer reaches every variable without spelling it).
func fuzzEnv(data string, names []string) map[string]string {
	env := map[string]string{}
	for _, line := range strings.Split(data, "\n") {
		name, value, _ := strings.Cut(line, "=")
		if i, err := strconv.Atoi(name); err == nil && i >= 0 {
			name = names[i%len(names)]
		}
		env[name] = value
	}
	return env
}

// FuzzServiceEnv feeds an environment built from the input to client.LoadConfig and
// backend.LoadConfig (both through httpserve.Load and their settings tables): no panic; an error
// is a usage error of one line that names a variable of the service ("NAME=..."); no number of
// the client's configuration is NaN; a client configuration loaded from its own Effective
// values is the same configuration.
func FuzzServiceEnv(f *testing.F) {
	names := fuzzNames()
	var defaults []string
	for _, n := range names {
		defaults = append(defaults, n+"="+client.Defaults()[n]+backend.Defaults()[n])
	}
	for _, s := range []string{
		strings.Join(defaults, "\n"),
		"",
		"LISTEN_ADDR=127.0.0.1:0\nBACKEND_URL=http://127.0.0.1:8081/\nRESILIENCE=off",
		"ATTEMPT_TIMEOUT=20s\nREQUEST_TIMEOUT=15s",
		"CB_SLIDING_WINDOW=2\nCB_MINIMUM_CALLS=5",
		"RETRY_INITIAL_BACKOFF=2s\nRETRY_MAX_BACKOFF=1s",
		"RETRY_JITTER=1.5\nRETRY_MULTIPLIER=NaN",
		"CB_FAILURE_RATE_THRESHOLD=0\nPAYLOAD_BYTES=1048577",
		"LISTEN_ADDR=:99999\nBACKEND_URL=ftp://x",
		"LOG_LEVEL=DEBUG\nLOG_FORMAT=yaml",
		"BACKEND_URL=http://user:pw@h?q#f",
		"0=  \n1=\t\n7=-1\n12=1e400\n19=\"quoted\nnewline\"",
		"SHUTDOWN_TIMEOUT=-1ns\nRETRY_JITTER_SEED=99999999999999999999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		env := fuzzEnv(data, names)
		getenv := func(k string) string { return env[k] }

		c, err := client.LoadConfig(getenv)
		checkEnvError(t, "client", err, client.Defaults())
		if err == nil {
			v := reflect.ValueOf(c)
			for i := range v.NumField() {
				if x := v.Field(i); x.Kind() == reflect.Float64 && math.IsNaN(x.Float()) {
					t.Fatalf("client.LoadConfig accepted NaN for %s (from %q): every number is compared with its bounds, and NaN passes none", v.Type().Field(i).Name, data)
				}
			}
			eff := c.Effective()
			again, err := client.LoadConfig(func(k string) string { return eff[k] })
			if err != nil {
				t.Fatalf("client.LoadConfig of its own Effective() %v: %v", eff, err)
			}
			if !reflect.DeepEqual(again, c) {
				t.Fatalf("client config from its Effective() differs:\n got %+v\nwant %+v", again, c)
			}
		}

		_, err = backend.LoadConfig(getenv)
		checkEnvError(t, "backend", err, backend.Defaults())
	})
}

// checkEnvError fails unless err is nil or a one-line usage error "NAME=..." naming one of the
// service's variables.
func checkEnvError(t *testing.T, service string, err error, vars map[string]string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	if !errors.Is(err, cmdutil.ErrUsage) {
		t.Fatalf("%s: %q is not a usage error", service, msg)
	}
	if strings.ContainsAny(msg, "\n\r") {
		t.Fatalf("%s: error %q is more than one line", service, msg)
	}
	name, _, ok := strings.Cut(msg, "=")
	if _, known := vars[name]; !ok || !known {
		t.Fatalf("%s: error %q does not start with a variable of the service", service, msg)
	}
}
