package resilience

import (
	"errors"
	"sync"
	"time"

	"chaoslab/internal/results"
)

// silentCalls is how many calls in a row must go unanswered before the silence rule opens the
// breaker: a few consecutive failures, as Envoy's outlier detection counts them, so that one
// slow call never opens it.
const silentCalls = 3

// silence is the adaptive profile's rule for a backend gone silent (a partition, a hung
// process): it opens the breaker once silentCalls CLOSED-state calls in a row have begun with
// no answer since the first of them began, and that first one has waited half its attempt
// timeout. An answer is any end of a call other than a timeout: a success, an error status, a
// refused or reset connection, a body cut while it was read. The calls themselves are never cut
// by the rule: they keep their own attempt timeout, so the rule adds no timeout of its own; it
// only stops new calls from going into the silence (they get the fallback at once), and the
// first probe goes at the opening, so a wrong opening lasts one /readyz round trip and the
// HALF_OPEN trials.
//
// Why half the attempt timeout is safe: the timeout is at least 3 × the p99.9 of recent calls
// (and the 50 ms floor), so each of the calls has already waited longer than 1.5 × the p99.9
// when the rule judges, and no call, not even one begun earlier, has answered meanwhile. Under
// a healthy backend whose latencies jitter independently that takes several calls in a row
// beyond their p99.9; what it does take is a backend (or a machine) that stops answering for
// that long, which the clients of a partitioned backend cannot tell from a partition.
//
// It is safe for concurrent use.
type silence struct {
	mu      sync.Mutex
	trip    func(gen uint64) // opens the breaker if still in the CLOSED state of generation gen (bind)
	calls   int              // calls begun since the last answer: the streak
	start   time.Time        // when the streak's first call began
	limit   time.Duration    // half the attempt timeout of the streak's first call
	gen     uint64           // the breaker's CLOSED generation the streak began in
	timer   *time.Timer      // judges the streak at start+limit
	stopped bool
}

func newSilence() *silence {
	s := &silence{}
	s.timer = time.AfterFunc(time.Hour, s.judgeLater)
	s.timer.Stop()
	return s
}

// bind gives the rule its way to open the breaker; begin notes nothing before.
func (s *silence) bind(trip func(gen uint64)) {
	s.mu.Lock()
	s.trip = trip
	s.mu.Unlock()
}

// begin notes a CLOSED-state call of the breaker's generation gen, beginning now under the
// attempt timeout limit, and opens the breaker if the streak it joins is already silent long
// enough (at low rates the timer finds too few calls; the one that makes silentCalls judges).
func (s *silence) begin(gen uint64, limit time.Duration) {
	now := time.Now()
	s.mu.Lock()
	if s.stopped || s.trip == nil {
		s.mu.Unlock()
		return
	}
	if s.calls == 0 || s.gen != gen {
		s.calls, s.start, s.limit, s.gen = 0, now, limit/2, gen
		s.timer.Reset(s.limit)
	}
	s.calls++
	open, trip := s.due(now), s.trip
	s.mu.Unlock()
	if open {
		trip(gen)
	}
}

// end notes the end of a call: any answer ends the streak; a silent call (cut by a timeout
// with no answer at all) or one its caller cut short (ignored) does not.
func (s *silence) end(outcome string, err error) {
	if outcome == results.OutcomeIgnored || (outcome == results.OutcomeFailure && silent(err)) {
		return
	}
	s.mu.Lock()
	s.calls = 0
	s.mu.Unlock()
}

// silent reports whether err is that of a call that got no answer at all: cut by the attempt
// timeout or the request deadline before the answer's headers.
func silent(err error) bool {
	return (errors.Is(err, ErrAttemptTimeout) || errors.Is(err, ErrRequestTimeout)) && !errors.Is(err, ErrReadingBody)
}

// due reports whether the streak opens the breaker at now; s.mu is held. The streak ends with
// the judgement, whether the opening then happens or another one came first.
func (s *silence) due(now time.Time) bool {
	if s.calls < silentCalls || now.Sub(s.start) < s.limit {
		return false
	}
	s.calls = 0
	return true
}

// judgeLater is the timer's judgement of the streak, half an attempt timeout after it began.
func (s *silence) judgeLater() {
	s.mu.Lock()
	open, gen, trip := !s.stopped && s.trip != nil && s.due(time.Now()), s.gen, s.trip
	s.mu.Unlock()
	if open {
		trip(gen)
	}
}

// stop ends the timer; begin notes nothing after it.
func (s *silence) stop() {
	s.mu.Lock()
	s.stopped = true
	s.timer.Stop()
	s.mu.Unlock()
}

// closedGen is the generation of the breaker's CLOSED state, and false in any other state.
func (b *breaker) closedGen() (uint64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gen, b.state == StateClosed
}
