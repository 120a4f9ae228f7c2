package resilience

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// timeoutEstimator is the adaptive attempt timeout: from the latencies of the last calls that
// succeeded, timeout = clamp(p99.9 × factor, floor, ceiling) once warm-up calls have succeeded.
// AWS's rule sets a timeout at the downstream's p99.9; the factor is the margin. Before that
// (cold) it is the ceiling, or with Adaptive.ColdStart the cold estimate of coldTimeout.
// It is safe for concurrent use.
type timeoutEstimator struct {
	floor, ceiling time.Duration
	factor         float64
	warmup         int
	coldStart      bool    // Adaptive.ColdStart
	margin         float64 // Adaptive.ColdMargin

	mu     sync.Mutex
	ring   []time.Duration // the last len(ring) samples; the oldest is at next once full
	n      int             // samples held
	next   int
	sorted []time.Duration // the same samples, in order

	timeout atomic.Int64              // the current timeout, read on every attempt without the lock
	p999    atomic.Int64              // the current p99.9 of the window (0 before the first sample)
	seen    atomic.Uint64             // samples ever observed: a call that sees it unchanged saw no success
	cold    atomic.Pointer[coldLimit] // with coldStart, while cold: the timeout in force; nil once warm
	warm    atomic.Bool               // the warm-up's calls have succeeded (for good: the window only grows)
}

// coldLimit is the attempt timeout while cold (with Adaptive.ColdStart), with the number of
// samples it comes from and the error of an attempt it cuts, read together.
type coldLimit struct {
	timeout time.Duration
	samples int
	err     error // nil while samples is 0: the attempt timeout is then ATTEMPT_TIMEOUT's own
}

func newTimeoutEstimator(a Adaptive, ceiling time.Duration) *timeoutEstimator {
	e := &timeoutEstimator{floor: a.TimeoutFloor, ceiling: ceiling, factor: a.TimeoutFactor,
		warmup: max(1, a.TimeoutWindow/10), ring: make([]time.Duration, a.TimeoutWindow),
		sorted: make([]time.Duration, 0, a.TimeoutWindow), coldStart: a.ColdStart, margin: a.ColdMargin}
	e.timeout.Store(int64(ceiling))
	if e.coldStart {
		e.cold.Store(&coldLimit{timeout: ceiling})
	}
	return e
}

// observe adds the latency of a call that succeeded, and moves the timeout.
func (e *timeoutEstimator) observe(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == len(e.ring) {
		old := e.ring[e.next]
		i, _ := slices.BinarySearch(e.sorted, old)
		e.sorted = slices.Delete(e.sorted, i, i+1)
	} else {
		e.n++
	}
	e.ring[e.next] = d
	e.next = (e.next + 1) % len(e.ring)
	i, _ := slices.BinarySearch(e.sorted, d)
	e.sorted = slices.Insert(e.sorted, i, d)

	q := e.sorted[int(math.Ceil(0.999*float64(e.n)))-1]
	e.p999.Store(int64(q))
	t := e.ceiling
	switch {
	case e.n >= e.warmup:
		t = e.clamp(float64(q) * e.factor)
		e.warm.Store(true)
		if e.cold.Load() != nil {
			e.cold.Store(nil) // warm for good: the window only grows
		}
	case e.coldStart:
		t = e.coldTimeout(q)
		e.cold.Store(&coldLimit{timeout: t, samples: e.n, err: fmt.Errorf(
			"%w after %s (adaptive timeout while cold: the slowest of the %d good calls so far × %g × (1 + %g/%d), between %s and ATTEMPT_TIMEOUT)",
			ErrAttemptTimeout, t, e.n, e.factor, e.margin, e.n, e.floor)})
	}
	e.timeout.Store(int64(t))
	e.seen.Add(1)
}

// coldTimeout is the cold estimate from the e.n samples held, whose slowest is q (below a
// thousand samples the p99.9 is the slowest): clamp(q × factor × (1 + margin/n), floor,
// ceiling). It is never shorter than the warm rule's clamp(q × factor, ...) on the same
// samples, and its extra margin shrinks as the samples grow: ×(1+margin) after one call,
// ×(1+margin/10) after ten. e.mu is held.
func (e *timeoutEstimator) coldTimeout(q time.Duration) time.Duration {
	return e.clamp(float64(q) * e.factor * (1 + e.margin/float64(e.n)))
}

// clamp bounds a timeout of ns nanoseconds to [floor, ceiling].
func (e *timeoutEstimator) clamp(ns float64) time.Duration {
	return min(max(time.Duration(min(ns, float64(e.ceiling))), e.floor), e.ceiling)
}

// current is the attempt timeout in force.
func (e *timeoutEstimator) current() time.Duration { return time.Duration(e.timeout.Load()) }

// coldLimit is the cold attempt timeout in force, nil when warm or without Adaptive.ColdStart.
func (e *timeoutEstimator) coldLimit() *coldLimit { return e.cold.Load() }

// successes is the number of samples ever observed: every success counted so far.
func (e *timeoutEstimator) successes() uint64 { return e.seen.Load() }

// state is what the snapshot shows: the samples held, their p99.9 and the timeout.
func (e *timeoutEstimator) state() (samples int, p999, timeout time.Duration) {
	e.mu.Lock()
	samples = e.n
	e.mu.Unlock()
	return samples, time.Duration(e.p999.Load()), e.current()
}

// isCold reports whether fewer calls than the warm-up have succeeded.
func (e *timeoutEstimator) isCold() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n < e.warmup
}
