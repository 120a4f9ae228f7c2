// Package resilience is the client-service's policy pipeline around one backend call:
// fallback(retry(circuit breaker(per-attempt timeout(call)))), bounded by the request deadline.
//
// It is the only package that imports failsafe-go. Every policy listener emits one Event; the
// log lines of DESIGN.md §2, the Resilience4j-named Prometheus metrics and the Snapshot served on
// /api/resilience are all made from those events, so they can never disagree.
package resilience
