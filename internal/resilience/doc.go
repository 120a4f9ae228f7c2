// Package resilience is the client-service's policy pipeline around one backend call:
// fallback(retry(circuit breaker(per-attempt timeout(call)))), bounded by the request deadline.
// RESILIENCE=retry (Config.RetryOnly) keeps only retry(per-attempt timeout(call)).
//
// It is the only package that imports failsafe-go, which runs the retry and the fallback. The
// circuit breaker is this package's own (breaker.go): failsafe-go's cannot give a permit back
// without recording a result, counts every unhandled result as a success, and leaves OPEN only
// when a call comes. A call cut by its own caller is neither success nor failure (ignored); the
// breaker wakes the requests asleep for a retry when it opens, and moves to HALF_OPEN on a timer.
//
// Every policy listener and every backend call emits one Event; the log records of DESIGN.md §2
// (with the structured attributes of results/logline.go), the Resilience4j-named Prometheus
// metrics and the Snapshot served on /api/resilience are all made from those events, so they can
// never disagree.
package resilience
