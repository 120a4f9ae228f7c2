package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"chaoslab/internal/experiment"
	"chaoslab/internal/otlprecv"
	"chaoslab/internal/results"
)

// t0 is the start of every synthetic run.
var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// at returns t0 plus s seconds.
func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// folder is a synthetic run: what the lab would hold in memory, and can write as a folder.
type folder struct {
	run      *results.RunInfo // nil: no run.json
	recs     []results.Record
	events   []results.Event
	before   *results.Snapshot
	after    *results.Snapshot
	journal  *experiment.Journal      // nil: the experiment did not run (no journal.json)
	noEvents bool                     // write no events.jsonl
	samples  []results.CapacitySample // the backend's capacity samples (capacity.csv); nil: the model was off
	spans    []otlprecv.Span          // the spans kept (spans.jsonl); nil: the run kept none
}

// value is the run as results.ReadRun would read it back from the folder f writes.
func (f folder) value(dir string) *results.Run {
	r := &results.Run{Dir: dir, Records: f.recs, Events: f.events, Before: f.before, After: f.after, Capacity: f.samples, Spans: f.spans}
	if f.run != nil {
		r.Info = *f.run
	} else {
		r.Missing = append(r.Missing, results.RunFile)
	}
	return r
}

// analyze analyzes f from memory, as the lab does.
func (f folder) analyze() *Analysis { return Analyze(f.value("memory"), f.journal) }

// write writes f into dir with the results and experiment packages' writers.
func (f folder) write(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run := f.value(dir)
	if err := run.Write(dir); err != nil {
		t.Fatal(err)
	}
	if f.run == nil {
		if err := os.Remove(filepath.Join(dir, results.RunFile)); err != nil {
			t.Fatal(err)
		}
	}
	if f.journal != nil {
		if err := f.journal.WriteFile(filepath.Join(dir, results.JournalFile)); err != nil {
			t.Fatal(err)
		}
	}
	if f.noEvents {
		return
	}
	ef, err := os.Create(filepath.Join(dir, results.EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	log := results.NewEventLog(ef)
	for _, e := range f.events {
		log.Add(e)
	}
	if err := log.Err(); err != nil {
		t.Fatal(err)
	}
}

func defaultRetry() results.RetrySchedule {
	return results.RetrySchedule{MaxRetries: 5, InitialBackoff: results.Duration(time.Second), Multiplier: 2,
		MaxBackoff: results.Duration(16 * time.Second), Jitter: 0.5}
}

// unknown is an attempt count the client did not log.
const unknown = results.UnknownAttempts

func rec(start float64, lat time.Duration, source string, attempts int) results.Record {
	r := results.Record{Start: at(start), Latency: lat, Status: 200, Source: source, Attempts: attempts}
	switch source {
	case results.SourceError:
		r.Status, r.Error = 0, "timeout"
	case results.SourceDropped:
		r.Status, r.Latency, r.Attempts, r.Error = 0, 0, 0, "in-flight cap reached"
	}
	return r
}

func breakerEv(s float64, from, to string) results.Event {
	return results.Event{Time: at(s), Kind: results.KindBreaker, From: from, To: to}
}

func faultEv(s float64, action string) results.Event {
	return results.Event{Time: at(s), Kind: results.KindFault, Action: action, Name: "partition"}
}

func retryEv(s float64, n int, wait float64) results.Event {
	return results.Event{Time: at(s), Kind: results.KindRetry, Attempt: n, WaitMS: wait, Error: "timeout"}
}

// known is the hand-made run whose numbers the tests check. Fault on at +2s, off at +15s;
// the breaker opens at +4.2s, tries at +14.3s, reopens at +14.4s, tries at +24.5s and closes at
// +24.8s. The experiment completed and its steady state held.
func known() folder {
	const b, f, e = results.SourceBackend, results.SourceFallback, results.SourceError
	var recs []results.Record
	for i := range 10 { // before: +1.0s..+1.9s, 1..10 ms
		recs = append(recs, rec(1+float64(i)/10, ms(float64(i+1)), b, 1))
	}
	recs = append(recs,
		rec(2.0, 3*time.Second, f, 3),                                       // during, starts exactly at fault on; completes at +5.0s
		rec(2.5, 1500*time.Millisecond, f, 2),                               // completes at +4.0s: the first fallback answer
		rec(3.0, 2*time.Second, e, unknown),                                 // timed out at the load before the client said
		rec(4.5, ms(2), f, 0), rec(5.0, ms(4), f, 0), rec(5.5, ms(6), f, 0), // OPEN: rejected
		rec(14.35, time.Second, f, 1), // HALF_OPEN trial
		rec(14.5, ms(3), f, 0),        // OPEN again
		rec(15.0, ms(2), f, 0),        // after (starts exactly at heal), OPEN
		rec(24.6, ms(5), b, 1),        // HALF_OPEN trial: first backend answer at +24.605s
	)
	for i := range 5 { // after: +25.0s..+25.4s
		recs = append(recs, rec(25+float64(i)/10, ms(2), b, 1))
	}
	events := []results.Event{
		faultEv(2, "on"),
		retryEv(2.5, 1, 600), retryEv(2.6, 1, 1000), retryEv(3.0, 1, 1400), retryEv(3.1, 1, 1502.5),
		retryEv(3.5, 2, 900), retryEv(3.6, 2, 1500), retryEv(3.7, 2, 2500),
		breakerEv(4.2, "CLOSED", "OPEN"),
		breakerEv(14.3, "OPEN", "HALF_OPEN"), breakerEv(14.4, "HALF_OPEN", "OPEN"),
		faultEv(15, "off"),
		breakerEv(24.5, "OPEN", "HALF_OPEN"), breakerEv(24.8, "HALF_OPEN", "CLOSED"),
	}
	run := &results.RunInfo{
		Title: "Network partition", Experiment: "built-in", Stack: "local", Resilience: results.ResilienceOn,
		RPS: 10, Seed: 7, Recovery: results.Duration(10 * time.Second), LoadTimeout: results.Duration(15 * time.Second),
		Start: t0, End: at(26), Status: "completed", Retry: defaultRetry(), CBWait: results.Duration(10 * time.Second), HalfOpen: 3,
	}
	return folder{run: run, recs: recs, events: events, journal: journalOf(experiment.StatusCompleted, ptr(true), ptr(true))}
}

// edited returns known() changed by edit.
func edited(edit func(*folder)) folder {
	f := known()
	edit(&f)
	return f
}

// writeKnown writes known() into a fresh temporary folder and returns it.
func writeKnown(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	known().write(t, dir)
	return dir
}

func ptr[T any](v T) *T { return &v }

// journalOf is a journal of the partition experiment: status, the steady state before and after
// (nil: not checked), deviated when after is false, and the method that ran (none when before
// is false).
func journalOf(status string, before, after *bool) *experiment.Journal {
	doc, _ := json.Marshal(map[string]any{"title": "Network partition",
		"steady-state-hypothesis": map[string]any{"title": "The client answers 200 within 2 s"}})
	j := &experiment.Journal{Experiment: doc, Status: status, Start: experiment.Timestamp(at(0.5)),
		End: experiment.Timestamp(at(16)), Run: []*experiment.Entry{}, Rollbacks: []*experiment.Entry{},
		SteadyStates: experiment.SteadyStates{During: []any{}}}
	if before != nil {
		j.SteadyStates.Before = &experiment.Hypothesis{SteadyStateMet: before, Probes: []*experiment.Entry{probeEntry("client-answers-200", *before)}}
		if !*before {
			return j
		}
	}
	j.Run = append(j.Run, actionEntry("partition-client-from-backend", experiment.NewObject("status", int64(200))),
		actionEntry("partition-is-in-effect", experiment.NewObject("status", int64(200),
			"body", experiment.NewObject("reachable", false, "error", "timeout"))))
	j.Rollbacks = append(j.Rollbacks, actionEntry("heal-partition", experiment.NewObject("status", int64(204))))
	if after != nil {
		j.SteadyStates.After = &experiment.Hypothesis{SteadyStateMet: after, Probes: []*experiment.Entry{probeEntry("client-answers-200", *after)}}
		j.Deviated = !*after
	}
	return j
}

func probeEntry(name string, met bool) *experiment.Entry {
	return &experiment.Entry{Activity: experiment.NewObject("type", "probe", "name", name), Status: "succeeded",
		ToleranceMet: &met, Output: experiment.NewObject("status", int64(200)), Start: experiment.Timestamp(at(1)), Duration: 0.004}
}

func actionEntry(name string, out any) *experiment.Entry {
	return &experiment.Entry{Activity: experiment.NewObject("type", "action", "name", name), Status: "succeeded",
		Output: out, Start: experiment.Timestamp(at(2)), Duration: 0.012}
}
