package experiment

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// jsonPathStep is one step of the JSONPath subset chaoslab implements: a child by name
// (.name or ['name']), an array index ([0], [-1]) or a wildcard (.* or [*]).
type jsonPathStep struct {
	name     string
	index    int
	isIndex  bool
	wildcard bool
}

// parseJSONPath parses $ followed by .name, ['name'], [n], [*] and .* steps.
func parseJSONPath(path string) ([]jsonPathStep, error) {
	if !strings.HasPrefix(path, "$") {
		return nil, errors.New(`a JSONPath starts with "$"`)
	}
	var steps []jsonPathStep
	rest := path[1:]
	for rest != "" {
		step, n, err := nextJSONPathStep(rest)
		if err != nil {
			return nil, err
		}
		steps = append(steps, step)
		rest = rest[n:]
	}
	return steps, nil
}

func nextJSONPathStep(s string) (jsonPathStep, int, error) {
	switch s[0] {
	case '.':
		end := 1
		for end < len(s) && s[end] != '.' && s[end] != '[' {
			end++
		}
		name := s[1:end]
		if name == "" {
			return jsonPathStep{}, 0, errors.New("empty name after '.' (recursive descent is not supported)")
		}
		return jsonPathStep{name: name, wildcard: name == "*"}, end, nil
	case '[':
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return jsonPathStep{}, 0, errors.New("missing ']'")
		}
		return bracketStep(s[1:end], end+1)
	}
	return jsonPathStep{}, 0, fmt.Errorf("unexpected %q (supported: .name, ['name'], [n], [*], .*)", s[0])
}

func bracketStep(inner string, n int) (jsonPathStep, int, error) {
	inner = strings.TrimSpace(inner)
	if inner == "*" {
		return jsonPathStep{wildcard: true}, n, nil
	}
	if len(inner) >= 2 && (inner[0] == '\'' || inner[0] == '"') && inner[len(inner)-1] == inner[0] {
		return jsonPathStep{name: inner[1 : len(inner)-1]}, n, nil
	}
	i, err := strconv.Atoi(inner)
	if err != nil {
		return jsonPathStep{}, 0, fmt.Errorf("unsupported selector [%s] (supported: [n], [*], ['name'])", inner)
	}
	return jsonPathStep{index: i, isIndex: true}, n, nil
}

// evalJSONPath returns the values the steps select in v, in document order.
func evalJSONPath(steps []jsonPathStep, v any) []any {
	current := []any{v}
	for _, st := range steps {
		var next []any
		for _, c := range current {
			next = append(next, applyStep(st, c)...)
		}
		current = next
	}
	return current
}

func applyStep(st jsonPathStep, v any) []any {
	switch t := v.(type) {
	case *Object:
		if st.wildcard {
			out := make([]any, 0, t.Len())
			for _, k := range t.Keys() {
				e, _ := t.Get(k)
				out = append(out, e)
			}
			return out
		}
		if e, ok := t.Get(st.name); ok && !st.isIndex {
			return []any{e}
		}
	case []any:
		if st.wildcard {
			return t
		}
		if st.isIndex {
			i := st.index
			if i < 0 {
				i += len(t)
			}
			if i >= 0 && i < len(t) {
				return []any{t[i]}
			}
		}
	}
	return nil
}
