package experiment

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"chaoslab/internal/cmdutil"
)

// ParseVar parses a `--var key[:type]=value` argument, as `chaos run --var` does: type is str
// (the default), int or float. Errors satisfy errors.Is(err, cmdutil.ErrUsage).
func ParseVar(s string) (key string, value any, err error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return "", nil, cmdutil.Usagef("--var %q: want key[:type]=value (type str, int or float)", s)
	}
	name, typ, typed := strings.Cut(k, ":")
	if name == "" {
		return "", nil, cmdutil.Usagef("--var %q: the key is empty", s)
	}
	if !typed {
		typ = "str"
	}
	switch typ {
	case "str":
		return name, v, nil
	case "int":
		i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return "", nil, cmdutil.Usagef("--var %q: %q is not an int", s, v)
		}
		return name, i, nil
	case "float":
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return "", nil, cmdutil.Usagef("--var %q: %q is not a float", s, v)
		}
		return name, f, nil
	}
	return "", nil, cmdutil.Usagef("--var %q: type %q is not one of str, int, float", s, typ)
}

// configuration resolves the experiment's configuration block: literals as they are, env
// entries from lookupEnv (or their default), then vars on top. Problems (an env entry without a
// key, an unset variable without a default) are returned, not fatal: validation reports them.
func configuration(exp *Experiment, lookupEnv func(string) (string, bool), vars map[string]any) (map[string]any, []string) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	conf := map[string]any{}
	var problems []string
	block := asObject(mustGet(exp.doc, "configuration"))
	for _, name := range block.Keys() {
		raw, _ := block.Get(name)
		v, problem := configValue(name, raw, lookupEnv)
		if problem != "" {
			problems = append(problems, problem)
			continue
		}
		conf[name] = v
	}
	for k, v := range vars {
		conf[k] = v
	}
	return conf, problems
}

func mustGet(o *Object, k string) any {
	v, _ := o.Get(k)
	return v
}

func configValue(name string, raw any, lookupEnv func(string) (string, bool)) (any, string) {
	entry := asObject(raw)
	typ, hasType := getString(entry, "type")
	if entry == nil || !hasType {
		return raw, ""
	}
	where := fmt.Sprintf("configuration %q", name)
	if typ != "env" {
		return nil, fmt.Sprintf("%s: type %q is not supported by chaoslab (only literals and \"env\")", where, typ)
	}
	key, ok := getString(entry, "key")
	if !ok || key == "" {
		return nil, where + ": an env entry needs a \"key\" naming the environment variable"
	}
	def, hasDefault := entry.Get("default")
	val, set := lookupEnv(key)
	if !set {
		if !hasDefault || def == nil {
			return nil, fmt.Sprintf("%s: environment variable %s is not set and the entry has no default (set it; --var does not replace it)", where, key)
		}
		return def, ""
	}
	return convertEnv(where, val, entry)
}

// convertEnv applies the optional env_var_type of an env entry (str, int, float, bool, json).
func convertEnv(where, val string, entry *Object) (any, string) {
	typ, _ := getString(entry, "env_var_type")
	switch typ {
	case "", "str":
		return val, ""
	case "int":
		if i, err := strconv.ParseInt(val, 10, 64); err == nil {
			return i, ""
		}
	case "float":
		if f, err := strconv.ParseFloat(val, 64); err == nil {
			return f, ""
		}
	case "bool":
		return val != "" && strings.ToLower(val) != "false" && val != "0", ""
	case "json":
		if v, err := decodeJSON([]byte(val)); err == nil {
			return v, ""
		}
	default:
		return nil, fmt.Sprintf("%s: env_var_type %q is not one of str, int, float, bool, json", where, typ)
	}
	return nil, fmt.Sprintf("%s: value %q is not a valid %s", where, val, typ)
}

// Configuration returns the experiment's configuration values as a run resolves them: literals,
// env entries from lookupEnv (or their default), then vars on top. Entries that cannot be
// resolved are left out (Validate reports them).
func Configuration(exp *Experiment, lookupEnv func(string) (string, bool), vars map[string]any) map[string]any {
	conf, _ := configuration(exp, lookupEnv, vars)
	return conf
}
