package experiment

import (
	"context"
	"fmt"
	"net/http"
	"sort"
)

// providerEnv is what a provider may use besides its own fields.
type providerEnv struct {
	client *http.Client
}

// provider is one provider type: how to check its fields and how to run it. run receives the
// provider block with every placeholder already substituted; it returns the activity output, an
// *activityFailed (the activity failed, the run goes on) or another error (the run aborts).
type provider struct {
	validate func(p *Object) []string
	run      func(ctx context.Context, p *Object, env providerEnv) (any, error)
}

// providers is the registry of provider types, keyed by the "type" of a provider block.
// Validation reads the accepted names from it.
func providers() map[string]provider {
	return map[string]provider{
		"http":    {validate: validateHTTP, run: runHTTP},
		"process": {validate: validateProcess, run: runProcess},
		"python":  {validate: validatePythonFields, run: runPython},
	}
}

func providerNames() []string {
	var names []string
	for n := range providers() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// timeoutSeconds reads an optional "timeout" in seconds (a number). ok is false when it is
// absent or null.
func timeoutSeconds(p *Object) (secs float64, ok bool, problem string) {
	v, present := p.Get("timeout")
	if !present || v == nil {
		return 0, false, ""
	}
	if list, isList := v.([]any); isList && len(list) == 2 {
		a, ok1 := pyNumber(list[0])
		b, ok2 := pyNumber(list[1])
		if ok1 && ok2 && a >= 0 && b >= 0 {
			return a + b, true, ""
		}
	}
	n, isNum := pyNumber(v)
	if _, isBool := v.(bool); !isNum || isBool || n < 0 {
		return 0, false, fmt.Sprintf("provider.timeout must be a number of seconds >= 0, got %s", pyRepr(v))
	}
	return n, true, ""
}
