package experiment

import (
	"fmt"
	"slices"
	"strings"
)

// Validate checks an experiment as `chaos validate` does and returns every problem at once in
// a *ValidationError (one per line, each naming the activity and the field), plus notes that
// do not stop a run elsewhere: a python provider is a note (it needs `chaos run`) when its
// chaosk8s module and function are known, an error when not. Configuration is resolved with
// opts.LookupEnv and opts.Vars, because pauses and tolerances are checked after substitution.
func Validate(exp *Experiment, opts Options) (notes []string, err error) {
	v := &validator{exp: exp, native: opts.Native}
	v.conf, v.problems = configuration(exp, opts.LookupEnv, opts.Vars)
	v.checkTop()
	v.checkStrategy(opts.RollbackStrategy)
	v.checkHypothesis()
	v.checkSection("method", false)
	v.checkSection("rollbacks", false)
	if len(v.problems) > 0 {
		return v.notes, &ValidationError{Problems: v.problems}
	}
	return v.notes, nil
}

type validator struct {
	exp      *Experiment
	native   Native // what runs python providers natively (notes only); nil = nothing
	conf     map[string]any
	problems []string
	notes    []string
}

func (v *validator) addf(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

func (v *validator) checkTop() {
	doc := v.exp.doc
	for _, key := range []string{"title", "description"} {
		if s, ok := getString(doc, key); !ok || strings.TrimSpace(s) == "" {
			v.addf("%s is required (a non-empty string)", key)
		}
	}
	if m, ok := doc.Get("method"); !ok {
		v.addf("method is required (a list of activities)")
	} else if _, isList := m.([]any); !isList {
		v.addf("method must be a list of activities")
	}
	if r, ok := doc.Get("rollbacks"); ok && r != nil {
		if _, isList := r.([]any); !isList {
			v.addf("rollbacks must be a list of activities")
		}
	}
	if c, ok := doc.Get("configuration"); ok && c != nil && asObject(c) == nil {
		v.addf("configuration must be an object")
	}
}

func (v *validator) checkStrategy(s string) {
	if s != "" && !slices.Contains(rollbackStrategies(), s) {
		v.addf("rollback strategy %q is not one of %s", s, strings.Join(rollbackStrategies(), ", "))
	}
}

func (v *validator) checkHypothesis() {
	h, ok := v.exp.doc.Get("steady-state-hypothesis")
	if !ok || h == nil {
		return
	}
	hypo := asObject(h)
	if hypo == nil {
		v.addf("steady-state-hypothesis must be an object with a title and probes")
		return
	}
	if s, ok := getString(hypo, "title"); !ok || s == "" {
		v.addf("steady-state-hypothesis.title is required")
	}
	if p, ok := hypo.Get("probes"); ok && p != nil {
		if _, isList := p.([]any); !isList {
			v.addf("steady-state-hypothesis.probes must be a list of probes")
			return
		}
	}
	v.checkSection("steady-state-hypothesis.probes", true)
}

func (v *validator) checkSection(key string, hypothesis bool) {
	list := v.exp.section(key)
	if hypothesis {
		list = v.exp.hypothesisProbes()
	}
	for i, a := range list {
		where := fmt.Sprintf("%s[%d]", key, i)
		if a == nil {
			v.addf("%s: an activity must be an object", where)
			continue
		}
		if name, ok := getString(a, "name"); ok && name != "" {
			where += fmt.Sprintf(" %q", name)
		}
		v.checkActivity(where, a, hypothesis)
	}
}

func (v *validator) checkActivity(where string, a *Object, hypothesis bool) {
	if name, ok := getString(a, "name"); !ok || name == "" {
		v.addf("%s: name is required", where)
	}
	if t, _ := getString(a, "type"); t != "probe" && t != "action" {
		v.addf("%s: type must be \"probe\" or \"action\", got %s", where, pyRepr(mustGet(a, "type")))
	}
	if b, ok := a.Get("background"); ok {
		if _, isBool := b.(bool); !isBool {
			v.addf("%s: background must be true or false, got %s", where, pyRepr(b))
		}
	}
	v.checkPauses(where, a)
	v.checkProvider(where, a)
	if hypothesis {
		v.checkTolerance(where, a)
	}
}

func (v *validator) checkProvider(where string, a *Object) {
	p := asObject(mustGet(a, "provider"))
	if p == nil {
		v.addf("%s: provider is required (an object with a type: %s)", where, strings.Join(providerNames(), ", "))
		return
	}
	typ, _ := getString(p, "type")
	prov, ok := providers()[typ]
	if !ok {
		v.addf("%s: provider.type must be one of %s, got %s", where, strings.Join(providerNames(), ", "), pyRepr(mustGet(p, "type")))
		return
	}
	for _, problem := range prov.validate(p) {
		v.addf("%s: %s", where, problem)
	}
	if typ == "python" {
		v.checkPython(where, p)
	}
}

// checkPython checks a python provider against the chaosk8s catalogue: known functions are a
// note, unknown chaosk8s modules, functions or arguments are errors; other modules are a note.
func (v *validator) checkPython(where string, p *Object) {
	module, _ := getString(p, "module")
	fn, _ := getString(p, "func")
	if module == "" || fn == "" {
		return
	}
	note := fmt.Sprintf("%s: python provider %s.%s needs the Chaos Toolkit: chaoslab does not run it; run the experiment with `chaos run`", where, module, fn)
	if v.native != nil && v.native.Supports(module, fn) {
		note = fmt.Sprintf("%s: python provider %s.%s runs natively with `chaoslab run --stack k8s`, or with `chaos run`", where, module, fn)
	}
	if module != "chaosk8s" && !strings.HasPrefix(module, "chaosk8s.") {
		v.notes = append(v.notes, note+" (module not checked: chaoslab knows only chaosk8s)")
		return
	}
	funcs, ok := chaosk8sCatalogue()[module]
	if !ok {
		v.addf("%s: provider.module %q is not a chaostoolkit-kubernetes 0.39 module", where, module)
		return
	}
	args, ok := funcs[fn]
	if !ok {
		v.addf("%s: provider.func %q is not a function of %s", where, fn, module)
		return
	}
	given := asObject(mustGet(p, "arguments"))
	known := true
	for _, k := range given.Keys() {
		if !slices.Contains(args, k) {
			known = false
			v.addf("%s: provider.arguments.%s is not an argument of %s.%s (%s)", where, k, module, fn, strings.Join(args, ", "))
		}
	}
	if known {
		v.notes = append(v.notes, note)
	}
}

func (v *validator) checkPauses(where string, a *Object) {
	raw, ok := a.Get("pauses")
	if !ok || raw == nil {
		return
	}
	pauses := asObject(raw)
	if pauses == nil {
		v.addf("%s: pauses must be an object with before and/or after (seconds)", where)
		return
	}
	for _, k := range []string{"before", "after"} {
		if p, ok := pauses.Get(k); ok && p != nil {
			v.checkPause(fmt.Sprintf("%s: pauses.%s", where, k), p)
		}
	}
}

// checkPause accepts a number >= 0 after substitution. A placeholder that resolves to text is a
// note, not an error: the real tool aborts the run on it, and so does Run.
func (v *validator) checkPause(where string, raw any) {
	val := substitute(raw, v.conf)
	if _, isBool := val.(bool); !isBool {
		if n, ok := pyNumber(val); ok {
			if n < 0 {
				v.addf("%s must be a number of seconds >= 0, got %s", where, pyRepr(val))
			}
			return
		}
	}
	if s, isStr := raw.(string); isStr && strings.Contains(s, "$") {
		if _, still := val.(string); still {
			v.notes = append(v.notes, fmt.Sprintf("%s is %s after substitution, not a number: the run will abort there (give the value a type, e.g. --var name:float=10)", where, pyRepr(val)))
			return
		}
	}
	v.addf("%s must be a number of seconds >= 0, got %s", where, pyRepr(val))
}

func (v *validator) checkTolerance(where string, a *Object) {
	raw, ok := a.Get("tolerance")
	if !ok {
		v.addf("%s: tolerance is required for a steady-state hypothesis probe", where)
		return
	}
	switch t := substitute(raw, v.conf).(type) {
	case nil:
		v.addf("%s: tolerance must not be null", where)
	case *Object:
		kind, ok := toleranceKinds()[typeOf(t)]
		if !ok {
			v.addf("%s: tolerance.type must be one of %s, got %s", where, strings.Join(toleranceKindNames(), ", "), pyRepr(mustGet(t, "type")))
			return
		}
		for _, problem := range kind.validate(t) {
			v.addf("%s: %s", where, problem)
		}
	}
}

// CheckRunnable reports, as a usage error, the first activity chaoslab cannot run: one with a
// python provider, which needs the Chaos Toolkit. The message names the activity, the module
// and the function.
func CheckRunnable(exp *Experiment) error { return CheckRunnableWith(exp, nil) }
