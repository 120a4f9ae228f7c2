package experiment

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// outcome is how one activity (or a list of them) ended.
type outcome int

const (
	outcomeSucceeded   outcome = iota // ran; the output may still be out of tolerance
	outcomeFailed                     // ActivityFailed: connection error, timeout
	outcomeAborted                    // any other error: the run aborts
	outcomeInterrupted                // ctx was cancelled
)

// execute runs one activity: pause before, the provider, pause after. The entry is added (via
// add) when the activity starts, so journal lists are in start order. It is safe to call from
// several goroutines at once.
func (r *runner) execute(ctx context.Context, phase string, a *Object, add func(*Entry)) (*Entry, outcome) {
	st, oc := r.begin(ctx, phase, a, add)
	if oc != outcomeSucceeded {
		return nil, oc
	}
	return r.finish(ctx, st)
}

// started is an activity whose pause before is over and whose entry is in the journal.
type started struct {
	phase, name, typ string
	a                *Object
	pauses           *Object
	entry            *Entry
}

// begin pauses before the activity, then records its start (entry added, start event sent).
func (r *runner) begin(ctx context.Context, phase string, a *Object, add func(*Entry)) (*started, outcome) {
	st := &started{phase: phase, a: a, pauses: asObject(substitute(mustGet(a, "pauses"), r.conf))}
	st.name, _ = getString(a, "name")
	st.typ, _ = getString(a, "type")
	if oc := r.pause(ctx, "before", st.pauses); oc != outcomeSucceeded {
		return nil, oc
	}
	r.logStart(phase, st.typ, st.name, a)
	st.entry = &Entry{Activity: a, Start: Timestamp(r.now())}
	add(st.entry)
	r.emit(ActivityEvent{Time: time.Time(st.entry.Start), Phase: phase, Name: st.name, Type: st.typ, Action: "start"})
	return st, outcomeSucceeded
}

// finish runs the provider of a started activity, records its end and pauses after it.
func (r *runner) finish(ctx context.Context, st *started) (*Entry, outcome) {
	entry := st.entry
	oc, errText := r.runProvider(ctx, st.a, entry)
	end := r.now()
	entry.End, entry.Duration = Timestamp(end), secondsBetween(time.Time(entry.Start), end)
	r.emit(ActivityEvent{Time: end, Phase: st.phase, Name: st.name, Type: st.typ, Action: "end",
		Status: entry.Status, Output: entry.Output, Err: errText})
	if oc == outcomeSucceeded || oc == outcomeFailed {
		if poc := r.pause(ctx, "after", st.pauses); poc != outcomeSucceeded {
			return entry, poc
		}
	}
	return entry, oc
}

// hasPauseBefore reports whether the activity declares a pause before it.
func hasPauseBefore(a *Object) bool {
	v, ok := asObject(mustGet(a, "pauses")).Get("before")
	return ok && v != nil
}

func (r *runner) logStart(phase, typ, name string, a *Object) {
	label := map[string]string{"probe": "Probe", "action": "Action"}[typ]
	if phase == PhaseRollbacks {
		label = "Rollback"
	}
	if bg, _ := mustGet(a, "background").(bool); bg {
		name += " [in background]"
	}
	r.log.Info(label + ": " + name)
}

// runProvider runs the substituted provider and fills the entry's output, status and exception.
func (r *runner) runProvider(ctx context.Context, a *Object, entry *Entry) (outcome, string) {
	p, _ := substitute(mustGet(a, "provider"), r.conf).(*Object)
	typ, _ := getString(p, "type")
	prov, ok := r.provs[typ]
	if !ok {
		return outcomeAborted, fmt.Sprintf("unknown provider type %q", typ)
	}
	out, err := prov.run(ctx, p, r.env)
	var af *activityFailed
	switch {
	case err == nil:
		entry.Output, entry.Status = out, "succeeded"
		return outcomeSucceeded, ""
	case isInterruption(ctx, err):
		r.log.Warn("  => interrupted")
		return outcomeInterrupted, "interrupted: " + err.Error()
	case errors.As(err, &af):
		entry.Status, entry.Exception = "failed", exceptionLines(af.msg)
		r.log.Error("  => failed: " + af.msg)
		return outcomeFailed, af.msg
	default:
		r.log.Error("  => aborted: " + err.Error())
		return outcomeAborted, err.Error()
	}
}

// pause sleeps for pauses[which] seconds, cut short when ctx is done. A pause that is not a
// number after substitution aborts the run, as in chaostoolkit-lib.
func (r *runner) pause(ctx context.Context, which string, pauses *Object) outcome {
	v, ok := pauses.Get(which)
	if !ok || v == nil {
		return outcomeSucceeded
	}
	secs, isNum := pyNumber(v)
	if _, isBool := v.(bool); isBool || !isNum {
		r.log.Error(fmt.Sprintf("pause %s is %s, not a number: aborting", which, pyRepr(v)))
		return outcomeAborted
	}
	if secs <= 0 {
		return outcomeSucceeded
	}
	if which == "before" {
		r.log.Info(fmt.Sprintf("Pausing before next activity for %ss...", pyStr(v)))
	} else {
		r.log.Info(fmt.Sprintf("Pausing after activity for %ss...", pyStr(v)))
	}
	if sleepCtx(ctx, time.Duration(secs*float64(time.Second))) != nil {
		return outcomeInterrupted
	}
	return outcomeSucceeded
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// emit calls the observer, one call at a time.
func (r *runner) emit(ev ActivityEvent) {
	if r.observer == nil {
		return
	}
	r.obsMu.Lock()
	defer r.obsMu.Unlock()
	r.observer(ev)
}
