package experiment

import (
	"context"
	"fmt"
)

func validatePythonFields(p *Object) []string {
	var problems []string
	if m, ok := getString(p, "module"); !ok || m == "" {
		problems = append(problems, "provider.module is required")
	}
	if f, ok := getString(p, "func"); !ok || f == "" {
		problems = append(problems, "provider.func is required")
	}
	if a, ok := p.Get("arguments"); ok && a != nil && asObject(a) == nil {
		problems = append(problems, "provider.arguments must be an object")
	}
	return problems
}

// runPython never runs: CheckRunnable refuses experiments with python providers before a run
// starts. It is here so the registry lists the type.
func runPython(_ context.Context, p *Object, _ providerEnv) (any, error) {
	m, _ := getString(p, "module")
	f, _ := getString(p, "func")
	return nil, &abortError{err: fmt.Errorf("python provider %s.%s needs the Chaos Toolkit: run it with `chaos run`", m, f)}
}
