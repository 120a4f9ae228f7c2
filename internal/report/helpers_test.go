package report

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"chaoslab/internal/results"
)

// t0 is the start of every synthetic run.
var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// at returns t0 plus s seconds.
func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// folder is a synthetic run folder.
type folder struct {
	run      *results.RunInfo
	recs     []results.Record
	events   []results.Event
	before   *results.Snapshot
	after    *results.Snapshot
	journal  map[string]any
	noEvents bool
}

// write writes f into dir with the results package's writers.
func (f folder) write(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, results.ObservationsDir), 0o755); err != nil {
		t.Fatal(err)
	}
	writeJSON(t, filepath.Join(dir, results.RunFile), f.run)
	if f.journal != nil {
		writeJSON(t, filepath.Join(dir, results.JournalFile), &f.journal)
	}
	writeJSON(t, filepath.Join(dir, results.ObservationsDir, results.BeforeSnapshot), f.before)
	writeJSON(t, filepath.Join(dir, results.ObservationsDir, results.AfterSnapshot), f.after)
	rf, err := os.Create(filepath.Join(dir, results.RequestsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	if err := results.WriteRequests(rf, f.recs); err != nil {
		t.Fatal(err)
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

func writeJSON[T any](t *testing.T, path string, v *T) {
	t.Helper()
	if v == nil {
		return
	}
	if err := results.WriteJSONFile(path, v); err != nil {
		t.Fatal(err)
	}
}

func defaultRetry() results.RetrySchedule {
	return results.RetrySchedule{MaxRetries: 5, InitialBackoff: "1s", Multiplier: 2, MaxBackoff: "16s", Jitter: 0.5}
}

func rec(start float64, lat time.Duration, source string, attempts int) results.Record {
	r := results.Record{Start: at(start), Latency: lat, Status: 200, Source: source, Attempts: attempts}
	if source == results.SourceError {
		r.Status, r.Error = 0, "timeout"
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
// +24.8s.
func known() folder {
	const b, f, e = results.SourceBackend, results.SourceFallback, results.SourceError
	var recs []results.Record
	for i := range 10 { // before: +1.0s..+1.9s, 1..10 ms
		recs = append(recs, rec(1+float64(i)/10, ms(float64(i+1)), b, 1))
	}
	recs = append(recs,
		rec(2.0, 3*time.Second, f, 3),         // during, starts exactly at fault on; completes at +5.0s
		rec(2.5, 1500*time.Millisecond, f, 2), // completes at +4.0s: the first fallback answer
		rec(3.0, 2*time.Second, e, 0),
		rec(4.5, ms(2), f, 0), rec(5.0, ms(4), f, 0), rec(5.5, ms(6), f, 0), // OPEN
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
		RPS: 10, Seed: 7, Recovery: "10s", Start: t0, End: at(26), Status: "completed",
		Retry: defaultRetry(), CBWait: "10s",
	}
	return folder{run: run, recs: recs, events: events}
}

// writeKnown writes known() into a fresh temporary folder and returns it.
func writeKnown(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	known().write(t, dir)
	return dir
}

// writeEdited writes the known folder, changed by edit, into a new temporary folder.
func writeEdited(t *testing.T, edit func(*folder)) string {
	t.Helper()
	f := known()
	edit(&f)
	dir := t.TempDir()
	f.write(t, dir)
	return dir
}
