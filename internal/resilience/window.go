package resilience

import "sync"

// window is the breaker's count-based sliding window with Resilience4j's rule: once at least
// minCalls of the last size calls are recorded, a failure rate at or over threshold percent
// opens the breaker. failsafe-go's count-based breaker cannot express a minimum number of calls
// below the window size, so the judging is done here and failsafe-go keeps the states, the
// wait, the permits and the HALF_OPEN trials. It is safe for concurrent use.
type window struct {
	mu        sync.Mutex
	failed    []bool // ring of outcomes
	next, n   int
	failures  int
	minCalls  int
	threshold float64
}

func newWindow(size, minCalls int, threshold float64) *window {
	return &window{failed: make([]bool, size), minCalls: minCalls, threshold: threshold}
}

// record adds one outcome and reports whether the breaker must open.
func (w *window) record(failed bool) (open bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n == len(w.failed) {
		if w.failed[w.next] {
			w.failures--
		}
	} else {
		w.n++
	}
	w.failed[w.next] = failed
	if failed {
		w.failures++
	}
	w.next = (w.next + 1) % len(w.failed)
	return w.n >= w.minCalls && 100*float64(w.failures) >= w.threshold*float64(w.n)
}

// reset forgets every outcome (on every state change, as Resilience4j does).
func (w *window) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	clear(w.failed)
	w.next, w.n, w.failures = 0, 0, 0
}

// counts returns the buffered and failed calls and the failure rate in percent, -1 while fewer
// than minCalls are buffered (Resilience4j's convention).
func (w *window) counts() (buffered, failed int, rate float64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rate = -1
	if w.n >= w.minCalls && w.n > 0 {
		rate = 100 * float64(w.failures) / float64(w.n)
	}
	return w.n, w.failures, rate
}
