package experiment

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// toleranceKind is one dict form of tolerance ({"type": ...}): how to check its fields and how
// to judge an output against it.
type toleranceKind struct {
	validate func(t *Object) []string
	check    func(t *Object, output any) bool
}

// toleranceKinds is the registry of dict tolerances, keyed by their "type". Validation reads
// the accepted names from it.
func toleranceKinds() map[string]toleranceKind {
	return map[string]toleranceKind{
		"regex":    {validate: validateRegexTolerance, check: checkRegexTolerance},
		"range":    {validate: validateRangeTolerance, check: checkRangeTolerance},
		"jsonpath": {validate: validateJSONPathTolerance, check: checkJSONPathTolerance},
	}
}

func toleranceKindNames() []string {
	var names []string
	for n := range toleranceKinds() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// withinTolerance is chaoslib's within_tolerance, for an already substituted tolerance.
// Against an object output with a "status" (http, process), an int compares with the status
// and any list is membership of the status; bool and string compare with the whole output.
// Against a plain value, a two-number list is an inclusive range, a longer list membership,
// and the rest equality.
func withinTolerance(tol any, output any) bool {
	status, hasStatus := asObject(output).Get("status")
	switch t := tol.(type) {
	case bool, string, float64, nil:
		return pyEqual(output, t)
	case int64:
		if hasStatus {
			return pyEqual(status, t)
		}
		return pyEqual(output, t)
	case []any:
		return listTolerance(t, output, status, hasStatus)
	case *Object:
		kind, ok := toleranceKinds()[typeOf(t)]
		return ok && kind.check(t, output)
	}
	return false
}

func listTolerance(list []any, output, status any, hasStatus bool) bool {
	if hasStatus {
		return contains(list, status)
	}
	if len(list) == 2 {
		lo, ok1 := pyNumber(list[0])
		hi, ok2 := pyNumber(list[1])
		v, ok3 := pyNumber(output)
		if ok1 && ok2 && ok3 {
			return lo <= v && v <= hi
		}
	}
	return contains(list, output)
}

func contains(list []any, v any) bool {
	for _, e := range list {
		if pyEqual(e, v) {
			return true
		}
	}
	return false
}

func typeOf(o *Object) string {
	s, _ := getString(o, "type")
	return s
}

// targetOf returns output[target] when the tolerance names a target and the output is an
// object holding it, else the output itself.
func targetOf(t *Object, output any) any {
	target, ok := getString(t, "target")
	if !ok || target == "" {
		return output
	}
	if v, ok := asObject(output).Get(target); ok {
		return v
	}
	return output
}

func validateRegexTolerance(t *Object) []string {
	pattern, ok := getString(t, "pattern")
	if !ok {
		return []string{"tolerance.pattern is required (a regular expression)"}
	}
	if _, err := regexp.Compile(pattern); err != nil {
		return []string{fmt.Sprintf("tolerance.pattern %q is not a valid regular expression: %v", pattern, err)}
	}
	return nil
}

// checkRegexTolerance searches the target for the pattern. A parsed JSON target is matched as
// its JSON text (a deliberate difference: chaostoolkit-lib crashes there).
func checkRegexTolerance(t *Object, output any) bool {
	pattern, _ := getString(t, "pattern")
	rx, err := regexp.Compile(pattern)
	if err != nil {
		return false
	}
	switch v := targetOf(t, output).(type) {
	case string:
		return rx.MatchString(v)
	case *Object, []any:
		return rx.MatchString(pyJSON(v))
	case nil:
		return false
	default:
		return rx.MatchString(pyStr(v))
	}
}

func validateRangeTolerance(t *Object) []string {
	r, _ := mustGet(t, "range").([]any)
	if len(r) != 2 {
		return []string{"tolerance.range must be a list of two numbers [low, high]"}
	}
	for _, e := range r {
		if _, ok := pyNumber(e); !ok {
			return []string{"tolerance.range must be a list of two numbers [low, high]"}
		}
	}
	return nil
}

// checkRangeTolerance accepts numbers and numeric text (Python's float(): surrounding
// whitespace such as a trailing newline is fine); anything else is not met.
func checkRangeTolerance(t *Object, output any) bool {
	r, _ := mustGet(t, "range").([]any)
	if len(r) != 2 {
		return false
	}
	lo, _ := pyNumber(r[0])
	hi, _ := pyNumber(r[1])
	v, ok := pyNumber(targetOf(t, output))
	if s, isStr := targetOf(t, output).(string); isStr {
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		v, ok = f, err == nil
	}
	return ok && lo <= v && v <= hi
}

func validateJSONPathTolerance(t *Object) []string {
	path, ok := getString(t, "path")
	if !ok {
		return []string{"tolerance.path is required (a JSONPath such as $.items[*])"}
	}
	if _, err := parseJSONPath(path); err != nil {
		return []string{fmt.Sprintf("tolerance.path %q: %v", path, err)}
	}
	return nil
}

// checkJSONPathTolerance matches the path against the target (text is parsed as JSON first).
// With "count", the number of matches must equal it; with "expect", the matched values must
// equal it (a list) or all equal it (a scalar); with neither, something must match.
func checkJSONPathTolerance(t *Object, output any) bool {
	path, _ := getString(t, "path")
	steps, err := parseJSONPath(path)
	if err != nil {
		return false
	}
	target := targetOf(t, output)
	if s, ok := target.(string); ok {
		if v, err := decodeJSON([]byte(s)); err == nil {
			target = v
		}
	}
	values := evalJSONPath(steps, target)
	if c, ok := t.Get("count"); ok {
		n, _ := pyNumber(c)
		return float64(len(values)) == n
	}
	expect, ok := t.Get("expect")
	if !ok {
		return len(values) > 0
	}
	if list, isList := expect.([]any); isList {
		return pyEqual(values, list)
	}
	if len(values) == 0 {
		return false
	}
	for _, v := range values {
		if !pyEqual(v, expect) {
			return false
		}
	}
	return true
}
