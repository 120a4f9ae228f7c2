package report

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"chaoslab/internal/results"
)

// Phase names, in order.
const (
	PhaseBefore = "before"
	PhaseDuring = "during"
	PhaseAfter  = "after"
)

// OpenP99Target is the acceptance criterion for latency while the breaker is OPEN: p99 under it.
const OpenP99Target = 20 * time.Millisecond

// recoveredTail is how many of the last requests must have been answered by the backend for a
// run to count as recovered.
const recoveredTail = 5

// Analysis holds every number the report shows for one run folder. Its times are absolute;
// the offsets (time.Duration) are relative to the event named in their comment. A nil pointer
// means "not seen". It is a plain value: safe to read concurrently, not to modify.
type Analysis struct {
	Dir string          `json:"dir"`
	Run results.RunInfo `json:"run"`

	Origin    time.Time  `json:"origin"`               // the run start (RunInfo.Start, or the first request or event)
	End       time.Time  `json:"end"`                  // the last request end (or RunInfo.End, whichever is later)
	FaultOn   *time.Time `json:"fault_on,omitempty"`   // the first fault "on" event
	FaultOff  *time.Time `json:"fault_off,omitempty"`  // the last fault "off" event after FaultOn
	FaultName string     `json:"fault_name,omitempty"` // the name of the first fault event

	Phases    []PhaseStats `json:"phases"`     // before, during, after: always three, in order
	Total     PhaseStats   `json:"total"`      // every request
	WhileOpen PhaseStats   `json:"while_open"` // requests started while the breaker was OPEN
	Fallbacks PhaseStats   `json:"fallbacks"`  // the requests answered with a fallback
	Reasons   []Reason     `json:"reasons"`    // why fallbacks and errors happened, most frequent first

	BreakerEnabled bool              `json:"breaker_enabled"` // false for RESILIENCE=off
	Transitions    []Transition      `json:"transitions"`     // breaker events, in time order
	Intervals      []BreakerInterval `json:"intervals"`       // the timeline, CLOSED from Origin
	FinalBreaker   string            `json:"final_breaker"`   // the state at the end; "" without a breaker

	FirstFallbackAfterFault *time.Duration `json:"first_fallback_after_fault,omitempty"` // from FaultOn
	OpenAfterFault          *time.Duration `json:"open_after_fault,omitempty"`           // from FaultOn
	FirstBackendAfterHeal   *time.Duration `json:"first_backend_after_heal,omitempty"`   // from FaultOff
	ClosedAfterHeal         *time.Duration `json:"closed_after_heal,omitempty"`          // from FaultOff

	Retries   []RetryWaits  `json:"retries"`   // observed waits per retry number
	Schedule  *Schedule     `json:"schedule"`  // the configured schedule; nil if RunInfo has none
	Snapshots *SnapshotDiff `json:"snapshots"` // nil when neither observation was written
	Journal   *Journal      `json:"journal"`   // nil when journal.json is missing

	Status    string `json:"status"`    // the journal's status, from RunInfo
	Deviated  bool   `json:"deviated"`  // from RunInfo
	Recovered bool   `json:"recovered"` // see Recovered in the package doc of Analyze

	Notes   []string         `json:"notes"` // what a reader must know: missing files, no fault, lagging data
	Records []results.Record `json:"-"`     // the requests, sorted by Start
	Events  []results.Event  `json:"-"`     // the events, sorted by Time
}

// Analyze reads the run folder runDir and computes its Analysis. requests.csv and events.jsonl
// are required; run.json, journal.json and the observations are optional (a note says what was
// missing).
//
// Recovered is true when the breaker closed after the heal (or never opened) and the last
// requests (up to five) were all answered by the backend.
func Analyze(runDir string) (*Analysis, error) {
	a := &Analysis{Dir: runDir}
	if err := a.load(runDir); err != nil {
		return nil, err
	}
	a.compute()
	return a, nil
}

func (a *Analysis) load(dir string) error {
	if err := results.ReadJSONFile(filepath.Join(dir, results.RunFile), &a.Run); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		a.note("run.json is missing: the settings and the run's status are unknown.")
	}
	recs, err := readFile(filepath.Join(dir, results.RequestsFile), results.ReadRequests)
	if err != nil {
		return err
	}
	evs, err := readFile(filepath.Join(dir, results.EventsFile), results.ReadEvents)
	if err != nil {
		return err
	}
	slices.SortStableFunc(recs, func(x, y results.Record) int { return x.Start.Compare(y.Start) })
	slices.SortStableFunc(evs, func(x, y results.Event) int { return x.Time.Compare(y.Time) })
	a.Records, a.Events = recs, evs
	a.Journal = a.loadJournal(dir)
	a.Snapshots = a.loadSnapshots(dir)
	return nil
}

// readFile opens path and reads it with read.
func readFile[T any](path string, read func(io.Reader) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return zero, fmt.Errorf("%s is not a results folder: %w", filepath.Dir(path), err)
		}
		return zero, err
	}
	defer f.Close()
	return read(f)
}

func (a *Analysis) note(format string, args ...any) {
	a.Notes = append(a.Notes, fmt.Sprintf(format, args...))
}

// compute fills every derived number from Run, Records and Events.
func (a *Analysis) compute() {
	a.Status, a.Deviated = a.Run.Status, a.Run.Deviated
	a.BreakerEnabled = a.Run.Resilience != results.ResilienceOff
	a.bounds()
	a.phases()
	a.breaker()
	a.detection()
	a.retries()
	a.recovered()
	a.childExits()
}

// bounds sets Origin, End and the fault window.
func (a *Analysis) bounds() {
	a.Origin = a.Run.Start
	first, last := a.span()
	if a.Origin.IsZero() || (!first.IsZero() && first.Before(a.Origin)) {
		a.Origin = first
	}
	a.End = last
	if a.Run.End.After(a.End) {
		a.End = a.Run.End
	}
	for _, e := range a.Events {
		if e.Kind != results.KindFault {
			continue
		}
		switch {
		case e.Action == "on" && a.FaultOn == nil:
			t := e.Time
			a.FaultOn, a.FaultName = &t, e.Name
		case e.Action == "off" && a.FaultOn != nil:
			t := e.Time
			a.FaultOff = &t
		}
	}
	switch {
	case a.FaultOn == nil:
		a.note("No fault was recorded: every request counts as \"before\".")
	case a.FaultOff == nil:
		a.note("The fault was never removed: \"during\" lasts to the end and there is no \"after\".")
	}
}

// span returns the earliest start (of a request or event) and the latest request end or event.
func (a *Analysis) span() (first, last time.Time) {
	for _, r := range a.Records {
		first = minTime(first, r.Start)
		last = maxTime(last, r.Start.Add(r.Latency))
	}
	for _, e := range a.Events {
		first = minTime(first, e.Time)
		last = maxTime(last, e.Time)
	}
	return first, last
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Rel returns t relative to the run start.
func (a *Analysis) Rel(t time.Time) time.Duration { return t.Sub(a.Origin) }

// recovered sets Recovered: see Analyze.
func (a *Analysis) recovered() {
	opened := slices.ContainsFunc(a.Transitions, func(t Transition) bool { return t.To == results.BreakerOpen })
	breakerOK := !opened || a.ClosedAfterHeal != nil
	if opened && a.FaultOn == nil {
		breakerOK = a.FinalBreaker == results.BreakerClosed
	}
	n := len(a.Records)
	if n == 0 {
		a.Recovered = false
		return
	}
	tail := a.Records[max(0, n-recoveredTail):]
	backend := !slices.ContainsFunc(tail, func(r results.Record) bool { return r.Source != results.SourceBackend })
	a.Recovered = breakerOK && backend
}

// childExits notes every service process that exited during the run.
func (a *Analysis) childExits() {
	for _, e := range a.Events {
		if e.Kind == results.KindChildExit {
			a.note("%s exited at %s: %s", e.Service, FormatOffset(a.Rel(e.Time)), e.Error)
		}
	}
}
