package promcheck

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// decodeResult reads the "result" of a query answer of the given type.
func decodeResult(typ string, raw json.RawMessage) (Result, error) {
	r := Result{Type: typ}
	switch typ {
	case "vector":
		var v []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return r, fmt.Errorf("decode a vector: %w", err)
		}
		for _, s := range v {
			f, err := sampleValue(s.Value)
			if err != nil {
				return r, err
			}
			r.Series = append(r.Series, Sample{Metric: s.Metric, Value: f, Values: []float64{f}})
		}
	case "matrix":
		var m []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return r, fmt.Errorf("decode a matrix: %w", err)
		}
		for _, s := range m {
			if len(s.Values) == 0 {
				continue
			}
			sm := Sample{Metric: s.Metric}
			for _, p := range s.Values {
				f, err := sampleValue(p)
				if err != nil {
					return r, err
				}
				sm.Values = append(sm.Values, f)
			}
			sm.Value = sm.Values[len(sm.Values)-1]
			r.Series = append(r.Series, sm)
		}
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(raw, &v); err != nil {
			return r, fmt.Errorf("decode a scalar: %w", err)
		}
		f, err := sampleValue(v)
		if err != nil {
			return r, err
		}
		r.Series = []Sample{{Metric: map[string]string{}, Value: f, Values: []float64{f}}}
	default:
		return r, fmt.Errorf("result type %q: only vector, matrix and scalar are read", typ)
	}
	return r, nil
}

// sampleValue reads the value of a [time, "value"] pair.
func sampleValue(p [2]any) (float64, error) {
	s, ok := p[1].(string)
	if !ok {
		return 0, fmt.Errorf("sample value %v is not a string", p[1])
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("sample value %q: %w", s, err)
	}
	return f, nil
}

// labelString shows labels as {a="1", b="2"}, sorted, the metric name first when there is one.
func labelString(m map[string]string) string {
	name := m["__name__"]
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if k != "__name__" {
			parts = append(parts, k+"="+strconv.Quote(m[k]))
		}
	}
	return name + "{" + strings.Join(parts, ", ") + "}"
}

// Finite counts the samples of the result, over all its series and steps, that are numbers
// (not NaN, not ±Inf): the points a graph would draw.
func (r Result) Finite() int {
	n := 0
	for _, s := range r.Series {
		for _, v := range s.Values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				n++
			}
		}
	}
	return n
}
