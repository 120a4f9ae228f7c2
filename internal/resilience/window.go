package resilience

// window is the breaker's count-based sliding window with Resilience4j's rule: once at least
// minCalls of the last size calls are recorded, a failure rate at or over threshold percent
// opens the breaker. It judges the CLOSED state only. It is not safe for concurrent use: the
// breaker's lock guards it.
type window struct {
	failed    []bool // ring of outcomes
	next, n   int
	failures  int
	minCalls  int
	threshold float64
}

// tally is what a snapshot shows of the calls that judge a state.
type tally struct {
	buffered, failed int
	rate             float64 // percent; -1 below the minimum number of calls
}

func newWindow(size, minCalls int, threshold float64) *window {
	return &window{failed: make([]bool, size), minCalls: minCalls, threshold: threshold}
}

// record adds one outcome and reports whether the breaker must open.
func (w *window) record(failed bool) (open bool) {
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

// reset forgets every outcome.
func (w *window) reset() {
	clear(w.failed)
	w.next, w.n, w.failures = 0, 0, 0
}

// counts returns the buffered and failed calls and the failure rate.
func (w *window) counts() tally {
	return tally{buffered: w.n, failed: w.failures, rate: rate(w.n, w.failures, w.minCalls)}
}

// rate is the failure rate in percent of n calls, -1 while fewer than minCalls are buffered
// (Resilience4j's convention).
func rate(n, failed, minCalls int) float64 {
	if n < minCalls || n == 0 {
		return -1
	}
	return 100 * float64(failed) / float64(n)
}
