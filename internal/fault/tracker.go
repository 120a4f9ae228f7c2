package fault

import (
	"sync"
	"time"
)

// Change is a transition of the fault state, reported to the OnChange callback.
type Change struct {
	Time   time.Time
	Active bool   // true: a fault is now in effect; false: none is
	Kind   string // the kinds in effect (on) or that were in effect (off), joined by "+"
	Detail string // what is in effect and its parameters, or, prefixed "removed: ", what was removed
}

// tracker turns the state of every injector into on/off changes: "on" when some fault comes into
// effect while none was, "off" when the last one goes. It is safe for concurrent use.
type tracker struct {
	mu       sync.Mutex
	sources  []func() []Injected
	last     []Injected
	onChange func(Change)
	note     func([]Injected) // told the faults in effect at every check; nil = none
}

func newTracker(onChange func(Change), sources ...func() []Injected) *tracker {
	t := &tracker{sources: sources, onChange: onChange}
	t.last = t.injected()
	return t
}

// injected lists every fault in effect now, source by source.
func (t *tracker) injected() []Injected {
	var all []Injected
	for _, s := range t.sources {
		all = append(all, s()...)
	}
	return all
}

// check reads the state and reports a transition. A fault takes effect while the request that
// makes it is served (the netns partition is verified before the answer, which takes a while):
// "on" is dated from started, so no request after it counts as unaffected; "off" from now, once
// it is gone.
func (t *tracker) check(started time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.injected()
	was := len(t.last) > 0
	switch {
	case len(now) > 0 && !was:
		t.emit(Change{Time: started, Active: true, Kind: kindsOf(now), Detail: detailsOf(now)})
	case len(now) == 0 && was:
		t.emit(Change{Time: time.Now(), Active: false, Kind: kindsOf(t.last), Detail: "removed: " + detailsOf(t.last)})
	}
	t.last = now
	if t.note != nil {
		t.note(now)
	}
}

// stop ends the reports: nothing is reported after it.
func (t *tracker) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.onChange = nil
}

func (t *tracker) emit(c Change) {
	if t.onChange != nil {
		t.onChange(c)
	}
}

// active says whether a fault is in effect and which.
func (t *tracker) active() (bool, string) {
	now := t.injected()
	return len(now) > 0, detailsOf(now)
}
