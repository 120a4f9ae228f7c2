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
// no answer from any call since the first of them began, the first has waited half its attempt
// timeout and the last a quarter. An answer is any end of a call other than a timeout: a
// success, an error status, a refused or reset connection, a body cut while it was read. The
// calls themselves are never cut by the rule: they keep their own attempt timeout, so the rule
// adds no timeout of its own; it only stops new calls from going into the silence (they get the
// fallback at once), and a wrong opening is undone (HALF_OPEN) by the first answer of a call
// still in flight or by the probe that goes at the opening, whichever comes first; the
// HALF_OPEN trials then close it.
//
// Why half the attempt timeout is safe: the timeout is at least 3 × the p99.9 of recent calls
// (and the 50 ms floor), so when the rule judges the first call has waited 1.5 × the p99.9 (and
// 25 ms), each of the others at least 0.75 × (and 12.5 ms), and no call, not even one begun
// earlier, has answered meanwhile. Under a healthy backend whose latencies jitter independently
// that takes several calls in a row beyond their p99.9; what it does take is a backend that
// stops answering for that long, which its clients cannot tell from a partition. A client that
// stood still itself is not taken for a silent backend: a judgement that comes late is made
// again (judgeLater).
//
// It is safe for concurrent use.
type silence struct {
	mu      sync.Mutex
	trip    func(gen uint64) // opens the breaker if still in the CLOSED state of generation gen (bind)
	calls   int              // calls begun since the last answer: the streak
	first   time.Time        // when the streak's first call began
	at      time.Time        // when the timer is due
	late    int              // judgements put off because the timer fired late
	limit   time.Duration    // half the attempt timeout of the streak's first call
	gen     uint64           // the breaker's CLOSED generation the streak began in
	timer   *time.Timer      // judges the streak at at
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
// attempt timeout limit. The silentCalls-th call of a streak arms the timer: the streak is
// judged once its first call has waited half that timeout and its silentCalls-th a quarter.
func (s *silence) begin(gen uint64, limit time.Duration) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.trip == nil {
		return
	}
	if s.calls == 0 || s.gen != gen {
		s.calls, s.first, s.limit, s.gen = 0, now, limit/2, gen
	}
	s.calls++
	if s.calls == silentCalls {
		s.arm(now, max(s.first.Add(s.limit).Sub(now), s.limit/2))
	}
}

// arm sets the timer to judge the streak d from now; s.mu is held.
func (s *silence) arm(now time.Time, d time.Duration) {
	s.at = now.Add(d)
	s.timer.Reset(d)
}

// end notes the end of a call and reports whether it was an answer: any answer ends the
// streak; a silent call (cut by a timeout with no answer at all) or one its caller cut short
// (ignored) does not.
func (s *silence) end(outcome string, err error) (answer bool) {
	if outcome == results.OutcomeIgnored || (outcome == results.OutcomeFailure && silent(err)) {
		return false
	}
	s.mu.Lock()
	s.calls = 0
	s.mu.Unlock()
	return true
}

// silent reports whether err is that of a call that got no answer at all: cut by the attempt
// timeout or the request deadline before the answer's headers.
func silent(err error) bool {
	return (errors.Is(err, ErrAttemptTimeout) || errors.Is(err, ErrRequestTimeout)) && !errors.Is(err, ErrReadingBody)
}

// judgeLater is the timer's judgement of the streak, once its first call has waited half an
// attempt timeout and its silentCalls-th a quarter. A timer that fires late (by more than a
// quarter of the half timeout) says the process itself stood still (CPU starvation, a garbage
// collector's pause): answers may be waiting unread in its sockets, so the streak is judged
// again that quarter later, once they have been read, rather than taken for silence.
func (s *silence) judgeLater() {
	now := time.Now()
	s.mu.Lock()
	if s.stopped || s.calls < silentCalls || now.Before(s.at) {
		s.mu.Unlock()
		return
	}
	if late := now.Sub(s.at); late > s.limit/4 {
		s.late++
		s.arm(now, s.limit/4)
		s.mu.Unlock()
		return
	}
	s.calls = 0
	gen, trip := s.gen, s.trip
	s.mu.Unlock()
	trip(gen)
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
