package experiment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// Experiment is a decoded Chaos Toolkit experiment. It keeps the document as decoded (for the
// journal, which records the experiment as written) and is read-only once loaded, so one
// Experiment may be validated and run from several goroutines.
type Experiment struct {
	doc *Object
	raw json.RawMessage // the experiment as compact JSON, keys in document order
}

// Load reads an experiment file: YAML when the name ends in .yaml or .yml, JSON otherwise.
// File errors wrap the os error; decode errors are a *ValidationError naming the file and the
// position.
func Load(path string) (*Experiment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read experiment: %w", err)
	}
	format := "json"
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".yaml" || ext == ".yml" {
		format = "yaml"
	}
	exp, err := Parse(data, format)
	if ve, ok := err.(*ValidationError); ok {
		for i, p := range ve.Problems {
			ve.Problems[i] = path + ": " + p
		}
	}
	return exp, err
}

// Parse decodes an experiment from data; format is "json" or "yaml". Errors are a
// *ValidationError giving the position (JSON) or the YAML parser's line. Parse checks only that
// the document is an object; Validate checks the rest.
func Parse(data []byte, format string) (*Experiment, error) {
	switch format {
	case "json":
	case "yaml", "yml":
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return nil, &ValidationError{Problems: []string{"invalid YAML: " + err.Error()}}
		}
		data = j
	default:
		return nil, &ValidationError{Problems: []string{fmt.Sprintf("unknown experiment format %q: use json or yaml", format)}}
	}
	v, err := decodeJSON(data)
	if err != nil {
		return nil, &ValidationError{Problems: []string{"invalid JSON: " + err.Error()}}
	}
	doc, ok := v.(*Object)
	if !ok {
		return nil, &ValidationError{Problems: []string{"the experiment must be a JSON object"}}
	}
	raw, err := doc.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode experiment: %w", err)
	}
	return &Experiment{doc: doc, raw: raw}, nil
}

// Title returns the experiment's title ("" when missing).
func (e *Experiment) Title() string {
	s, _ := getString(e.doc, "title")
	return s
}

// Document returns the decoded experiment. The caller must not modify it.
func (e *Experiment) Document() *Object { return e.doc }

// journalJSON is the experiment as the journal records it: as written, plus "dry": null, as
// chaostoolkit-lib adds.
func (e *Experiment) journalJSON() json.RawMessage {
	raw := bytes.TrimSuffix(e.raw, []byte("}"))
	if _, ok := e.doc.Get("dry"); ok {
		return e.raw
	}
	sep := ","
	if e.doc.Len() == 0 {
		sep = ""
	}
	out := append(append([]byte{}, raw...), []byte(sep+`"dry":null}`)...)
	return out
}

// section returns the activities listed under key ("method", "rollbacks") as objects; entries
// that are not objects come back nil (validation reports them).
func (e *Experiment) section(key string) []*Object {
	v, _ := e.doc.Get(key)
	return activityList(v)
}

// hypothesis returns the steady-state hypothesis, or nil.
func (e *Experiment) hypothesis() *Object {
	v, _ := e.doc.Get("steady-state-hypothesis")
	return asObject(v)
}

func (e *Experiment) hypothesisProbes() []*Object {
	v, _ := e.hypothesis().Get("probes")
	return activityList(v)
}

func activityList(v any) []*Object {
	list, _ := v.([]any)
	out := make([]*Object, len(list))
	for i, a := range list {
		out[i] = asObject(a)
	}
	return out
}

// Extension returns the entry of the experiment's `extensions` list with this name (the Chaos
// Toolkit's place for a tool's own settings, which the real `chaos run` ignores), or nil.
func (e *Experiment) Extension(name string) *Object {
	list, _ := mustGet(e.doc, "extensions").([]any)
	for _, item := range list {
		if o := asObject(item); o != nil {
			if n, _ := getString(o, "name"); n == name {
				return o
			}
		}
	}
	return nil
}
