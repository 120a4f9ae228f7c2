package experiment

import (
	"context"
	"errors"
	"fmt"

	"chaoslab/internal/cmdutil"
)

// Native runs python providers without Python: the Kubernetes stack hands the engine its
// client-go implementation of the chaosk8s functions (internal/k8s). Supports says which
// module.func it runs; Call runs one with the provider's arguments as plain JSON values
// (map[string]any, []any, string, bool, int64, float64, nil) and returns the activity's output.
// An error from Call is the ActivityFailed the Python function would raise.
type Native interface {
	Supports(module, fn string) bool
	Call(ctx context.Context, module, fn string, args map[string]any) (any, error)
}

type nativeKey struct{}

// withNative makes n reachable from the python provider through ctx.
func withNative(ctx context.Context, n Native) context.Context {
	if n == nil {
		return ctx
	}
	return context.WithValue(ctx, nativeKey{}, n)
}

func nativeFrom(ctx context.Context) Native {
	n, _ := ctx.Value(nativeKey{}).(Native)
	return n
}

// CheckRunnableWith is CheckRunnable when native runs some python providers: those it supports
// are runnable; any other python provider is a usage error naming the activity, the module and
// the function, and saying to use `chaos run`.
func CheckRunnableWith(exp *Experiment, native Native) error {
	sections := []struct {
		key  string
		list []*Object
	}{
		{"steady-state-hypothesis.probes", exp.hypothesisProbes()},
		{"method", exp.section("method")},
		{"rollbacks", exp.section("rollbacks")},
	}
	for _, s := range sections {
		for i, a := range s.list {
			p := asObject(mustGet(a, "provider"))
			if t, _ := getString(p, "type"); t != "python" {
				continue
			}
			module, _ := getString(p, "module")
			fn, _ := getString(p, "func")
			name, _ := getString(a, "name")
			if native == nil {
				return cmdutil.Usagef("%s[%d] %q uses the python provider %s.%s, which chaoslab cannot run: run it with `chaos run`", s.key, i, name, module, fn)
			}
			if native.Supports(module, fn) {
				continue
			}
			return cmdutil.Usagef("%s[%d] %q uses the python provider %s.%s, which chaoslab does not run natively: run the experiment with `chaos run`", s.key, i, name, module, fn)
		}
	}
	return nil
}

// plainJSON turns decoded experiment values into plain Go JSON values: *Object becomes
// map[string]any, recursively.
func plainJSON(v any) any {
	switch t := v.(type) {
	case *Object:
		if t == nil {
			return nil
		}
		m := make(map[string]any, t.Len())
		for _, k := range t.Keys() {
			val, _ := t.Get(k)
			m[k] = plainJSON(val)
		}
		return m
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = plainJSON(e)
		}
		return out
	default:
		return v
	}
}

// runNative runs a python provider through n: its errors are activity failures (chaostoolkit-lib
// wraps any exception of a python activity in ActivityFailed), except an interruption.
func runNative(ctx context.Context, n Native, module, fn string, p *Object) (any, error) {
	args, _ := plainJSON(mustGet(p, "arguments")).(map[string]any)
	out, err := n.Call(ctx, module, fn, args)
	if err != nil {
		if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			return nil, err
		}
		return nil, &activityFailed{msg: fmt.Sprintf("%s.%s: %v", module, fn, err)}
	}
	return out, nil
}
