package report

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"chaoslab/internal/results"
)

// SnapshotDiff is what changed between the observation before the fault and the one after the
// recovery window. Either side may be missing (nil).
type SnapshotDiff struct {
	Before   *results.Snapshot `json:"before,omitempty"`
	After    *results.Snapshot `json:"after,omitempty"`
	Services []ServiceDiff     `json:"services"`
}

// ServiceDiff compares one service's two observations.
type ServiceDiff struct {
	Name       string   `json:"name"`
	Fields     []Change `json:"fields"`     // running, pid, restarts, healthz, readyz, error
	Metrics    []Change `json:"metrics"`    // every metric seen on either side, sorted by name
	Resilience []Change `json:"resilience"` // the /api/resilience fields, flattened to dotted paths
}

// Change is one value before and after. A side that was not observed is "".
type Change struct {
	Name    string   `json:"name"`
	Before  string   `json:"before"`
	After   string   `json:"after"`
	Delta   *float64 `json:"delta,omitempty"` // after - before, for numbers seen on both sides
	Changed bool     `json:"changed"`
}

// snapshots compares the observations before and after; it notes when neither was made.
func (a *Analysis) snapshots(before, after *results.Snapshot) *SnapshotDiff {
	if before == nil && after == nil {
		a.note("No observations were written (observations/before.json, after.json).")
		return nil
	}
	return DiffSnapshots(before, after)
}

// DiffSnapshots compares two observations; either may be nil.
func DiffSnapshots(before, after *results.Snapshot) *SnapshotDiff {
	d := &SnapshotDiff{Before: before, After: after}
	b, f := services(before), services(after)
	names := slices.Sorted(maps.Keys(b))
	for n := range f {
		if _, ok := b[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		d.Services = append(d.Services, diffService(n, b[n], f[n]))
	}
	return d
}

func services(s *results.Snapshot) map[string]*results.ServiceSnapshot {
	out := map[string]*results.ServiceSnapshot{}
	if s == nil {
		return out
	}
	for n, v := range s.Services {
		out[n] = &v
	}
	return out
}

func diffService(name string, b, f *results.ServiceSnapshot) ServiceDiff {
	fields := diffValues(fieldsOf(b), fieldsOf(f), []string{"running", "pid", "restarts", "healthz", "readyz", "error"})
	for i := range fields {
		if fields[i].Name != "restarts" {
			fields[i].Delta = nil // a PID or a status code difference means nothing
		}
	}
	return ServiceDiff{
		Name:       name,
		Fields:     fields,
		Metrics:    diffValues(metricsOf(b), metricsOf(f), nil),
		Resilience: diffValues(resilienceOf(b), resilienceOf(f), nil),
	}
}

func fieldsOf(s *results.ServiceSnapshot) map[string]string {
	if s == nil {
		return nil
	}
	return map[string]string{
		"running":  fmt.Sprint(s.Running),
		"pid":      fmt.Sprint(s.PID),
		"restarts": fmt.Sprint(s.Restarts),
		"healthz":  fmt.Sprint(s.Healthz),
		"readyz":   fmt.Sprint(s.Readyz),
		"error":    s.Error,
	}
}

func metricsOf(s *results.ServiceSnapshot) map[string]string {
	if s == nil {
		return nil
	}
	out := make(map[string]string, len(s.Metrics))
	for k, v := range s.Metrics {
		out[k] = formatNumber(v)
	}
	return out
}

func resilienceOf(s *results.ServiceSnapshot) map[string]string {
	if s == nil || len(s.Resilience) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(s.Resilience, &v); err != nil {
		return map[string]string{"(unparsable)": string(s.Resilience)}
	}
	out := map[string]string{}
	flatten("", v, out)
	return out
}

// flatten writes every scalar of v under its dotted path.
func flatten(prefix string, v any, out map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			flatten(join(prefix, k), e, out)
		}
	case []any:
		for i, e := range x {
			flatten(join(prefix, fmt.Sprint(i)), e, out)
		}
	case float64:
		out[prefix] = formatNumber(x)
	case nil:
		out[prefix] = "null"
	default:
		out[prefix] = fmt.Sprint(x)
	}
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// diffValues compares two flat maps. order lists the keys to show first, in that order (and only
// those, when given); otherwise every key of either side is shown, sorted.
func diffValues(b, f map[string]string, order []string) []Change {
	keys := order
	if keys == nil {
		set := maps.Clone(b)
		if set == nil {
			set = map[string]string{}
		}
		maps.Copy(set, f)
		keys = slices.Sorted(maps.Keys(set))
	}
	var out []Change
	for _, k := range keys {
		bv, bok := b[k]
		fv, fok := f[k]
		if bv == "" && fv == "" {
			continue // not observed on either side, or an empty error
		}
		c := Change{Name: k, Before: bv, After: fv, Changed: bok != fok || bv != fv}
		c.Delta = delta(bv, fv, bok && fok)
		out = append(out, c)
	}
	return out
}

func delta(b, f string, both bool) *float64 {
	if !both {
		return nil
	}
	x, err := strconv.ParseFloat(b, 64)
	if err != nil {
		return nil
	}
	y, err := strconv.ParseFloat(f, 64)
	if err != nil {
		return nil
	}
	d := y - x
	return &d
}
