// Package report turns a results folder (see package results) into numbers and pages: the phase
// metrics, the circuit breaker timeline, detection and recovery times, retry amplification, the
// observed retry waits against the configured schedule, and the before/after observations. It
// writes report.md (the sections of chaos/ANALYSIS_TEMPLATE.md, filled in) and report.html (one
// self-contained XHTML page with an SVG timeline and the same tables), for one run folder or for
// a compare folder holding baseline/ and resilient/.
//
// Definitions (the report repeats them):
//
//   - Phases: before = [first request, first fault "on" event); during = [fault on, last fault
//     "off"); after = [fault off, last request end]. A request belongs to the phase of its Start.
//     Without a fault event every request is "before". A fault never removed extends "during" to
//     the end.
//   - Percentiles: nearest rank on the sorted latencies, p = sorted[ceil(p/100*n)-1]. An empty
//     phase has no percentiles ("n/a").
//   - Breaker timeline: CLOSED at the run start, then each "breaker" event. failsafe-go moves
//     OPEN -> HALF_OPEN lazily, on the first call after the wait, so that transition can lag the
//     configured wait by up to one request interval.
//   - Detection: fault on -> the first fallback answer (the earliest completion, Start+Latency,
//     of the records with Source fallback whose Start >= fault on) and -> the first transition to
//     OPEN at or after fault on. Recovery: fault off -> the first backend answer (the earliest
//     completion of the records with Source backend whose Start >= fault off) and -> the first
//     transition to CLOSED at or after fault off.
//   - While OPEN: the requests whose Start falls in an OPEN interval of the timeline.
//   - Amplification: sum(Attempts) / requests, per phase (Attempts is the number of backend calls
//     the client reported for the request; 0 when unknown, e.g. a request that timed out).
//   - Retry waits: "retry" events (Attempt n, WaitMS) against w_n = min(initial*multiplier^(n-1),
//     max), allowed [w_n*(1-jitter), w_n*(1+jitter)] with a 1 ms tolerance.
//
// Nothing here keeps package-level mutable state; templates are parsed per call.
package report
