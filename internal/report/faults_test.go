package report

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/results"
)

// Error texts as the client writes them (internal/resilience, internal/client).
const (
	errAttemptTimeout = "backend call timed out after 1s (ATTEMPT_TIMEOUT)"
	errRequestCut     = "backend call cut by the request deadline of 10s (REQUEST_TIMEOUT)"
	errBodyTimeout    = "reading the backend answer: context deadline exceeded"
	err503            = "backend answered 503 Service Unavailable: fault filter abort"
	err500            = "backend answered 500 Internal Server Error"
	errRefused        = "Get \"http://127.0.0.1:1234/api/data\": dial tcp 127.0.0.1:1234: connect: connection refused"
	errReset          = "Get \"http://127.0.0.1:1234/api/data\": read tcp 127.0.0.1:5->127.0.0.1:1234: read: connection reset by peer"
	errEOF            = "EOF"
	errCanceled       = "context canceled"
)

// calls is a run of backend calls alike: n calls, the first starting at start (seconds), each
// the next 10 ms later, the i-th lasting dur+i*step ms. is says what the test takes them for.
type calls struct {
	n           int
	start       float64
	dur, step   float64
	outcome     string
	err         string
	is          string // ok, timeout, body, status, refused, reset, other, ignored
	status      int    // for is == status
	firstID     uint64 // the request id of the first call, the next ones +1; 0: none
	answeredVia string // the final source of those requests (results.SourceBackend, ...)
}

// durations returns the calls' durations.
func (c calls) durations() []time.Duration {
	out := make([]time.Duration, c.n)
	for i := range out {
		out[i] = ms(c.dur + float64(i)*c.step)
	}
	return out
}

func (c calls) events() []results.Event {
	var out []results.Event
	for i, d := range c.durations() {
		start := at(c.start + float64(i)/100)
		e := results.Event{Time: start.Add(d), Kind: results.KindAttempt, Attempt: 1, Outcome: c.outcome,
			DurationMS: float64(d) / float64(time.Millisecond), Error: c.err}
		if c.firstID != 0 {
			e.RequestID = c.firstID + uint64(i)
		}
		out = append(out, e)
	}
	return out
}

func ok(n int, start, dur, step float64) calls {
	return calls{n: n, start: start, dur: dur, step: step, outcome: results.OutcomeSuccess, is: "ok"}
}

func failed(n int, start, dur float64, err, is string) calls {
	return calls{n: n, start: start, dur: dur, outcome: results.OutcomeFailure, err: err, is: is}
}

func faultOnEv(s float64, kind, detail string) results.Event {
	return results.Event{Time: at(s), Kind: results.KindFault, Action: "on", Name: kind, Message: detail}
}

func faultOffEv(s float64, kind, detail string) results.Event {
	return results.Event{Time: at(s), Kind: results.KindFault, Action: "off", Name: kind, Message: "removed: " + detail}
}

func processEv(s float64, action, service, msg string, durMS float64) results.Event {
	return results.Event{Time: at(s), Kind: results.KindProcess, Action: action, Service: service, Message: msg, DurationMS: durMS}
}

// kindRun is known() with its partition replaced by a fault of kind (on at +2s, off at +15s),
// the calls cs and the extra events. The requests cs name by id are added, started at the
// call's start and answered as the calls say.
func kindRun(kind, detail string, cs []calls, extra ...results.Event) folder {
	f := known()
	var events []results.Event
	for _, e := range f.events {
		switch {
		case e.Kind == results.KindFault && e.Action == "on":
			e = faultOnEv(2, kind, detail)
		case e.Kind == results.KindFault:
			e = faultOffEv(15, kind, detail)
		}
		events = append(events, e)
	}
	for _, c := range cs {
		events = append(events, c.events()...)
		for i := range c.n {
			if c.firstID != 0 {
				r := rec(c.start+float64(i)/100, ms(c.dur), c.answeredVia, 1)
				r.ID = c.firstID + uint64(i)
				f.recs = append(f.recs, r)
			}
		}
	}
	f.events = append(events, extra...)
	slices.SortStableFunc(f.events, func(x, y results.Event) int { return x.Time.Compare(y.Time) })
	return f
}

// during counts the calls of cs that start in [+2s, +15s) and that the test takes for is.
func during(cs []calls, is string) int {
	n := 0
	for _, c := range cs {
		for i := range c.n {
			if s := c.start + float64(i)/100; c.is == is && s >= 2 && s < 15 {
				n++
			}
		}
	}
	return n
}

// beforeCalls are healthy calls before the fault: 1..10 ms, so the p99 before is 10 ms.
var beforeCalls = ok(10, 1, 1, 1)

func TestFaultKinds(t *testing.T) {
	tests := []struct {
		name, kind, detail string
		calls              []calls
		extra              []results.Event
		check              func(t *testing.T, a *Analysis, c CallStats, cs []calls)
		findings           []string // each must be a substring of one finding
		summary            string   // must be in the terminal summary
	}{
		{name: "latency beyond the attempt timeout", kind: "latency", detail: "latency 1500 ms ± 200 ms, downstream (toxic backend-latency)",
			calls: []calls{beforeCalls, failed(4, 3, 1000, errAttemptTimeout, "timeout"), failed(1, 4, 1000, errRequestCut, "timeout"),
				ok(5, 5, 1300, 10), {n: 2, start: 6, dur: 40, outcome: results.OutcomeIgnored, err: errCanceled, is: "ignored"}},
			check: func(t *testing.T, a *Analysis, c CallStats, cs []calls) {
				if c.TimedOut != during(cs, "timeout") || c.Succeeded != during(cs, "ok") || c.Ignored != during(cs, "ignored") {
					t.Errorf("timed out %d, succeeded %d, ignored %d; want %d, %d, %d", c.TimedOut, c.Succeeded, c.Ignored,
						during(cs, "timeout"), during(cs, "ok"), during(cs, "ignored"))
				}
				if c.Failed != 5 || c.SuccessMax != ms(1340) || c.SlowAbove != ms(10) || c.Slow != 5 {
					t.Errorf("failed %d, max %v, slow %d above %v; want 5, 1.34s, 5 above 10ms", c.Failed, c.SuccessMax, c.Slow, c.SlowAbove)
				}
			},
			findings: []string{"During the fault 5 attempts timed out (attempt timeout or request deadline) and 5 succeeded, slowest 1.34 s: the delay is beyond the attempt timeout."},
			summary:  "fault: latency 1500 ms ± 200 ms, downstream (toxic backend-latency) on at +2.0s, removed at +15.0s"},
		{name: "http-delay inside the timeout", kind: "http-delay", detail: "delay 300 ms on 100% of requests (http fault http-delay)",
			calls: []calls{beforeCalls, ok(10, 3, 300, 1)},
			check: func(t *testing.T, a *Analysis, c CallStats, cs []calls) {
				// 300..309 ms: the 5th is the p50, the 10th the p99 (nearest rank)
				if c.TimedOut != 0 || c.Succeeded != 10 || c.SuccessP50 != ms(304) || c.SuccessP99 != ms(309) || c.Slow != 10 {
					t.Errorf("timed out %d, succeeded %d, p50 %v, p99 %v, slow %d", c.TimedOut, c.Succeeded, c.SuccessP50, c.SuccessP99, c.Slow)
				}
			},
			findings: []string{"During the fault no attempt timed out; successful attempts took p50 304.0 ms, p99 309.0 ms (10 of 10 slower than the p99 before the fault, 10.0 ms): answers were slower but inside the attempt timeout."}},
		{name: "http-errors", kind: "http-errors", detail: "HTTP 503 on 30% of requests (http fault http-errors)",
			calls: []calls{beforeCalls,
				{n: 3, start: 3, dur: 2, outcome: results.OutcomeFailure, err: err503, is: "status", status: 503, firstID: 101, answeredVia: results.SourceBackend},
				{n: 2, start: 4, dur: 2, outcome: results.OutcomeFailure, err: err503, is: "status", status: 503, firstID: 201, answeredVia: results.SourceFallback},
				{n: 1, start: 5, dur: 2, outcome: results.OutcomeFailure, err: err500, is: "status", status: 500, firstID: 301, answeredVia: results.SourceBackend},
				ok(4, 6, 3, 0)},
			check: func(t *testing.T, a *Analysis, c CallStats, cs []calls) {
				if c.HTTPErrors != during(cs, "status") || c.Refused != 0 {
					t.Errorf("HTTP errors %d, refused %d; want %d, 0 (the 503's reason quotes a refusal)", c.HTTPErrors, c.Refused, during(cs, "status"))
				}
				want := []StatusCount{{503, 5}, {500, 1}}
				if !slices.Equal(c.Statuses, want) {
					t.Errorf("statuses %v, want %v", c.Statuses, want)
				}
				if c.FailedRequests != 6 || c.Absorbed != 4 {
					t.Errorf("absorbed %d of %d, want 4 of 6 (101..103 and 301 answered by the backend)", c.Absorbed, c.FailedRequests)
				}
			},
			findings: []string{"During the fault 60.0% of attempts got an HTTP error (6 of 10: 503 ×5, 500 ×1)", "retries absorbed 4 of 6 requests that met an error"}},
		{name: "crash", kind: "crash", detail: "backend-service killed with SIGKILL (pid 1234); restart after 11s",
			calls: []calls{beforeCalls, failed(5, 3, 1, errRefused, "refused"), {n: 2, start: 4, dur: 1, outcome: results.OutcomeFailure, err: err503, is: "status"}},
			extra: []results.Event{processEv(2.5, "kill", "backend-service", "SIGKILL to pid 1234; restart after 11s", 0),
				processEv(13.5, "start", "backend-service", "pid 5678", 11012.3)},
			check: func(t *testing.T, a *Analysis, c CallStats, cs []calls) {
				if len(a.Restarts) != 1 {
					t.Fatalf("restarts %+v", a.Restarts)
				}
				r := a.Restarts[0]
				if r.TimeToRestart == nil || *r.TimeToRestart != results.FromMS(11012.3) || r.OldPID != 1234 || r.NewPID != 5678 {
					t.Errorf("restart %+v (time %v), want 11.0123s from duration_ms, pid 1234 -> 5678", r, show(r.TimeToRestart))
				}
				if c.Refused != during(cs, "refused") || statusCount(c, 503) != during(cs, "status") {
					t.Errorf("refused %d, 503 %d", c.Refused, statusCount(c, 503))
				}
			},
			findings: []string{"backend-service was killed at +2.5s (pid 1234) and listened again 11.01 s later (pid 5678).",
				"During the fault 5 attempts were refused (connection refused, or a proxy's 5xx saying so), 2 answered 503, 0 timed out and 0 reset; 0 succeeded."},
			summary: "fault: crash: backend-service killed with SIGKILL (pid 1234); restart after 11s on at +2.0s"},
		{name: "slow-body", kind: "slow-body", detail: "bandwidth 1 KB/s, downstream (toxic slow-body)",
			calls: []calls{beforeCalls, failed(3, 3, 1000, errBodyTimeout, "body"), failed(2, 4, 1000, errAttemptTimeout, "timeout"), ok(1, 5, 800, 0)},
			check: func(t *testing.T, a *Analysis, c CallStats, cs []calls) {
				if c.BodyTimeouts != during(cs, "body") || c.HeaderTimeouts() != during(cs, "timeout") {
					t.Errorf("body %d, headers %d", c.BodyTimeouts, c.HeaderTimeouts())
				}
			},
			findings: []string{"During the fault 3 attempts timed out while reading the body (after the headers) and 2 before the headers; 1 succeeded, slowest 800.0 ms."}},
		{name: "connection-reset", kind: "connection-reset", detail: "reset_peer after 0 ms, downstream (toxic backend-reset)",
			calls: []calls{beforeCalls, {n: 4, start: 3, dur: 1, step: 1, outcome: results.OutcomeFailure, err: errReset, is: "reset"},
				{n: 2, start: 4, dur: 5, step: 1, outcome: results.OutcomeFailure, err: errEOF, is: "reset"}},
			check: func(t *testing.T, a *Analysis, c CallStats, cs []calls) {
				// 1, 2, 3, 4, 5, 6 ms: the p50 is the 3rd
				if c.Reset != during(cs, "reset") || c.ResetP50 != ms(3) || c.TimedOut != 0 {
					t.Errorf("reset %d, p50 %v, timed out %d", c.Reset, c.ResetP50, c.TimedOut)
				}
			},
			findings: []string{"During the fault 6 attempts failed fast with a connection reset (connection reset by peer or EOF), p50 3.00 ms; 0 timed out, 0 succeeded."}},
		{name: "refuse", kind: "refuse", detail: "proxy disabled",
			calls:    []calls{beforeCalls, failed(3, 3, 1, errRefused, "refused")},
			findings: []string{"During the fault 3 attempts were refused (connection refused), p50 1.00 ms; 0 timed out, 0 succeeded."}},
		{name: "another toxic: calls by cause", kind: "toxic", detail: "slicer (toxic backend-slicer)",
			calls:    []calls{beforeCalls, failed(2, 3, 1, "backend answered a body that is not JSON", "other"), ok(3, 4, 2, 0)},
			findings: []string{"During the fault the client made 5 backend calls: 3 succeeded, 0 timed out, 0 refused, 0 reset, 0 got an HTTP error, 2 failed otherwise."}},
		{name: "two kinds at once", kind: "latency+http-errors", detail: "latency 100 ms; HTTP 503 on 30% of requests",
			calls: []calls{beforeCalls, ok(3, 3, 120, 0), {n: 1, start: 4, dur: 2, outcome: results.OutcomeFailure, err: err503, is: "status"}},
			findings: []string{"During the fault no attempt timed out; successful attempts took p50 120.0 ms",
				"During the fault 25.0% of attempts got an HTTP error (1 of 4: 503 ×1)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := kindRun(tt.kind, tt.detail, tt.calls, tt.extra...).analyze()
			c := a.Calls[1]
			if a.FaultKind != tt.kind || len(a.Faults) != 1 || a.Faults[0].Detail != tt.detail {
				t.Errorf("kind %q, windows %+v", a.FaultKind, a.Faults)
			}
			if c.Attempts != countAll(tt.calls, 2, 15) {
				t.Errorf("%d calls during the fault, want %d", c.Attempts, countAll(tt.calls, 2, 15))
			}
			if a.Calls[0].Attempts != countAll(tt.calls, 0, 2) || a.Calls[0].Succeeded != a.Calls[0].Attempts {
				t.Errorf("before: %d calls, %d succeeded; want %d healthy", a.Calls[0].Attempts, a.Calls[0].Succeeded, countAll(tt.calls, 0, 2))
			}
			if tt.check != nil {
				tt.check(t, a, c, tt.calls)
			}
			got := findings(a)
			// The journal's probe says the backend was unreachable; only a partition is verified by it.
			verified := slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "Fault verified") })
			if verified != strings.Contains(tt.kind, "partition") {
				t.Errorf("a %s fault verified by the reachability probe: %t, want only for a partition", tt.kind, verified)
			}
			for _, want := range tt.findings {
				if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, want) }) {
					t.Errorf("no finding has %q:\n%s", want, strings.Join(got, "\n"))
				}
			}
			var sum strings.Builder
			WriteSummary(&sum, a)
			if !strings.Contains(sum.String(), tt.summary) || !strings.Contains(sum.String(), "effect: "+tt.findings[0][:20]) {
				t.Errorf("summary lacks %q or the effect line:\n%s", tt.summary, sum.String())
			}
			md := renderedMarkdown(t, a)
			for _, want := range []string{"| Fault | " + mdCell(tt.kind) + " | " + mdCell(tt.detail) + " |", "### 4.5 Backend calls", "| during | " + strconv.Itoa(c.Attempts) + " |"} {
				if !strings.Contains(md, want) {
					t.Errorf("report.md lacks %q", want)
				}
			}
		})
	}
}

// countAll counts the calls of cs that start in [from, to) seconds.
func countAll(cs []calls, from, to float64) int {
	n := 0
	for _, c := range cs {
		for i := range c.n {
			if s := c.start + float64(i)/100; s >= from && s < to {
				n++
			}
		}
	}
	return n
}

func TestCallCause(t *testing.T) {
	tests := []struct {
		err    string
		cause  string
		status int
	}{
		{errAttemptTimeout, causeTimeout, 0},
		{errRequestCut, causeTimeout, 0},
		{"context deadline exceeded", causeTimeout, 0},
		{errBodyTimeout, causeBodyTimeout, 0},
		{err503, causeStatus, 503},
		{"backend answered 503 Service Unavailable: upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: dial tcp 127.0.0.1:9: connect: connection refused", causeRefused, 0},
		{"backend call timed out after 1s (ATTEMPT_TIMEOUT), while reading the backend answer", causeBodyTimeout, 0},
		{"backend answered 504: upstream request timeout", causeStatus, 504},
		{err500, causeStatus, 500},
		{errRefused, causeRefused, 0},
		{errReset, causeReset, 0},
		{errEOF, causeReset, 0},
		{"Get \"http://x/api/data\": EOF", causeReset, 0},
		{"reading the backend answer: unexpected EOF", causeReset, 0},
		{"backend answered a body that is not JSON", causeOther, 0},
	}
	for _, tt := range tests {
		t.Run(tt.err, func(t *testing.T) {
			if cause, status := callCause(tt.err); cause != tt.cause || status != tt.status {
				t.Errorf("callCause = %s, %d; want %s, %d", cause, status, tt.cause, tt.status)
			}
		})
	}
}

// flapping is known() with a partition that comes and goes three times, [+2, +4), [+6, +8) and
// [+10, +12), and a breaker that opens in the first and the third cycle only.
func flapping() (folder, []int) {
	f := known()
	f.events = nil
	for i, on := range []float64{2, 6, 10} {
		detail := "partition (flapping flap: cycle " + strconv.Itoa(i+1) + " of 3, 2s on, 2s off)"
		f.events = append(f.events, faultOnEv(on, "partition", detail), faultOffEv(on+2, "partition", detail))
	}
	transitions := []struct {
		at       float64
		from, to string
		cycle    int // the cycle the test counts it in (1-based)
	}{
		{2.5, "CLOSED", "OPEN", 1}, {5, "OPEN", "HALF_OPEN", 1}, {5.2, "HALF_OPEN", "CLOSED", 1},
		{10.5, "CLOSED", "OPEN", 3}, {12.5, "OPEN", "HALF_OPEN", 3}, {12.6, "HALF_OPEN", "OPEN", 3},
		{14, "OPEN", "HALF_OPEN", 3}, {14.2, "HALF_OPEN", "CLOSED", 3},
	}
	toOpen := make([]int, 3)
	for _, tr := range transitions {
		f.events = append(f.events, breakerEv(tr.at, tr.from, tr.to))
		if tr.to == "OPEN" {
			toOpen[tr.cycle-1]++
		}
	}
	slices.SortStableFunc(f.events, func(x, y results.Event) int { return x.Time.Compare(y.Time) })
	return f, toOpen
}

func TestFlapping(t *testing.T) {
	f, toOpen := flapping()
	a := f.analyze()
	if len(a.Faults) != 3 || !a.FaultOn.Equal(at(2)) || a.FaultOff == nil || !a.FaultOff.Equal(at(12)) {
		t.Fatalf("windows %+v, on %v, off %v", a.Faults, a.FaultOn, show(a.FaultOff))
	}
	if len(a.Cycles) != 3 {
		t.Fatalf("cycles %+v", a.Cycles)
	}
	opened := 0
	for i, c := range a.Cycles {
		if c.ToOpen != toOpen[i] {
			t.Errorf("cycle %d: %d transitions to OPEN, want %d", i+1, c.ToOpen, toOpen[i])
		}
		if toOpen[i] > 0 {
			opened++
		}
	}
	if c := a.Cycles[2]; c.TrialsFailed != 1 || c.ToClosed != 1 || !c.Until.Equal(a.End) || a.Cycles[1].StateAtOn != "CLOSED" {
		t.Errorf("cycle 3 %+v, cycle 2 began %s", c, a.Cycles[1].StateAtOn)
	}
	want := "the breaker opened in " + strconv.Itoa(opened) + " of 3 cycles (HALF_OPEN trial calls failed 1 time)"
	if got := strings.Join(findings(a), "\n"); !strings.Contains(got, want) {
		t.Errorf("findings lack %q:\n%s", want, got)
	}
	var sum strings.Builder
	WriteSummary(&sum, a)
	if want := "; 3 windows (cycles): first on at +2.0s, last removed at +12.0s"; !strings.Contains(sum.String(), want) {
		t.Errorf("summary lacks %q:\n%s", want, sum.String())
	}
	dir := t.TempDir()
	f.write(t, dir)
	if err := Render(dir); err != nil {
		t.Fatal(err)
	}
	svg := parseXHTML(t, readTest(t, filepath.Join(dir, "report.html"))).all(named("svg"))[0]
	if n := len(svg.all(classed("rect", "fault"))); n != 3 {
		t.Errorf("%d fault windows shaded, want 3", n)
	}
	md := string(readTest(t, filepath.Join(dir, "report.md")))
	for _, want := range []string{"| Windows | 3 windows (cycles) | +2.0s … +4.0s, +6.0s … +8.0s, +10.0s … +12.0s |",
		"| 3 | +10.0s … +12.0s | CLOSED | 2 | 1 | 1 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
}

func TestCrashPIDsFromObservations(t *testing.T) {
	f := kindRun("crash", "backend-service killed with SIGKILL (pid 1234); restart after 11s", nil,
		processEv(2.5, "kill", "backend-service", "SIGKILL to pid 1234; restart after 11s", 0),
		processEv(13.5, "start", "backend-service", "pid 5678", 0))
	f.before = &results.Snapshot{Services: map[string]results.ServiceSnapshot{"backend-service": {Running: true, PID: 1111}}}
	f.after = &results.Snapshot{Services: map[string]results.ServiceSnapshot{"backend-service": {Running: true, PID: 2222}}}
	a := f.analyze()
	if len(a.Restarts) != 1 {
		t.Fatalf("restarts %+v", a.Restarts)
	}
	r := a.Restarts[0]
	if r.OldPID != 1111 || r.NewPID != 2222 || r.TimeToRestart == nil || *r.TimeToRestart != 11*time.Second {
		t.Errorf("restart %+v (time %v); want pid 1111 -> 2222 from the observations, 11s between the events", r, show(r.TimeToRestart))
	}
	f.events = slices.DeleteFunc(f.events, func(e results.Event) bool { return e.Action == "start" }) // never started again
	if a := f.analyze(); len(a.Restarts) != 1 || a.Restarts[0].Started != nil ||
		!strings.Contains(strings.Join(findings(a), "\n"), "did not listen again by the end of the run") {
		t.Errorf("restarts %+v, findings %q", a.Restarts, findings(a))
	}
}

// TestOldPartitionRun: a run whose fault events are the old ones (name "partition", no
// parameters, one window) gives the findings and the summary it gave before fault kinds existed.
func TestOldPartitionRun(t *testing.T) {
	a := known().analyze()
	want := []string{
		"Steady state before the fault: met; after the rollback: met.",
		"Fault verified: yes: the backend was unreachable.",
		"During the fault 87.5% of 8 requests were answered 200 (87.5% fallbacks, 12.5% errors/timeouts); p99 3.00 s, max 3.00 s.",
		"The client made 0.86 (1 unknown) backend attempts per request during the fault (1.00 before it).",
		"The breaker opened 2.20 s after the fault; the first fallback answer came 2.00 s after it.",
		"While OPEN, 5 requests had p99 6.00 ms: meets the target of under 20.0 ms.",
		"7 retries were scheduled, up to retry #2; 2 waits fell outside the configured range.",
		"After the heal the backend answered again after 9.61 s; the breaker closed after 9.80 s.",
		"The run recovered: the backend answered after the heal and the breaker ended CLOSED.",
	}
	if got := findings(a); !slices.Equal(got, want) {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var sum strings.Builder
	WriteSummary(&sum, a)
	lines := strings.Split(sum.String(), "\n")
	if lines[1] != "fault: partition on at +2.0s, removed at +15.0s" || !strings.HasPrefix(lines[2], "       phase") {
		t.Errorf("summary begins:\n%s", strings.Join(lines[:3], "\n"))
	}
	if a.FaultName != "partition" || a.FaultKind != "partition" || len(a.Faults) != 1 || a.Cycles != nil || len(a.Restarts) != 0 {
		t.Errorf("name %q kind %q windows %d cycles %v restarts %v", a.FaultName, a.FaultKind, len(a.Faults), a.Cycles, a.Restarts)
	}
	old := edited(func(f *folder) { f.events[0].Message = "backend-blackhole" }).analyze()
	if got := faultLine(old); got != "fault: partition: backend-blackhole on at +2.0s, removed at +15.0s" {
		t.Errorf("fault line %q", got)
	}
}

func TestFaultWindowDescribe(t *testing.T) {
	tests := []struct {
		w    FaultWindow
		want string
	}{
		{FaultWindow{Kind: "partition"}, "partition"},
		{FaultWindow{Kind: "latency", Detail: "latency 1500 ms ± 200 ms, downstream (toxic backend-latency)"}, "latency 1500 ms ± 200 ms, downstream (toxic backend-latency)"},
		{FaultWindow{Kind: "http-errors", Detail: "HTTP 503 on 30% of requests (http fault http-errors)"}, "HTTP 503 on 30% of requests (http fault http-errors)"},
		{FaultWindow{Kind: "crash", Detail: "backend-service killed with SIGKILL (pid 1234)"}, "crash: backend-service killed with SIGKILL (pid 1234)"},
		{FaultWindow{}, NA},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.w.Describe(); got != tt.want {
				t.Errorf("Describe() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestFaultNeverRemovedAfterWindows: a fault that came and went and then stayed on: "during"
// lasts to the end.
func TestFaultNeverRemovedAfterWindows(t *testing.T) {
	f := known()
	f.events = []results.Event{faultOnEv(2, "partition", ""), faultOffEv(4, "partition", ""), faultOnEv(6, "partition", ""),
		faultOnEv(7, "partition", "")} // a second on while one is open belongs to it
	a := f.analyze()
	if len(a.Faults) != 2 || a.FaultOff != nil || !a.Phases[2].Empty() || !hasNote(a, "never removed") {
		t.Errorf("windows %+v, off %v, after %d", a.Faults, show(a.FaultOff), a.Phases[2].Requests)
	}
	dir := t.TempDir()
	if err := RenderAnalysis(dir, a); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.html")); err != nil {
		t.Fatal(err)
	}
}
