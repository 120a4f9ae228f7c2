package topology

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// fieldError is a mistake in a topology file: the field's path (tiers[1].env) and what is wrong.
type fieldError struct {
	Field string
	Msg   string
}

func (e *fieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// Fields of each object of a file, as the decoder allows them (and its messages list them).
const (
	topFields     = "name, backend, tiers"
	backendFields = "env"
	tierFields    = "name, calls, env"
)

// decoder walks the generic value of a file into a Topology, keeping the first mistake (as
// bufio.Scanner keeps its first error): every step after one is a no-op.
type decoder struct{ err *fieldError }

func (d *decoder) fail(field, format string, args ...any) {
	if d.err == nil {
		d.err = &fieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
}

// decode reads a YAML or JSON document strictly: a duplicate key, an unknown field or a value
// of the wrong type is an error naming the field's path.
func decode(data []byte) (*Topology, error) {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, &fieldError{Msg: "not valid YAML or JSON: " + oneLine(err.Error())}
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, &fieldError{Msg: "not valid YAML or JSON: " + oneLine(err.Error())}
	}
	d := &decoder{}
	t := d.topology(v)
	if d.err != nil {
		return nil, d.err
	}
	return t, nil
}

func (d *decoder) topology(v any) *Topology {
	if v == nil {
		d.fail("", "the file is empty: a topology has %s", topFields)
		return nil
	}
	m := d.object(v, "", "a topology", topFields)
	t := &Topology{Name: d.str(m["name"], "name")}
	if b := d.object(m["backend"], "backend", "backend", backendFields); b != nil {
		t.Backend = d.env(b["env"], "backend.env")
	}
	list, ok := m["tiers"].([]any)
	if m["tiers"] != nil && !ok {
		d.fail("tiers", "must be a list of tiers, each with %s", tierFields)
	}
	for i, tv := range list {
		path := fmt.Sprintf("tiers[%d]", i)
		tm := d.object(tv, path, "a tier", tierFields)
		t.Tiers = append(t.Tiers, Tier{Name: d.str(tm["name"], path+".name"), Calls: d.str(tm["calls"], path+".calls"),
			Env: d.env(tm["env"], path+".env")})
	}
	return t
}

// object reads a mapping whose keys must be among fields (a list such as "name, calls, env");
// a missing (null) one reads as nil.
func (d *decoder) object(v any, path, what, fields string) map[string]any {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		d.fail(path, "must be a mapping of %s, got %s", fields, brief(v))
		return nil
	}
	allowed := strings.Split(fields, ", ")
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !slices.Contains(allowed, k) {
			d.fail(join(path, k), "unknown field: %s has %s", what, fields)
		}
	}
	return m
}

func (d *decoder) str(v any, path string) string {
	if v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		d.fail(path, "must be a string, got %s", brief(v))
	}
	return s
}

// env reads a mapping of variable names to strings (quoted in YAML: "8", "on").
func (d *decoder) env(v any, path string) map[string]string {
	out := map[string]string{}
	if v == nil {
		return out
	}
	m, ok := v.(map[string]any)
	if !ok {
		d.fail(path, "must be a mapping of variable names to values, got %s", brief(v))
		return out
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s, ok := m[k].(string)
		if !ok {
			d.fail(join(path, k), "must be a string (quote it: %q), got %s", fmt.Sprint(m[k]), brief(m[k]))
		}
		out[k] = s
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// brief shows a decoded value in a message, shortened.
func brief(v any) string {
	b, _ := json.Marshal(v)
	s := string(b)
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
