package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"chaoslab/internal/results"
)

// Breaker states as client-service names them.
const (
	StateClosed   = "CLOSED"
	StateOpen     = "OPEN"
	StateHalfOpen = "HALF_OPEN"
)

// Transition is one change of the breaker's state, at the time client-service's own log record
// of it carries.
type Transition struct {
	Time time.Time
	To   string
}

// Timeline keeps the breaker's transitions as client-service logs them (the stack turns its
// records into results events; Observe feeds them here) and lets a caller wait for one. It is
// safe for concurrent use.
type Timeline struct {
	mu      sync.Mutex
	initial string
	trans   []Transition
	changed chan struct{} // closed and replaced at every transition
}

// NewTimeline starts a timeline whose state before the first transition is initial.
func NewTimeline(initial string) *Timeline {
	return &Timeline{initial: initial, changed: make(chan struct{})}
}

// Observe is an results.EventLog observer: it keeps the breaker events and never blocks.
func (t *Timeline) Observe(e results.Event) {
	if e.Kind != results.KindBreaker || e.To == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.trans = append(t.trans, Transition{Time: e.Time, To: e.To})
	close(t.changed)
	t.changed = make(chan struct{})
}

// Len is the number of transitions seen so far: a mark for WaitFor.
func (t *Timeline) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.trans)
}

// WaitFor waits until a transition to state, the from-th or a later one, has been seen, and
// returns its time; an error when ctx ends first.
func (t *Timeline) WaitFor(ctx context.Context, from int, state string) (time.Time, error) {
	for {
		t.mu.Lock()
		for _, tr := range t.trans[min(from, len(t.trans)):] {
			if tr.To == state {
				t.mu.Unlock()
				return tr.Time, nil
			}
		}
		ch := t.changed
		t.mu.Unlock()
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("the breaker did not reach %s: %w", state, context.Cause(ctx))
		case <-ch:
		}
	}
}

// StateAt is the breaker's state at time at: the last transition at or before it (the
// transitions are kept in the order logged, which is time order), or the initial state.
func (t *Timeline) StateAt(at time.Time) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.initial
	for _, tr := range t.trans {
		if tr.Time.After(at) {
			break
		}
		s = tr.To
	}
	return s
}

// Transitions returns a copy of the transitions seen so far.
func (t *Timeline) Transitions() []Transition {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Transition(nil), t.trans...)
}

// TimeIn is how long the breaker was in state between from and to, and in how many periods
// (each entry into the state, or being in it at from, starts one).
func (t *Timeline) TimeIn(state string, from, to time.Time) (time.Duration, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var total time.Duration
	periods := 0
	cur, since := t.initial, from
	flush := func(until time.Time) {
		if cur == state && until.After(since) {
			total += until.Sub(since)
			periods++
		}
	}
	for _, tr := range t.trans {
		if !tr.Time.After(from) {
			cur = tr.To
			continue
		}
		if !tr.Time.Before(to) {
			break
		}
		flush(tr.Time)
		cur, since = tr.To, tr.Time
	}
	flush(to)
	return total, periods
}
