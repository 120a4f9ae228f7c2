package resilience

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// timeoutEstimator is the adaptive attempt timeout: from the latencies of the last calls that
// succeeded, timeout = clamp(p99.9 × factor, floor, ceiling), and ceiling until warm-up calls
// have succeeded. AWS's rule sets a timeout at the downstream's p99.9; the factor is the margin.
// It is safe for concurrent use.
type timeoutEstimator struct {
	floor, ceiling time.Duration
	factor         float64
	warmup         int

	mu     sync.Mutex
	ring   []time.Duration // the last len(ring) samples; the oldest is at next once full
	n      int             // samples held
	next   int
	sorted []time.Duration // the same samples, in order

	timeout atomic.Int64 // the current timeout, read on every attempt without the lock
	p999    atomic.Int64 // the current p99.9 of the window (0 before the first sample)
}

func newTimeoutEstimator(a Adaptive, ceiling time.Duration) *timeoutEstimator {
	e := &timeoutEstimator{floor: a.TimeoutFloor, ceiling: ceiling, factor: a.TimeoutFactor,
		warmup: max(1, a.TimeoutWindow/10), ring: make([]time.Duration, a.TimeoutWindow),
		sorted: make([]time.Duration, 0, a.TimeoutWindow)}
	e.timeout.Store(int64(ceiling))
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
	if e.n >= e.warmup {
		t = min(max(time.Duration(float64(q)*e.factor), e.floor), e.ceiling)
	}
	e.timeout.Store(int64(t))
}

// current is the attempt timeout in force.
func (e *timeoutEstimator) current() time.Duration { return time.Duration(e.timeout.Load()) }

// state is what the snapshot shows: the samples held, their p99.9 and the timeout.
func (e *timeoutEstimator) state() (samples int, p999, timeout time.Duration) {
	e.mu.Lock()
	samples = e.n
	e.mu.Unlock()
	return samples, time.Duration(e.p999.Load()), e.current()
}
