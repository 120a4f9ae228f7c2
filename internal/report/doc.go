// Package report turns one run into numbers, one verdict and pages: the phase metrics, the
// circuit breaker timeline, detection and recovery times, retry amplification, the observed
// retry waits against the configured schedule, the before/after observations, and Judge's
// verdict. It writes report.md (the sections of chaos/ANALYSIS_TEMPLATE.md, filled in) and
// report.html (one self-contained XHTML page with an SVG timeline and the same tables), for one
// run folder or for a compare folder holding two or more of baseline/, resilient/ and adaptive/
// (one column per profile, see Profiles); and the index of a suite's
// runs (WriteIndex: index.md and index.html, one row per experiment).
//
// The lab analyzes from memory: Analyze(run, journal), then RenderAnalysis and WriteSummary, and
// its exit status is Analysis.Verdict. `chaoslab report DIR` reads the same from the folder with
// Load (results.ReadRun and experiment.ReadJournal) and renders with Render.
//
// Definitions (the report repeats them):
//
//   - Phases: before = [first request, first fault "on" event); during = [fault on, last fault
//     "off"); after = [fault off, last request end]. A request belongs to the phase of its Start
//     (its scheduled arrival). Without a fault event every request is "before". A fault never
//     removed extends "during" to the end.
//   - Fault windows (Faults): each fault "on" event and the first "off" after it; an "on" while a
//     window is open belongs to it. The event's Name is the kind of fault ("latency",
//     "http-errors", several joined by "+"), its Message the fault and its parameters. FaultOn is
//     the first window's start, FaultOff the last window's end (nil when it was never removed).
//     With several windows (a flapping fault) each cycle (Cycles) is a window and the time to
//     the next one; its breaker transitions are counted in it.
//   - Backend calls (Calls): the client's "attempt" events, in the phase of the call's start
//     (the event's time minus its duration); the cause of a failure is read from its error
//     text: an HTTP status ("backend answered 503"), refused, reset (or EOF), a timeout (in the
//     body when it names "reading the backend answer"). Absorbed: the requests with a failed
//     call that the backend answered in the end. Restarts: a "process" event "kill" of a
//     service and its next "start" (duration_ms: from the kill to the new process listening).
//   - Requests are the requests the open-loop load offered; percentages are of them. A dropped
//     request (Source dropped: never sent, the load's in-flight cap was reached) is counted
//     apart and is not answered; it has no latency and made no backend call.
//   - Latency counts from the scheduled arrival, so it includes the load's send lag (SendLag, how
//     late the load sent the request); the report shows the largest per phase and a note when it
//     exceeds 10 ms.
//   - Percentiles: nearest rank on the sorted latencies of the requests sent,
//     p = sorted[ceil(p/100*n)-1]. No request sent: no percentiles ("n/a").
//   - Breaker timeline: CLOSED at the run start, then each "breaker" event. The client makes
//     OPEN -> HALF_OPEN with a timer when CB_WAIT_DURATION ends, with or without traffic.
//   - Detection: fault on -> the first fallback answer (the earliest completion, Start+Latency,
//     of the records with Source fallback whose Start >= fault on) and -> the first transition to
//     OPEN at or after fault on. Recovery times: fault off -> the first backend answer (the
//     earliest completion of the records with Source backend whose Start >= fault off) and -> the
//     first transition to CLOSED at or after fault off.
//   - While OPEN: the requests sent (Start + SendLag) in an OPEN interval of the timeline, which
//     ends at the logged move to HALF_OPEN or when the breaker's wait ran out, whichever is first.
//   - Amplification: sum(Attempts) / requests, per phase, over the requests sent whose Attempts
//     is known (the backend calls the client logged for the request; 0, a known zero, when the
//     breaker rejected it). Requests with results.UnknownAttempts are left out and counted:
//     "1.02 (3 unknown)"; nothing known is "n/a".
//   - Retry waits: "retry" events (Attempt n, WaitMS) against w_n = min(initial*multiplier^(n-1),
//     max), allowed [w_n*(1-jitter), w_n*(1+jitter)] with a 1 ms tolerance.
//   - Recovered: after the heal the backend answers (a backend answer to a request whose Start is
//     at or after the fault's removal; without a fault event, one among the last 5 requests sent;
//     a fault never removed never healed) and, with a breaker, the breaker is CLOSED at the end
//     (FinalBreaker; a breaker that closed before the heal and stayed CLOSED has recovered).
//   - Layers (a run with a topology, results.Topology): the topology's nodes by their hops to
//     the backend, the entry tiers first. A layer's calls for a user request are exact: 1 at
//     the entry the load sent it to (Record.Tier), plus the attempt records carrying its id
//     written by the tiers that call the layer; per phase, calls / user requests sent. With a
//     topology every other figure reads the entry tiers' records only (the breaker timeline the
//     first entry's); without one nothing of this appears.
//   - Goodput (Goodput, for every run; shown only when ShowsGoodput: the backend ran with its
//     capacity model, or an objective bounds a goodput figure): per second, the load's requests
//     the backend answered 200 (not a fallback) within the load's timeout, latency from the
//     scheduled arrival; a request counts in the second of its scheduled arrival. Whole seconds
//     on a grid that starts at the last fault "off" (the load's first arrival without one),
//     kept where the load offered requests throughout. Before: the mean over the whole seconds
//     that end by fault on. Stuck: below 50 % of before in each of the first 30 s after fault
//     off; back to 95 %: fault off -> the start of the first 5 s in a row each at least 95 % of
//     before (GoodputParams; GoodputOf takes others). Not measured, never guessed, when the
//     run has fewer seconds after fault off than the window, or no level before.
//   - Capacity (capacity.csv): the backend's GET /api/capacity sampled about once a second;
//     levels at each sample, the counters' increase per second between samples (a counter that
//     went down is a restart: the new process's count). One breaker band per tier (TierBreaker).
//   - Verdict (Judge): passed when the lab saw no problem, the run was not interrupted, the
//     experiment ran and completed, the steady state was met before the fault
//     (experiment.Journal.SteadyStateMetBefore) and did not deviate after it, and the system
//     recovered. Otherwise failed, with every reason that applies.
//
// Nothing here keeps package-level mutable state; templates are parsed per call.
package report
