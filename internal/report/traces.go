package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"chaoslab/internal/otlprecv"
	"chaoslab/internal/results"
)

// Span attributes and events the waterfall reads (internal/tracing writes them).
const (
	attrResend     = "http.request.resend_count"
	attrStatusCode = "http.response.status_code"
	attrErrorType  = "error.type"
	attrState      = "chaoslab.state"
	attrWaitMS     = "chaoslab.wait_ms"
	eventPrefix    = "chaoslab."
)

// Traces is what the report shows of a run's traces: the waterfalls of a few chosen requests.
type Traces struct {
	Collected  bool        // the run kept its spans (spans.jsonl)
	Note       string      // why not, or whose settings were kept (run.json's traces.note)
	Spans      int         // spans kept
	Traces     int         // distinct trace ids among them
	Waterfalls []Waterfall // the chosen requests, by scheduled arrival
}

// Waterfall is the trace of one load request: every span of its trace id, as a tree.
type Waterfall struct {
	Why     []string       // why it was chosen: "slowest during the fault", "first fallback", ...
	Record  results.Record // its line of requests.csv
	TraceID string
	Start   time.Time     // the earliest span's start: the time axis' 0
	Span    time.Duration // from Start to the latest span's end
	Rows    []TraceRow    // depth first, children in start order
}

// TraceRow is one span of a waterfall.
type TraceRow struct {
	Depth      int
	Service    string // the span's service.name (a tier's name for a tier)
	Kind       string // SERVER, CLIENT, ...
	Name       string
	Attempt    int           // CLIENT: 1 + http.request.resend_count; 0 for other kinds
	Resend     int           // CLIENT: http.request.resend_count (0 on the first attempt)
	State      string        // CLIENT: the breaker's state the call was permitted in (chaoslab.state)
	Outcome    string        // the HTTP status, or error.type, or the error status' message
	Failed     bool          // an Error status
	Start, End time.Duration // from Waterfall.Start
	Marks      []TraceMark   // the span's events, in time order
}

// TraceMark is one span event: a retry wait, a breaker rejection, the fallback, ...
type TraceMark struct {
	Name   string        // without the "chaoslab." prefix: retry, breaker.rejected, fallback, ...
	At     time.Duration // from Waterfall.Start
	Wait   time.Duration // a retry's wait (chaoslab.wait_ms); 0 otherwise
	Detail string        // its attributes, for a person
}

// tracesOf picks the requests to draw and builds their waterfalls.
func (a *Analysis) tracesOf(spans []otlprecv.Span, info *results.TracesInfo) *Traces {
	t := &Traces{Collected: spans != nil, Spans: len(spans)}
	if info != nil {
		t.Note = info.Note
	}
	if !t.Collected {
		return t
	}
	byTrace := map[string][]otlprecv.Span{}
	for _, s := range spans {
		byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
	}
	t.Traces = len(byTrace)
	for _, c := range a.chosen(byTrace) {
		w := waterfall(byTrace[c.rec.TraceID])
		w.Why, w.Record, w.TraceID = c.why, c.rec, c.rec.TraceID
		t.Waterfalls = append(t.Waterfalls, w)
	}
	return t
}

type choice struct {
	rec results.Record
	why []string
}

// chosen are the requests with a trace the report draws: the slowest of each phase, the first
// fallback, and the first whose trace has a call permitted in HALF_OPEN (or, without one, the
// first the client answered in HALF_OPEN). A request chosen twice is drawn once, with both
// reasons; they come in the order of their scheduled arrival.
func (a *Analysis) chosen(byTrace map[string][]otlprecv.Span) []choice {
	traced := filter(a.Records, func(r results.Record) bool { return r.Answered() && len(byTrace[r.TraceID]) > 0 })
	var out []choice
	pick := func(r results.Record, why string) {
		for i := range out {
			if out[i].rec.ID == r.ID && out[i].rec.Start.Equal(r.Start) {
				out[i].why = append(out[i].why, why)
				return
			}
		}
		out = append(out, choice{rec: r, why: []string{why}})
	}
	names := [3]string{"slowest before the fault", "slowest during the fault", "slowest after the heal"}
	if a.FaultOn == nil {
		names[0] = "slowest request"
	}
	for i := range 3 {
		var slowest *results.Record
		for j, r := range traced {
			if a.phaseOf(r.Start) == i && (slowest == nil || r.Latency > slowest.Latency) {
				slowest = &traced[j]
			}
		}
		if slowest != nil {
			pick(*slowest, names[i])
		}
	}
	if i := slices.IndexFunc(traced, func(r results.Record) bool { return r.Source == results.SourceFallback }); i >= 0 {
		pick(traced[i], "first fallback")
	}
	half := slices.IndexFunc(traced, func(r results.Record) bool {
		return slices.ContainsFunc(byTrace[r.TraceID], func(s otlprecv.Span) bool {
			return s.Kind == "CLIENT" && s.Attributes[attrState] == results.BreakerHalfOpen
		})
	})
	if half < 0 {
		half = slices.IndexFunc(traced, func(r results.Record) bool { return r.Breaker == results.BreakerHalfOpen })
	}
	if half >= 0 {
		pick(traced[half], "during HALF_OPEN")
	}
	slices.SortStableFunc(out, func(x, y choice) int { return x.rec.Start.Compare(y.rec.Start) })
	return out
}

// waterfall lays one trace's spans out as a tree: roots (spans whose parent is not in the
// trace, such as the entry's SERVER span under the load's traceparent) in start order, each
// followed by its children.
func waterfall(spans []otlprecv.Span) Waterfall {
	spans = slices.Clone(spans)
	slices.SortStableFunc(spans, func(x, y otlprecv.Span) int { return x.Start.Compare(y.Start) })
	w := Waterfall{Start: spans[0].Start}
	ids := map[string]bool{}
	children := map[string][]otlprecv.Span{}
	for _, s := range spans {
		ids[s.SpanID] = true
		if s.End.Sub(w.Start) > w.Span {
			w.Span = s.End.Sub(w.Start)
		}
	}
	var roots []otlprecv.Span
	for _, s := range spans {
		if s.ParentSpanID == "" || !ids[s.ParentSpanID] {
			roots = append(roots, s)
			continue
		}
		children[s.ParentSpanID] = append(children[s.ParentSpanID], s)
	}
	var walk func(s otlprecv.Span, depth int)
	walk = func(s otlprecv.Span, depth int) {
		w.Rows = append(w.Rows, traceRow(s, depth, w.Start))
		for _, c := range children[s.SpanID] {
			walk(c, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return w
}

func traceRow(s otlprecv.Span, depth int, origin time.Time) TraceRow {
	r := TraceRow{Depth: depth, Service: s.Service, Kind: s.Kind, Name: s.Name,
		Start: s.Start.Sub(origin), End: s.End.Sub(origin), Failed: s.Status.Code == "ERROR"}
	if s.Kind == "CLIENT" {
		r.Resend, _ = attrInt(s.Attributes, attrResend)
		r.Attempt = r.Resend + 1
		r.State, _ = s.Attributes[attrState].(string)
	}
	switch code, ok := attrInt(s.Attributes, attrStatusCode); {
	case s.Attributes[attrErrorType] != nil:
		r.Outcome = fmt.Sprint(s.Attributes[attrErrorType])
	case ok:
		r.Outcome = strconv.Itoa(code)
	case r.Failed:
		r.Outcome = cut(s.Status.Message, 60)
	}
	for _, e := range s.Events {
		m := TraceMark{Name: strings.TrimPrefix(e.Name, eventPrefix), At: e.Time.Sub(origin), Detail: eventDetail(e)}
		if ms, ok := attrFloat(e.Attributes, attrWaitMS); ok && ms > 0 {
			m.Wait = results.FromMS(ms)
		}
		r.Marks = append(r.Marks, m)
	}
	slices.SortStableFunc(r.Marks, func(x, y TraceMark) int { return cmp.Compare(x.At, y.At) })
	return r
}

// eventDetail lists an event's attributes in name order, chaoslab.* without their prefix, as k=v.
func eventDetail(e otlprecv.Event) string {
	keys := slices.Sorted(maps.Keys(e.Attributes))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := e.Attributes[k]
		if f, ok := attrFloat(e.Attributes, k); ok {
			v = strconv.FormatFloat(f, 'f', -1, 64)
		}
		parts = append(parts, fmt.Sprintf("%s=%v", strings.TrimPrefix(k, eventPrefix), v))
	}
	return strings.Join(parts, " ")
}

// attrFloat reads a number attribute: int64 from the receiver in memory, float64 from
// spans.jsonl, json.Number from a decoder that keeps them.
func attrFloat(m map[string]any, k string) (float64, bool) {
	switch v := m[k].(type) {
	case int64:
		return float64(v), true
	case float64:
		return v, true
	case int:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}

// attrInt reads a whole-number attribute (see attrFloat).
func attrInt(m map[string]any, k string) (int, bool) {
	f, ok := attrFloat(m, k)
	return int(f), ok
}
