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

// runPython runs a python provider natively when the run has a Native that supports it (the
// Kubernetes stack's chaosk8s functions, Options.Native); otherwise it never runs:
// CheckRunnableWith refuses such experiments before a run starts.
func runPython(ctx context.Context, p *Object, _ providerEnv) (any, error) {
	m, _ := getString(p, "module")
	f, _ := getString(p, "func")
	if n := nativeFrom(ctx); n != nil && n.Supports(m, f) {
		return runNative(ctx, n, m, f, p)
	}
	return nil, &abortError{err: fmt.Errorf("python provider %s.%s needs the Chaos Toolkit: run it with `chaos run`", m, f)}
}
