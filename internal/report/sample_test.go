package report

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"time"

	"chaoslab/internal/experiment"
	"chaoslab/internal/results"
)

// simulated builds a realistic run: 20 requests/s for 70 s, a partition from +15 s to +45 s.
// With resilient set, the client retries, its breaker opens at +16 s, tries at +26 s and +37 s,
// and closes after the heal; without it every request during the fault hangs until 15 s.
func simulated(resilient bool, seed uint64) folder {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := &sim{rng: rng, resilient: resilient}
	for i := range 70 * 20 {
		s.request(float64(i) / 20)
	}
	s.events = append(s.events, faultEv(15, "on"), faultEv(45, "off"))
	if resilient {
		s.events = append(s.events,
			breakerEv(16, "CLOSED", "OPEN"), breakerEv(26.05, "OPEN", "HALF_OPEN"), breakerEv(27.05, "HALF_OPEN", "OPEN"),
			breakerEv(37.05, "OPEN", "HALF_OPEN"), breakerEv(38.05, "HALF_OPEN", "OPEN"),
			breakerEv(48.05, "OPEN", "HALF_OPEN"), breakerEv(48.2, "HALF_OPEN", "CLOSED"))
	}
	mode := results.ResilienceOff
	label := results.LabelBaseline
	if resilient {
		mode, label = results.ResilienceOn, results.LabelResilient
	}
	run := &results.RunInfo{Label: label, Title: "Client-service survives a network partition from backend-service",
		Experiment: "built-in", Stack: "local", Resilience: mode, RPS: 20, Seed: int64(seed), Recovery: results.Duration(20 * time.Second),
		LoadTimeout: results.Duration(15 * time.Second), Start: t0, End: at(70), Status: "completed", Retry: defaultRetry(),
		CBWait: results.Duration(10 * time.Second), HalfOpen: 3}
	if !resilient {
		run.Deviated = true
	}
	for i := range s.recs {
		s.recs[i].ID = uint64(i + 1)
	}
	return folder{run: run, recs: s.recs, events: s.events, journal: sampleJournal(resilient),
		before: sampleSnapshot("before", 0, 0), after: sampleSnapshot("after", float64(len(s.recs)), s.fallbacks)}
}

type sim struct {
	rng       *rand.Rand
	resilient bool
	recs      []results.Record
	events    []results.Event
	fallbacks float64
}

// healthy returns a backend latency around 3 ms.
func (s *sim) healthy() time.Duration {
	return ms(math.Exp(1.1 + 0.35*s.rng.NormFloat64()))
}

func (s *sim) request(start float64) {
	const b, f, e = results.SourceBackend, results.SourceFallback, results.SourceError
	switch {
	case start < 15 || start >= 48.2 || (!s.resilient && start >= 45):
		s.add(rec(start, s.healthy(), b, 1))
	case !s.resilient: // one call, cut by the request's deadline
		r := rec(start, 15*time.Second, e, 1)
		r.Status, r.Error = 502, "backend: context deadline exceeded"
		s.add(r)
	default:
		s.resilientFault(start, f)
	}
}

// resilientFault is a request during the fault (or before the breaker closes again).
func (s *sim) resilientFault(start float64, f string) {
	switch {
	case start < 15.2: // first failures: a retry, then the breaker is OPEN
		wait := 500 + s.rng.Float64()*1000
		s.events = append(s.events, retryEv(start+1, 1, wait))
		s.fallback(rec(start, time.Second+ms(wait)+ms(1), f, 2))
	case start < 16: // fails after the 1 s attempt timeout; the breaker opens on it
		s.fallback(rec(start, time.Second+ms(1+s.rng.Float64()), f, 1))
	case inTrial(start): // a HALF_OPEN trial call
		s.fallback(rec(start, time.Second, f, 1))
	case start >= 45 && start >= 48.05: // HALF_OPEN after the heal: trial calls succeed
		s.add(rec(start, s.healthy()+ms(2), results.SourceBackend, 1))
	default:
		s.fallback(rec(start, ms(0.4+s.rng.ExpFloat64()*0.6), f, 0))
	}
}

func inTrial(start float64) bool {
	for _, t := range []float64{26.05, 37.05} {
		if start >= t && start < t+0.15 {
			return true
		}
	}
	return false
}

func (s *sim) add(r results.Record) { s.recs = append(s.recs, r) }

func (s *sim) fallback(r results.Record) {
	r.Error = "circuit breaker open"
	if r.Latency >= time.Second {
		r.Error = "Get \"http://127.0.0.1:18081/api/data\": context deadline exceeded"
	}
	s.fallbacks++
	s.add(r)
}

func sampleSnapshot(moment string, requests, fallbacks float64) *results.Snapshot {
	res, _ := json.Marshal(map[string]any{"name": "backendCB", "state": "CLOSED", "failureRate": 0,
		"retry": map[string]any{"successfulWithoutRetry": requests - fallbacks, "failedWithRetry": fallbacks}})
	svc := func(pid int, m map[string]float64, r json.RawMessage) results.ServiceSnapshot {
		return results.ServiceSnapshot{Running: true, PID: pid, Healthz: 200, Readyz: 200, Metrics: m, Resilience: r}
	}
	return &results.Snapshot{Time: t0, Moment: moment, Services: map[string]results.ServiceSnapshot{
		results.ClientService: svc(4242, map[string]float64{
			"client_fallback_responses_total":                                    fallbacks,
			`resilience4j_circuitbreaker_state{name="backendCB",state="closed"}`: 1,
			`http_server_requests_total{path="/api/data"}`:                       requests,
		}, res),
		results.BackendService: svc(4241, map[string]float64{`http_server_requests_total{path="/api/data"}`: requests - fallbacks}, nil),
	}}
}

// sampleJournal is the journal of the partition experiment: the resilient run holds its steady
// state, the baseline deviates.
func sampleJournal(resilient bool) *experiment.Journal {
	doc, _ := json.Marshal(map[string]any{"title": "Client-service survives a network partition from backend-service",
		"steady-state-hypothesis": map[string]any{"title": "The client answers 200 within 2 s and the backend is healthy"}})
	probe := func(met bool) *experiment.Entry {
		return &experiment.Entry{Activity: experiment.NewObject("type", "probe", "name", "client-answers-200-within-2s"),
			Status: "succeeded", ToleranceMet: &met, Output: experiment.NewObject("status", int64(200)),
			Start: experiment.Timestamp(at(1)), Duration: 0.004}
	}
	act := func(name string, out any) *experiment.Entry {
		return &experiment.Entry{Activity: experiment.NewObject("type", "action", "name", name), Status: "succeeded",
			Output: out, Start: experiment.Timestamp(at(15)), Duration: 0.012}
	}
	met, after := true, resilient
	return &experiment.Journal{Experiment: doc, Status: experiment.StatusCompleted, Deviated: !resilient,
		Start: experiment.Timestamp(at(0.5)), End: experiment.Timestamp(at(50)),
		SteadyStates: experiment.SteadyStates{
			Before: &experiment.Hypothesis{SteadyStateMet: &met, Probes: []*experiment.Entry{probe(true)}},
			After:  &experiment.Hypothesis{SteadyStateMet: &after, Probes: []*experiment.Entry{probe(resilient)}},
			During: []any{},
		},
		Run: []*experiment.Entry{
			act("partition-client-from-backend-downstream", experiment.NewObject("status", int64(200))),
			act("partition-is-in-effect", experiment.NewObject("status", int64(200), "body",
				experiment.NewObject("reachable", false, "error", "timeout", "elapsedMs", int64(1000)))),
		},
		Rollbacks: []*experiment.Entry{act("heal-partition-downstream", experiment.NewObject("status", int64(204)))},
	}
}
