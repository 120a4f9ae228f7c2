package report

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"chaoslab/internal/results"
)

// Fault kinds, as the fault events name them (results.Event.Name of a KindFault event; several
// in effect at once are joined by "+"). internal/fault defines them; the report does not import
// it and spells the ones it speaks to here.
const (
	faultPartition  = "partition"
	faultFlapping   = "flapping"
	faultTimeout    = "timeout"
	faultLatency    = "latency"
	faultSlowBody   = "slow-body"
	faultReset      = "connection-reset"
	faultRefuse     = "refuse"
	faultHTTPErrors = "http-errors"
	faultHTTPDelay  = "http-delay"
	faultCrash      = "crash"
)

// FaultWindow is one stretch of time a fault was in effect: a fault "on" event and the first
// "off" event after it.
type FaultWindow struct {
	On     time.Time  `json:"on"`
	Off    *time.Time `json:"off,omitempty"`    // nil: never removed
	Kind   string     `json:"kind"`             // the on event's Name: "latency", "partition", "http-errors+latency"
	Detail string     `json:"detail,omitempty"` // the on event's Message: the fault and its parameters, for a person
}

// Kinds returns the kinds of fault in effect in the window ("a+b" split).
func (w FaultWindow) Kinds() []string { return strings.Split(w.Kind, "+") }

// Describe names the fault for a person: its detail, prefixed with its kind when the detail does
// not say it ("crash: backend-service killed ..."); the kind alone without a detail.
func (w FaultWindow) Describe() string {
	switch {
	case w.Detail == "":
		return orNA(w.Kind)
	case w.Kind == "" || strings.Contains(strings.ToLower(w.Detail), strings.ToLower(w.Kind)):
		return w.Detail
	}
	return w.Kind + ": " + w.Detail
}

// FaultCycle is what the breaker did during one window of a fault that came and went several
// times (a flapping partition): from the window's start to the next window's start (the run's end
// for the last one).
type FaultCycle struct {
	N            int        `json:"n"` // 1-based
	On           time.Time  `json:"on"`
	Off          *time.Time `json:"off,omitempty"`
	Until        time.Time  `json:"until"`         // the next window's start, or the run's end
	StateAtOn    string     `json:"state_at_on"`   // the breaker state when the window began; "" without a breaker
	ToOpen       int        `json:"to_open"`       // transitions to OPEN in [On, Until)
	TrialsFailed int        `json:"trials_failed"` // of them, HALF_OPEN -> OPEN: the trial calls failed
	ToClosed     int        `json:"to_closed"`     // transitions to CLOSED in [On, Until)
}

// Opened reports whether the breaker went to OPEN during the cycle.
func (c FaultCycle) Opened() bool { return c.ToOpen > 0 }

// Restart is a service killed by a crash fault and started again, from the process events.
type Restart struct {
	Service       string         `json:"service"`
	Killed        time.Time      `json:"killed"`
	Started       *time.Time     `json:"started,omitempty"`         // nil: not started again by the end
	TimeToRestart *time.Duration `json:"time_to_restart,omitempty"` // kill -> the new process listening
	OldPID        int            `json:"old_pid,omitempty"`         // 0: not known
	NewPID        int            `json:"new_pid,omitempty"`
}

// faultWindows fills Faults, FaultOn, FaultOff, FaultName and FaultKind from the fault events:
// each "on" opens a window (an "on" while one is open is part of it), the next "off" closes it.
func (a *Analysis) faultWindows() {
	for _, e := range a.Events {
		if e.Kind != results.KindFault {
			continue
		}
		n := len(a.Faults)
		open := n > 0 && a.Faults[n-1].Off == nil
		switch {
		case e.Action == "on" && !open:
			a.Faults = append(a.Faults, FaultWindow{On: e.Time, Kind: e.Name, Detail: e.Message})
		case e.Action == "off" && open:
			t := e.Time
			a.Faults[n-1].Off = &t
		}
	}
	if len(a.Faults) == 0 {
		return
	}
	first, last := a.Faults[0], a.Faults[len(a.Faults)-1]
	on := first.On
	a.FaultOn, a.FaultOff = &on, last.Off
	a.FaultName, a.FaultKind = first.Kind, first.Kind
}

// FaultKinds returns every kind of fault of the run, in order of appearance, each once.
func (a *Analysis) FaultKinds() []string {
	var out []string
	for _, w := range a.Faults {
		for _, k := range w.Kinds() {
			if k != "" && !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out
}

// cycles fills Cycles when the fault came and went more than once.
func (a *Analysis) cycles() {
	if len(a.Faults) < 2 {
		return
	}
	for i, w := range a.Faults {
		c := FaultCycle{N: i + 1, On: w.On, Off: w.Off, Until: a.End, StateAtOn: a.StateAt(w.On)}
		if i+1 < len(a.Faults) {
			c.Until = a.Faults[i+1].On
		}
		for _, t := range a.Transitions {
			if t.Time.Before(c.On) || !t.Time.Before(c.Until) {
				continue
			}
			switch t.To {
			case results.BreakerOpen:
				c.ToOpen++
				if t.From == results.BreakerHalfOpen {
					c.TrialsFailed++
				}
			case results.BreakerClosed:
				c.ToClosed++
			}
		}
		a.Cycles = append(a.Cycles, c)
	}
}

// pidPattern finds a process id in a process event's message: "SIGKILL to pid 1234", "pid 5678".
var pidPattern = regexp.MustCompile(`\bpid (\d+)`) // read-only

func pidIn(msg string) int {
	m := pidPattern.FindStringSubmatch(msg)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// restarts fills Restarts from the process events: a "kill" of a service, then its next "start".
// The PIDs come from the observations when they have them, else from the events' messages.
func (a *Analysis) restarts() {
	open := map[string]int{} // service -> index in Restarts of its kill not yet started again
	for _, e := range a.Events {
		if e.Kind != results.KindProcess {
			continue
		}
		i, killed := open[e.Service]
		switch {
		case e.Action == "kill":
			open[e.Service] = len(a.Restarts)
			a.Restarts = append(a.Restarts, Restart{Service: e.Service, Killed: e.Time, OldPID: pidIn(e.Message)})
		case e.Action == "start" && killed:
			r := &a.Restarts[i]
			t := e.Time
			d := t.Sub(r.Killed)
			if e.DurationMS > 0 {
				d = results.FromMS(e.DurationMS)
			}
			r.Started, r.TimeToRestart, r.NewPID = &t, &d, pidIn(e.Message)
			delete(open, e.Service)
		}
	}
	a.observedPIDs()
}

// observedPIDs takes the PIDs of the observations before and after, when there are both: the
// first restart of a service had the one before, its last the one after.
func (a *Analysis) observedPIDs() {
	if a.Snapshots == nil || a.Snapshots.Before == nil || a.Snapshots.After == nil {
		return
	}
	for i := range a.Restarts {
		r := &a.Restarts[i]
		b, okB := a.Snapshots.Before.Services[r.Service]
		f, okF := a.Snapshots.After.Services[r.Service]
		if okB && b.PID != 0 && a.firstRestartOf(i) {
			r.OldPID = b.PID
		}
		if okF && f.PID != 0 && a.lastRestartOf(i) {
			r.NewPID = f.PID
		}
	}
}

func (a *Analysis) firstRestartOf(i int) bool {
	for _, r := range a.Restarts[:i] {
		if r.Service == a.Restarts[i].Service {
			return false
		}
	}
	return true
}

func (a *Analysis) lastRestartOf(i int) bool {
	for _, r := range a.Restarts[i+1:] {
		if r.Service == a.Restarts[i].Service {
			return false
		}
	}
	return true
}

// faultDescription names the run's fault for a person: the first window's kind and detail.
func faultDescription(a *Analysis) string {
	if len(a.Faults) == 0 {
		return NA
	}
	return a.Faults[0].Describe()
}

// windowsPhrase says how many windows the fault had, "" for one: "5 windows (cycles)".
func windowsPhrase(a *Analysis) string {
	if len(a.Faults) < 2 {
		return ""
	}
	return fmt.Sprintf("%d windows (cycles)", len(a.Faults))
}

// windowList lists the windows relative to the run start: "+5.0s … +8.0s, +11.0s … never".
func windowList(a *Analysis) string {
	parts := make([]string, len(a.Faults))
	for i, w := range a.Faults {
		off := "never removed"
		if w.Off != nil {
			off = FormatOffset(a.Rel(*w.Off))
		}
		parts[i] = FormatOffset(a.Rel(w.On)) + " … " + off
	}
	return strings.Join(parts, ", ")
}
