package report

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"chaoslab/internal/experiment"
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

// recoveredTail is how many of the last requests sent are looked at, in a run without a fault
// event, for a backend answer (see Recovered in the package doc).
const recoveredTail = 5

// sendLagNote is the send lag above which the report says that the load lagged.
const sendLagNote = 10 * time.Millisecond

// Analysis holds every number the report shows for one run. Its times are absolute; the
// offsets (time.Duration) are relative to the event named in their comment. A nil pointer means
// "not seen". It is a plain value: safe to read concurrently, not to modify.
type Analysis struct {
	Dir string          `json:"dir"`
	Run results.RunInfo `json:"run"`

	Origin    time.Time  `json:"origin"`               // the run start (RunInfo.Start, or the first request or event)
	End       time.Time  `json:"end"`                  // the last request end (or RunInfo.End, whichever is later)
	FaultOn   *time.Time `json:"fault_on,omitempty"`   // the first fault "on" event: the first window's start
	FaultOff  *time.Time `json:"fault_off,omitempty"`  // the end of the last window; nil when it was never removed
	FaultName string     `json:"fault_name,omitempty"` // the name of the first fault event (as FaultKind)
	FaultKind string     `json:"fault_kind,omitempty"` // the kind of the first window: "latency", "partition+latency"

	Faults   []FaultWindow `json:"faults"`   // every window the fault was in effect, in order
	Cycles   []FaultCycle  `json:"cycles"`   // one per window, when the fault came and went more than once
	Restarts []Restart     `json:"restarts"` // services killed and started again (process events)
	Calls    []CallStats   `json:"calls"`    // the backend calls (attempt events): before, during, after: always three

	Layers []LayerStats `json:"layers,omitempty"` // a topology's layers, entries first, the backend last; nil without one

	// Goodput is the load's goodput per second and the figures relative to the trigger, with
	// RunGoodputParams; computed for every run, shown only when ShowsGoodput.
	Goodput *Goodput `json:"-"`
	// Capacity is the backend's capacity model as sampled (capacity.csv); nil when it was off.
	Capacity *CapacityStats `json:"-"`
	// TierBreakers are the breakers of every tier (the client's alone without a topology), for
	// the capacity chart's bands.
	TierBreakers []TierBreaker `json:"-"`

	Phases    []PhaseStats `json:"phases"`     // before, during, after: always three, in order
	Total     PhaseStats   `json:"total"`      // every request
	WhileOpen PhaseStats   `json:"while_open"` // requests sent while the breaker was OPEN (recordsIn)
	Fallbacks PhaseStats   `json:"fallbacks"`  // the requests answered with a fallback
	Reasons   []Reason     `json:"reasons"`    // why fallbacks, errors and drops happened, most frequent first

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
	Snapshots *SnapshotDiff `json:"snapshots"` // nil when neither observation was made
	Journal   *Journal      `json:"journal"`   // what the report shows of the journal; nil without one

	// EngineJournal is the journal as the engine wrote it; nil when the experiment did not run.
	EngineJournal *experiment.Journal `json:"-"`

	Status        string            `json:"status"`         // the journal's status (RunInfo's without a journal)
	Deviated      bool              `json:"deviated"`       // the journal's deviated flag (RunInfo's without a journal)
	BackendHealed bool              `json:"backend_healed"` // the backend answered after the heal: see Recovered
	Recovered     bool              `json:"recovered"`      // see the package doc
	Objectives    []ObjectiveResult `json:"objectives"`     // the run's objectives judged, in name order
	Verdict       Verdict           `json:"verdict"`        // Judge's verdict: the exit status and every headline
	MaxSendLag    time.Duration     `json:"max_send_lag"`   // the largest SendLag of any request

	// Traces are the waterfalls of chosen requests, from the spans the run kept; Collected is
	// false when it kept none (no spans.jsonl).
	Traces *Traces `json:"-"`

	Notes   []string         `json:"notes"` // what a reader must know: missing files, no fault, lagging load
	Records []results.Record `json:"-"`     // the requests, sorted by Start
	Events  []results.Event  `json:"-"`     // the events, sorted by Time; with a topology the entry tiers' (entryView)
}

// Analyze computes the Analysis of a run from memory: the run as the lab holds it (or as
// results.ReadRun read it back) and the experiment's journal (nil when the experiment did not
// run). It reads no file and does not modify run or j. The verdict is in Analysis.Verdict.
func Analyze(run *results.Run, j *experiment.Journal) *Analysis {
	a := &Analysis{Dir: run.Dir, Run: run.Info, EngineJournal: j,
		Records: slices.Clone(run.Records), Events: slices.Clone(run.Events)}
	slices.SortStableFunc(a.Records, func(x, y results.Record) int { return x.Start.Compare(y.Start) })
	slices.SortStableFunc(a.Events, func(x, y results.Event) int { return x.Time.Compare(y.Time) })
	all := a.Events
	a.Events = entryView(all, a.Run.Topology)
	a.missing(run.Missing)
	a.Journal = newJournal(j)
	a.Snapshots = a.snapshots(run.Before, run.After)
	a.Capacity = capacityOf(run.Capacity)
	a.compute()
	a.layers(all)
	a.TierBreakers = a.tierBreakers(all)
	a.Traces = a.tracesOf(run.Spans, run.Info.Traces)
	a.Verdict = Judge(a)
	return a
}

// Load reads the run folder dir (results.ReadRun and experiment.ReadJournal) and analyzes it.
// requests.csv and events.jsonl are required; run.json, journal.json and the observations are
// optional (a note says what was missing).
func Load(dir string) (*Analysis, error) {
	run, err := results.ReadRun(dir)
	if err != nil {
		return nil, err
	}
	j, err := experiment.ReadJournal(filepath.Join(dir, results.JournalFile))
	var note string
	switch {
	case errors.Is(err, fs.ErrNotExist):
		note = "journal.json is missing: the hypothesis and the activities are not shown."
	case err != nil:
		note = fmt.Sprintf("journal.json is unreadable: %v.", err)
	}
	a := Analyze(run, j)
	if note != "" {
		a.Notes = append([]string{note}, a.Notes...)
	}
	return a, nil
}

// missing notes the optional files a folder did not have (the observations are noted by
// snapshots).
func (a *Analysis) missing(names []string) {
	for _, m := range names {
		switch {
		case m == results.RunFile:
			a.note("run.json is missing: the settings and the run's status are unknown.")
		case strings.HasPrefix(m, results.ObservationsDir):
		default:
			a.note("%s is missing.", m)
		}
	}
}

func (a *Analysis) note(format string, args ...any) {
	a.Notes = append(a.Notes, fmt.Sprintf(format, args...))
}

// compute fills every derived number from Run, Records and Events.
func (a *Analysis) compute() {
	a.Status, a.Deviated = a.Run.Status, a.Run.Deviated
	if a.EngineJournal != nil {
		a.Status, a.Deviated = a.EngineJournal.Status, a.EngineJournal.Deviated
	}
	a.BreakerEnabled = results.HasBreaker(a.Run.Resilience)
	a.bounds()
	a.phases()
	a.breaker()
	a.detection()
	a.retries()
	a.calls()
	a.cycles()
	a.restarts()
	a.recovered()
	a.childExits()
	a.sendLag()
	a.Goodput = GoodputOf(a, RunGoodputParams(a.Run))
	a.judgeObjectives()
	for _, w := range a.Run.Warnings {
		a.note("Warning: %s", w)
	}
}

// bounds sets Origin, End and the fault windows.
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
	a.faultWindows()
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

// recovered sets BackendHealed and Recovered (see the package doc): the backend answered after
// the heal (without a fault event: among the last requests sent; a fault never removed never
// healed) and, with a breaker, the breaker is CLOSED at the end.
func (a *Analysis) recovered() {
	switch {
	case a.FaultOff != nil:
		a.BackendHealed = a.FirstBackendAfterHeal != nil
	case a.FaultOn == nil:
		sent := filter(a.Records, results.Record.Answered)
		tail := sent[max(0, len(sent)-recoveredTail):]
		a.BackendHealed = slices.ContainsFunc(tail, func(r results.Record) bool { return r.Source == results.SourceBackend })
	}
	a.Recovered = a.BackendHealed && (!a.BreakerEnabled || a.FinalBreaker == results.BreakerClosed)
}

// childExits notes every service process that exited during the run.
func (a *Analysis) childExits() {
	for _, e := range a.Events {
		if e.Kind == results.KindChildExit {
			a.note("%s exited at %s: %s", e.Service, FormatOffset(a.Rel(e.Time)), e.Error)
		}
	}
}

// sendLag sets MaxSendLag and notes, per phase, a load that lagged behind its schedule.
func (a *Analysis) sendLag() {
	for _, p := range a.Phases {
		a.MaxSendLag = max(a.MaxSendLag, p.MaxSendLag)
		if p.MaxSendLag > sendLagNote {
			a.note("The load sent requests of the %s phase up to %s after their scheduled arrival: their latencies include that lag.",
				p.Name, FormatDuration(p.MaxSendLag))
		}
	}
}
