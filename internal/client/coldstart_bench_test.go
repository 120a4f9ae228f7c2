package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"chaoslab/internal/load"
	"chaoslab/internal/report"
	"chaoslab/internal/resilience"
	"chaoslab/internal/results"
)

// BenchmarkColdStart measures RESILIENCE=adaptive from a cold start: each iteration starts a
// fresh client-service (no traffic before the load's first request) in front of backend-service
// behind the lab's Toxiproxy, and sends an open-loop load at a fixed rate (internal/load, as
// `chaoslab run` does). The figures are the lab's own (report.Analyze), from the load's records
// (the load's clock) and the client's log records:
//
//   - fault->fallback: from the partition's start (just before the toxic goes in) to the first
//     fallback answer received, to a request scheduled at or after it;
//   - fault->OPEN: from the partition's start to the client's CLOSED -> OPEN record;
//   - first-user: the latency of the first request scheduled at or after the partition's start,
//     counted from its scheduled arrival: the wait of the first user who meets the outage, once
//     the traffic has met it (at 10 requests/s the next request may come up to 100 ms after the
//     partition, and fault->fallback includes that wait);
//   - timeout-at-fault: the attempt timeout in force just before the partition (/api/resilience);
//   - heal->backend: from the heal (just before the toxic goes out) to the first backend answer
//     received, to a request scheduled at or after it. The partition lasts its length plus i/5
//     of PROBE_INTERVAL (100 ms) in iteration i, so five iterations spread the heal over the
//     phases of the probes' ticks (else it would fall at the same point of every tick);
//   - false-timeouts: healthy backend calls (begun before the partition or after the heal, or
//     all of them without one) cut by a timeout, in percent of those calls; false-opens counts
//     openings before any fault;
//   - healthy-fallbacks: requests answered by the fallback that were sent and answered before
//     the partition (all of them without one): what false openings cost, in requests.
//
// The partition starts 250 ms after the load (a cold client: 3 calls at 10/s, 50 at 200/s; warm
// needs 100), shifted by i/5 of a request interval in iteration i, so five iterations spread
// over the phases of the schedule. Run five iterations of each, the median and the spread are
// logged:
//
//	go test -run '^$' -bench ColdStart -benchtime 5x ./internal/client/
func BenchmarkColdStart(b *testing.B) {
	outage := func(rps float64, env ...string) scenario {
		return scenario{rps: rps, clientEnv: pairs(env), partitionAt: 250 * time.Millisecond, partitionFor: 2 * time.Second,
			length: 3250 * time.Millisecond}
	}
	slowFast := func(rps float64) scenario {
		return scenario{rps: rps, backendEnv: pairs([]string{"BACKEND_SERVICE_TIME", "uniform:90ms-110ms"}),
			fastAt: time.Second, length: 3 * time.Second}
	}
	healthy := func(rps float64, d time.Duration) scenario {
		return scenario{rps: rps, backendEnv: pairs([]string{"BACKEND_SERVICE_TIME", "exp:10ms"}), length: d}
	}
	for _, bc := range []struct {
		name string
		s    scenario
	}{
		{"outage/rps=10", outage(10)},
		{"outage/rps=200", outage(200)},
		{"outage-cold-start-off/rps=10", outage(10, "ADAPTIVE_COLD_START", "off")},
		{"outage-cold-start-off/rps=200", outage(200, "ADAPTIVE_COLD_START", "off")},
		{"healthy-exp10ms/rps=10", healthy(10, 10*time.Second)},
		{"healthy-exp10ms/rps=200", healthy(200, 3*time.Second)},
		{"cold-phase-exp10ms/rps=200", healthy(200, 600*time.Millisecond)}, // many starts: -benchtime 100x
		{"slow-then-fast/rps=10", slowFast(10)},
		{"slow-then-fast/rps=200", slowFast(200)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var runs []figures
			for b.Loop() {
				f := bc.s.run(b, len(runs))
				b.Logf("run %d: %s", len(runs)+1, f)
				runs = append(runs, f)
			}
			reportFigures(b, runs)
		})
	}
}

// scenario is one cold-start measurement.
type scenario struct {
	rps          float64
	clientEnv    map[string]string // beyond RESILIENCE=adaptive, LOG_LEVEL=debug and BACKEND_URL
	backendEnv   map[string]string
	partitionAt  time.Duration // from the load's start (plus the iteration's phase); 0 = none
	partitionFor time.Duration
	fastAt       time.Duration // > 0: the backend's service time becomes exp:1ms then
	length       time.Duration // of the load

	limitAtFault float64 // set by faults: the attempt timeout in force just before the partition, ms (/api/resilience)
}

func pairs(kv []string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// run makes the scenario's iteration i and returns its figures.
func (s scenario) run(b *testing.B, i int) figures {
	be := newPartitionable(b, s.backendEnv)
	env := map[string]string{"BACKEND_URL": be.URL, "RESILIENCE": "adaptive", "LOG_LEVEL": "debug"}
	for k, v := range s.clientEnv {
		env[k] = v
	}
	cl := start(b, Run, env)
	defer be.Backend.shutdown(b)
	defer cl.shutdown(b)

	var mu sync.Mutex
	var records []results.Record
	var events []results.Event
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t0 := time.Now()
	done := make(chan error, 1)
	go func() { done <- s.faults(ctx, be, cl.URL, t0, i, &mu, &events) }()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200}}
	defer client.CloseIdleConnections()
	err := load.Run(ctx, load.Config{Target: cl.URL + "/api/data", RPS: s.rps, Timeout: 20 * time.Second, Duration: s.length},
		client, func(r results.Record) { mu.Lock(); records = append(records, r); mu.Unlock() })
	if err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(cl.Logs.String()) {
		if e, ok := results.DecodeLogLine([]byte(line)); ok {
			events = append(events, e)
		}
	}
	a := report.Analyze(&results.Run{Info: results.RunInfo{Resilience: results.ResilienceAdaptive, Start: t0}, Records: records, Events: events}, nil)
	f := measure(a)
	f.limitAtFault = s.limitAtFault
	if a.FaultOn == nil { // every call reached the backend: the lab's count and the backend's own must agree
		n := backendCalls(b, be.Backend.URL)
		for deadline := time.Now().Add(3 * time.Second); n < f.healthyCalls && time.Now().Before(deadline); n = backendCalls(b, be.Backend.URL) {
			time.Sleep(20 * time.Millisecond) // the backend counts a call it serves for a caller that has gone once it is done with it
		}
		// a call cut by its timeout may not have reached the backend (a connection not yet made
		// on a loaded machine): the backend's count lies between the calls that were not cut and all
		if n > f.healthyCalls || n < f.healthyCalls-f.healthyTimeouts || a.Calls[0].Attempts != f.healthyCalls || a.Calls[0].TimedOut != f.healthyTimeouts {
			b.Fatalf("backend calls: %d counted here (%d timed out), %d by the lab's analysis (%d timed out), %d answered by the backend",
				f.healthyCalls, f.healthyTimeouts, a.Calls[0].Attempts, a.Calls[0].TimedOut, n)
		}
	}
	return f
}

// faults makes the scenario's faults on its schedule from t0, and records them as the lab does.
func (s *scenario) faults(ctx context.Context, be *partitionable, clientURL string, t0 time.Time, i int, mu *sync.Mutex, events *[]results.Event) error {
	at := func(d time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(time.Until(t0.Add(d))):
			return true
		}
	}
	note := func(action string) {
		mu.Lock()
		*events = append(*events, results.Event{Time: time.Now(), Kind: results.KindFault, Action: action, Name: "partition"})
		mu.Unlock()
	}
	switch {
	case s.partitionAt > 0:
		on := s.partitionAt + time.Duration(float64(i%5)/5*float64(time.Second)/s.rps)
		if !at(on) {
			return nil
		}
		s.limitAtFault = attemptTimeoutMs(ctx, clientURL)
		note("on")
		if err := be.Partition(ctx); err != nil {
			return err
		}
		if !at(on + s.partitionFor + time.Duration(i%5)*probePhase/5) {
			return nil
		}
		note("off")
		return be.Heal(ctx)
	case s.fastAt > 0:
		if !at(s.fastAt) {
			return nil
		}
		return putCapacity(ctx, be.Backend.URL, `{"service_time":"exp:1ms"}`)
	}
	return nil
}

// probePhase is PROBE_INTERVAL's default: the heal's shift over five iterations spans it.
const probePhase = 100 * time.Millisecond

// attemptTimeoutMs is the attempt timeout client-service has in force (/api/resilience), 0 when
// it cannot be read.
func attemptTimeoutMs(ctx context.Context, clientURL string) float64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, clientURL+"/api/resilience", nil)
	if err != nil {
		return 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var a ResilienceAnswer
	if json.NewDecoder(resp.Body).Decode(&a) != nil || a.Adaptive == nil {
		return 0
	}
	return a.Adaptive.AttemptTimeoutMs
}

func putCapacity(ctx context.Context, url, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url+"/api/capacity", strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("PUT /api/capacity %s: %d %s", body, resp.StatusCode, b)
	}
	return nil
}

// backendCalls is the backend's own count of the GET /api/data it answered (its /metrics).
func backendCalls(b *testing.B, url string) int {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "http_server_requests_total{") && strings.Contains(line, `uri="GET /api/data"`) {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err != nil {
				b.Fatalf("metrics line %q: %v", line, err)
			}
			n += int(v)
		}
	}
	return n
}

// figures are one iteration's measurements; a nil duration was not seen.
type figures struct {
	faultToFallback, faultToOpen, firstUser, healToBackend *time.Duration
	firstUserSource                                        string
	healthyCalls, healthyTimeouts, falseOpens              int
	healthyFallbacks                                       int     // fallback answers wholly before the fault (all, without one)
	limitAtFault                                           float64 // ms; 0 without a partition
	trace                                                  string  // with false openings: the breaker's moves and the first failure
}

// measure reads the figures off the lab's analysis of the run.
func measure(a *report.Analysis) figures {
	f := figures{faultToFallback: a.FirstFallbackAfterFault, faultToOpen: a.OpenAfterFault, healToBackend: a.FirstBackendAfterHeal}
	f.healthyCalls, f.healthyTimeouts = healthyCalls(a.Events, a.FaultOn, a.FaultOff)
	f.healthyFallbacks = healthyFallbacks(a.Records, a.FaultOn)
	for _, t := range a.Transitions {
		if t.To == results.BreakerOpen && (a.FaultOn == nil || t.Time.Before(*a.FaultOn)) {
			f.falseOpens++
		}
	}
	if f.falseOpens > 0 { // say what happened: the breaker's moves and the first healthy timeout
		var moves []string
		for _, t := range a.Transitions {
			moves = append(moves, fmt.Sprintf("+%s %s", report.FormatDuration(a.Rel(t.Time)), t.To))
		}
		f.trace = strings.Join(moves, ", ")
		for _, e := range a.Events {
			if e.Kind == results.KindAttempt && e.Outcome == results.OutcomeFailure {
				f.trace += fmt.Sprintf("; first failure at +%s: %s", report.FormatDuration(a.Rel(e.Time)), e.Error)
				break
			}
		}
	}
	if a.FaultOn != nil {
		if r, ok := firstFrom(a.Records, *a.FaultOn); ok {
			f.firstUser, f.firstUserSource = &r.Latency, r.Source
		}
	}
	return f
}

// healthyCalls counts the backend calls (attempt events) made wholly while the backend was
// healthy: ended before the fault's start (on) or begun at or after its end (off); nil times
// mean no fault. timedOut counts those cut by the attempt timeout or the request deadline.
func healthyCalls(events []results.Event, on, off *time.Time) (calls, timedOut int) {
	for _, e := range events {
		if e.Kind != results.KindAttempt || e.Outcome == results.OutcomeIgnored {
			continue
		}
		begun := e.Time.Add(-results.FromMS(e.DurationMS))
		if on != nil && !e.Time.Before(*on) && (off == nil || begun.Before(*off)) {
			continue
		}
		calls++
		if e.Outcome == results.OutcomeFailure && (strings.Contains(e.Error, resilience.ErrAttemptTimeout.Error()) ||
			strings.Contains(e.Error, resilience.ErrRequestTimeout.Error())) {
			timedOut++
		}
	}
	return calls, timedOut
}

// healthyFallbacks counts the requests answered by the fallback that were sent and answered
// before on, the fault's start (all of them when on is nil).
func healthyFallbacks(records []results.Record, on *time.Time) int {
	n := 0
	for _, r := range records {
		if r.Source == results.SourceFallback && (on == nil || r.Start.Add(r.Latency).Before(*on)) {
			n++
		}
	}
	return n
}

// firstFrom is the first record (records sorted by Start) scheduled at or after since that was
// sent.
func firstFrom(records []results.Record, since time.Time) (results.Record, bool) {
	for _, r := range records {
		if !r.Start.Before(since) && r.Answered() {
			return r, true
		}
	}
	return results.Record{}, false
}

// falseTimeoutPct is the healthy calls cut by a timeout, in percent of the healthy calls.
func (f figures) falseTimeoutPct() float64 {
	if f.healthyCalls == 0 {
		return 0
	}
	return 100 * float64(f.healthyTimeouts) / float64(f.healthyCalls)
}

func (f figures) String() string {
	return fmt.Sprintf("attempt timeout at the fault %.1f ms, fault->fallback %s, fault->OPEN %s, first user after the fault %s (%s), heal->backend %s, "+
		"healthy calls %d, timed out %d (%.2f%%), openings before any fault %d, fallbacks before it %d ",
		f.limitAtFault, opt(f.faultToFallback), opt(f.faultToOpen), opt(f.firstUser), f.firstUserSource, opt(f.healToBackend),
		f.healthyCalls, f.healthyTimeouts, f.falseTimeoutPct(), f.falseOpens, f.healthyFallbacks) + f.trace
}

func opt(d *time.Duration) string {
	if d == nil {
		return "n/a"
	}
	return report.FormatDuration(*d)
}

// reportFigures reports the median of each figure over the runs as the benchmark's metrics, and
// logs the median [min - max].
func reportFigures(b *testing.B, runs []figures) {
	ms := func(get func(figures) *time.Duration) []float64 {
		var out []float64
		for _, f := range runs {
			if d := get(f); d != nil {
				out = append(out, float64(*d)/float64(time.Millisecond))
			}
		}
		return out
	}
	rows := []row{
		{"ms-fault->fallback", ms(func(f figures) *time.Duration { return f.faultToFallback })},
		{"ms-fault->OPEN", ms(func(f figures) *time.Duration { return f.faultToOpen })},
		{"ms-first-user", ms(func(f figures) *time.Duration { return f.firstUser })},
		{"ms-heal->backend", ms(func(f figures) *time.Duration { return f.healToBackend })},
	}
	var pct, opens, fallbacks, limits []float64
	calls, timeouts := 0, 0
	for _, f := range runs {
		if f.limitAtFault > 0 {
			limits = append(limits, f.limitAtFault)
		}
		pct, opens = append(pct, f.falseTimeoutPct()), append(opens, float64(f.falseOpens))
		fallbacks = append(fallbacks, float64(f.healthyFallbacks))
		calls, timeouts = calls+f.healthyCalls, timeouts+f.healthyTimeouts
	}
	rows = append(rows, row{"ms-timeout-at-fault", limits}, row{"%-false-timeouts", pct}, row{"false-opens", opens}, row{"healthy-fallbacks", fallbacks})
	var sum []string
	for _, r := range rows {
		if len(r.vals) == 0 {
			continue
		}
		med, lo, hi := spread(r.vals)
		b.ReportMetric(med, r.name)
		sum = append(sum, fmt.Sprintf("%s %.4g [%.4g - %.4g]", r.name, med, lo, hi))
	}
	b.Logf("%d runs, median [min - max]: %s; healthy calls %d in all, %d timed out", len(runs), strings.Join(sum, ", "), calls, timeouts)
}

// row is one figure's values over the runs.
type row struct {
	name string
	vals []float64
}

// spread is the median (the mean of the two middle values for an even count), min and max.
func spread(vals []float64) (median, lo, hi float64) {
	s := slices.Sorted(slices.Values(vals))
	n := len(s)
	if n == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	median = s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	return median, s[0], s[n-1]
}

// TestColdStartFigures checks the benchmark's own counting against hand-made records: which
// calls were healthy (wholly outside the fault) and timed out, the first user after the fault,
// and the median and spread.
func TestColdStartFigures(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	call := func(endMS int, durMS float64, outcome, err string) results.Event {
		return results.Event{Kind: results.KindAttempt, Time: at(endMS), DurationMS: durMS, Outcome: outcome, Error: err}
	}
	timeout := "backend call timed out after 50ms (adaptive timeout while cold: ...)"
	events := []results.Event{
		call(90, 2, results.OutcomeSuccess, ""),                                                                    // healthy
		call(99, 60, results.OutcomeFailure, timeout),                                                              // healthy: ended before the fault, a false timeout
		call(150, 60, results.OutcomeFailure, timeout),                                                             // begun before the fault, ended in it: not healthy
		call(160, 50, results.OutcomeFailure, timeout),                                                             // wholly in the fault
		call(320, 30, results.OutcomeFailure, timeout),                                                             // begun in the fault, ended after it: not healthy
		call(340, 5, results.OutcomeSuccess, ""),                                                                   // begun at the heal: healthy
		call(400, 60, results.OutcomeFailure, "backend call cut by the request deadline of 15s (REQUEST_TIMEOUT)"), // healthy, timed out
		call(410, 1, results.OutcomeFailure, "backend answered 503 Service Unavailable"),                           // healthy, not a timeout
		call(420, 1, results.OutcomeIgnored, ""),                                                                   // cut by its caller: not counted
		{Kind: results.KindBreaker, Time: at(130), From: "CLOSED", To: "OPEN"},
	}
	on, off := at(100), at(335)
	if calls, timedOut := healthyCalls(events, &on, &off); calls != 5 || timedOut != 2 {
		t.Errorf("with the fault: %d healthy calls, %d timed out; want 5 and 2", calls, timedOut)
	}
	if calls, timedOut := healthyCalls(events, nil, nil); calls != 8 || timedOut != 5 {
		t.Errorf("without a fault: %d calls, %d timed out; want 8 and 5", calls, timedOut)
	}

	records := []results.Record{
		{ID: 1, Start: at(0), Latency: 2 * time.Millisecond, Source: results.SourceBackend},
		{ID: 2, Start: at(100), Source: results.SourceDropped},
		{ID: 3, Start: at(200), Latency: 52 * time.Millisecond, Source: results.SourceFallback},
		{ID: 4, Start: at(300), Latency: time.Millisecond, Source: results.SourceFallback},
	}
	if r, ok := firstFrom(records, at(100)); !ok || r.ID != 3 {
		t.Errorf("first from 100 ms: %+v, want request 3 (2 was dropped, never sent)", r)
	}
	if r, ok := firstFrom(records, at(150)); !ok || r.ID != 3 {
		t.Errorf("first from 150 ms: %+v, want request 3", r)
	}
	if _, ok := firstFrom(records, at(301)); ok {
		t.Errorf("a request after the last one")
	}
	early := append([]results.Record{
		{ID: 5, Start: at(10), Latency: time.Millisecond, Source: results.SourceFallback},      // answered before 100 ms: counted
		{ID: 6, Start: at(90), Latency: 20 * time.Millisecond, Source: results.SourceFallback}, // answered after 100 ms: not
	}, records...)
	if n := healthyFallbacks(early, &on); n != 1 {
		t.Errorf("fallbacks before the fault at 100 ms: %d, want 1 (request 5)", n)
	}
	if n := healthyFallbacks(early, nil); n != 4 {
		t.Errorf("fallbacks without a fault: %d, want 4", n)
	}

	for _, tc := range []struct {
		vals        []float64
		med, lo, hi float64
	}{
		{[]float64{5, 1, 3}, 3, 1, 5},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4},
		{[]float64{7}, 7, 7, 7},
	} {
		if med, lo, hi := spread(tc.vals); med != tc.med || lo != tc.lo || hi != tc.hi {
			t.Errorf("spread(%v) = %v [%v - %v], want %v [%v - %v]", tc.vals, med, lo, hi, tc.med, tc.lo, tc.hi)
		}
	}
}
