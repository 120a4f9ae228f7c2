package resilience

import (
	"context"
	"sync"
	"time"

	"chaoslab/internal/results"
)

// breaker is the circuit breaker, with Resilience4j's three states:
//
//   - CLOSED: every call is permitted; the window judges their outcomes and opens the breaker.
//   - OPEN: no call is permitted. Every request asleep until a retry is woken at the opening
//     (sleep), and a timer moves the breaker to HALF_OPEN when the wait is over, with or without
//     traffic.
//   - HALF_OPEN: trials permits are handed out; all trials succeed -> CLOSED, one fails -> OPEN.
//
// A call's outcome is results.OutcomeSuccess, OutcomeFailure or OutcomeIgnored. An ignored call
// (its caller went away) is not recorded, and the HALF_OPEN permit it held is given back. A
// permit belongs to the state it was given in: its outcome is dropped once the breaker has moved.
//
// onChange is called once per transition, outside the breaker's lock and in the order of the
// transitions (a ticket per generation); it may read the breaker but must not record outcomes.
// A breaker is safe for concurrent use. A nil *breaker is none (RESILIENCE=retry): it permits
// every call, records nothing and never sleeps a request.
type breaker struct {
	wait     time.Duration
	trials   int
	onChange func(from, to State)
	onOpen   func(gen uint64) // called with b.mu held at every opening (the adaptive prober); nil = none

	notify   sync.Mutex // held while onChange runs
	turn     *sync.Cond // on notify: signals that reported moved on
	reported uint64     // the generation whose transition onChange was last called for

	mu       sync.Mutex
	state    State
	gen      uint64  // bumped on every transition; a permit of an older one records nothing
	window   *window // CLOSED: judges the calls
	opened   tally   // OPEN: the counts that opened the breaker
	waitEnd  time.Time
	inTrial  int // HALF_OPEN: permits out
	passed   int // HALF_OPEN: trials that succeeded
	sleepers map[*sleeper]struct{}
}

// permit is the breaker's leave for one call.
type permit struct {
	gen   uint64
	trial bool  // a HALF_OPEN trial
	state State // the state it was given or refused in ("" without a breaker)
}

// sleeper is a request asleep until its next retry. The breaker wakes it by cancelling its
// context with ErrBreakerOpen: failsafe-go's retry sleeps until that context is done.
type sleeper struct {
	wake  context.CancelCauseFunc
	woken bool // guarded by the breaker's mu
}

// transition is one change of state, for onChange.
type transition struct{ from, to State }

func newBreaker(cfg Config, onChange func(from, to State)) *breaker {
	b := &breaker{
		wait: cfg.WaitDuration, trials: cfg.HalfOpenCalls, onChange: onChange, state: StateClosed,
		window:   newWindow(cfg.SlidingWindow, cfg.MinimumCalls, cfg.FailureRateThreshold),
		sleepers: map[*sleeper]struct{}{},
	}
	b.turn = sync.NewCond(&b.notify)
	return b
}

// acquire asks leave for one call: refused when OPEN, or HALF_OPEN with every trial permit out.
func (b *breaker) acquire() (permit, bool) {
	if b == nil {
		return permit{}, true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.state == StateClosed:
		return permit{gen: b.gen, state: StateClosed}, true
	case b.state == StateHalfOpen && b.inTrial+b.passed < b.trials:
		b.inTrial++
		return permit{gen: b.gen, trial: true, state: StateHalfOpen}, true
	}
	return permit{state: b.state}, false
}

// record gives the outcome of a permitted call; the breaker moves when it decides so.
func (b *breaker) record(p permit, outcome string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	if p.gen != b.gen {
		b.mu.Unlock()
		return
	}
	var to State
	switch {
	case p.trial:
		b.inTrial--
		if outcome == results.OutcomeSuccess {
			b.passed++
		}
		to = b.judgeTrials(outcome == results.OutcomeFailure)
	case outcome != results.OutcomeIgnored && b.window.record(outcome == results.OutcomeFailure):
		to = StateOpen
	}
	b.move(to)
}

// trip opens the breaker if it is still in the CLOSED state p was given in, whatever the
// window says (the adaptive profile's silent call while cold), and reports whether it did.
func (b *breaker) trip(p permit) bool {
	if b == nil || p.trial {
		return false
	}
	b.mu.Lock()
	if p.gen != b.gen || b.state != StateClosed {
		b.mu.Unlock()
		return false
	}
	b.move(StateOpen)
	return true
}

// judgeTrials is the state the HALF_OPEN trials call for ("" = stay); b.mu is held.
func (b *breaker) judgeTrials(failed bool) State {
	switch {
	case failed:
		n := b.passed + 1
		b.opened = tally{buffered: n, failed: 1, rate: rate(n, 1, b.trials)}
		return StateOpen
	case b.passed == b.trials:
		return StateClosed
	}
	return ""
}

// move changes the state to to (none when to is ""), lets go of b.mu, and reports the change.
func (b *breaker) move(to State) {
	if to == "" {
		b.mu.Unlock()
		return
	}
	t := transition{from: b.state, to: to}
	if to == StateOpen && b.state == StateClosed {
		b.opened = b.window.counts()
	}
	b.state, b.gen, b.inTrial, b.passed = to, b.gen+1, 0, 0
	switch to {
	case StateClosed:
		b.window.reset()
	case StateOpen:
		b.waitEnd = time.Now().Add(b.wait)
		opened := b.gen
		time.AfterFunc(b.wait, func() { b.halfOpen(opened) })
		b.wakeSleepers()
		if b.onOpen != nil {
			b.onOpen(opened)
		}
	}
	gen := b.gen
	b.mu.Unlock()
	b.report(t, gen)
}

// report calls onChange for t, the transition into generation gen, once every earlier
// transition has been reported.
func (b *breaker) report(t transition, gen uint64) {
	b.notify.Lock()
	defer b.notify.Unlock()
	for b.reported != gen-1 {
		b.turn.Wait()
	}
	b.onChange(t.from, t.to)
	b.reported = gen
	b.turn.Broadcast()
}

// halfOpen ends the wait of the OPEN state of generation gen.
func (b *breaker) halfOpen(gen uint64) {
	b.mu.Lock()
	if b.gen != gen {
		b.mu.Unlock()
		return
	}
	b.move(StateHalfOpen)
}

// probed ends the OPEN state of generation gen before its wait is over: a probe found the
// backend ready. It reports whether the breaker moved to HALF_OPEN.
func (b *breaker) probed(gen uint64) bool {
	b.mu.Lock()
	if b.gen != gen || b.state != StateOpen {
		b.mu.Unlock()
		return false
	}
	b.move(StateHalfOpen)
	return true
}

// openIn reports whether the breaker is still in the OPEN state of generation gen.
func (b *breaker) openIn(gen uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gen == gen && b.state == StateOpen
}

// wakeSleepers ends every retry wait; b.mu is held, so no request is woken once its next
// attempt has begun (rise), and an attempt in flight is never cut.
func (b *breaker) wakeSleepers() {
	for s := range b.sleepers {
		s.woken = true
		s.wake(ErrBreakerOpen)
	}
	clear(b.sleepers)
}

// sleep registers s while its request waits for a retry; an OPEN breaker wakes it at once.
func (b *breaker) sleep(s *sleeper) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == StateOpen {
		s.woken = true
		s.wake(ErrBreakerOpen)
		return
	}
	b.sleepers[s] = struct{}{}
}

// rise unregisters s, whose request stops waiting, and reports whether the breaker woke it.
func (b *breaker) rise(s *sleeper) (woken bool) {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.sleepers, s)
	return s.woken
}

// State returns the current state.
func (b *breaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// fill writes the state and the counts that judge it into s, read at one instant: the window
// when CLOSED, what opened the breaker when OPEN, the trials when HALF_OPEN.
func (b *breaker) fill(s *BreakerSnapshot) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s.State = b.state
	t := b.window.counts()
	switch b.state {
	case StateOpen:
		t = b.opened
		s.RemainingWaitMs = max(0, time.Until(b.waitEnd).Milliseconds())
	case StateHalfOpen:
		t = tally{buffered: b.passed, rate: rate(b.passed, 0, b.trials)}
	}
	s.BufferedCalls, s.FailedCalls, s.FailureRate = t.buffered, t.failed, t.rate
}
