package report

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/results"
)

func TestPercentile(t *testing.T) {
	ten := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
		ok     bool
	}{
		{"empty", nil, 50, 0, false},
		{"one value", []time.Duration{7}, 99, 7, true},
		{"p50 of ten is the 5th", ten, 50, 5, true},
		{"p90 of ten is the 9th", ten, 90, 9, true},
		{"p99 of ten is the 10th", ten, 99, 10, true},
		{"p100 is the max", ten, 100, 10, true},
		{"p50 of two is the 1st", []time.Duration{1, 2}, 50, 1, true},
		{"p1 of ten is the 1st", ten, 1, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Percentile(tt.sorted, tt.p)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Percentile(%v, %v) = %v, %v; want %v, %v", tt.sorted, tt.p, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestAnalyzePhases(t *testing.T) {
	a := known().analyze()
	tests := []struct {
		name                    string
		got                     PhaseStats
		requests, ok, fb, errs  int
		p50, p90, p99, max      time.Duration
		amplification, pctFallb float64
	}{
		{"before", a.Phases[0], 10, 10, 0, 0, ms(5), ms(9), ms(10), ms(10), 1, 0},
		{"during", a.Phases[1], 8, 7, 7, 1, ms(6), 3 * time.Second, 3 * time.Second, 3 * time.Second, 6.0 / 7, 87.5},
		{"after", a.Phases[2], 7, 7, 1, 0, ms(2), ms(5), ms(5), ms(5), 6.0 / 7, 100.0 / 7},
		{"while OPEN", a.WhileOpen, 5, 5, 5, 0, ms(3), ms(6), ms(6), ms(6), 0, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := tt.got
			if g.Requests != tt.requests || g.OK200 != tt.ok || g.Fallbacks != tt.fb || g.Errors != tt.errs {
				t.Errorf("requests/ok/fallbacks/errors = %d/%d/%d/%d, want %d/%d/%d/%d",
					g.Requests, g.OK200, g.Fallbacks, g.Errors, tt.requests, tt.ok, tt.fb, tt.errs)
			}
			if g.P50 != tt.p50 || g.P90 != tt.p90 || g.P99 != tt.p99 || g.Max != tt.max {
				t.Errorf("p50/p90/p99/max = %v/%v/%v/%v, want %v/%v/%v/%v", g.P50, g.P90, g.P99, g.Max, tt.p50, tt.p90, tt.p99, tt.max)
			}
			if !near(g.Amplification, tt.amplification) || !near(g.PctFallback, tt.pctFallb) {
				t.Errorf("amplification %v, %% fallback %v; want %v, %v", g.Amplification, g.PctFallback, tt.amplification, tt.pctFallb)
			}
		})
	}
	if p := a.Phases[1]; p.Timeouts != 1 || p.Retries != 7 || p.UnknownAttempts != 1 || p.KnownAttempts != 7 {
		t.Errorf("during: timeouts %d, retries %d, unknown %d, known %d; want 1, 7, 1, 7", p.Timeouts, p.Retries, p.UnknownAttempts, p.KnownAttempts)
	}
	if !a.Phases[1].From.Equal(at(2)) || !a.Phases[1].To.Equal(at(15)) || !a.Phases[2].To.Equal(at(26)) {
		t.Errorf("during = [%v, %v), after ends %v", a.Phases[1].From, a.Phases[1].To, a.Phases[2].To)
	}
}

func TestAnalyzeDetectionAndRecovery(t *testing.T) {
	a := known().analyze()
	tests := []struct {
		name string
		got  *time.Duration
		want time.Duration
	}{
		{"fault to first fallback answer", a.FirstFallbackAfterFault, 2 * time.Second},
		{"fault to OPEN", a.OpenAfterFault, 2200 * time.Millisecond},
		{"heal to first backend answer", a.FirstBackendAfterHeal, 9605 * time.Millisecond},
		{"heal to CLOSED", a.ClosedAfterHeal, 9800 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got == nil || absDur(*tt.got-tt.want) > time.Microsecond {
				t.Errorf("got %v, want %v", show(tt.got), tt.want)
			}
		})
	}
	if a.FinalBreaker != results.BreakerClosed || !a.Recovered {
		t.Errorf("final breaker %q, recovered %t; want CLOSED, true", a.FinalBreaker, a.Recovered)
	}
	wantStates := []string{"CLOSED", "OPEN", "HALF_OPEN", "OPEN", "HALF_OPEN", "CLOSED"}
	if len(a.Intervals) != len(wantStates) {
		t.Fatalf("intervals = %+v", a.Intervals)
	}
	for i, iv := range a.Intervals {
		if iv.State != wantStates[i] {
			t.Errorf("interval %d is %s, want %s", i, iv.State, wantStates[i])
		}
	}
	if !a.Intervals[0].From.Equal(t0) || !a.Intervals[5].To.Equal(at(26)) {
		t.Errorf("timeline spans %v..%v, want t0..+26s", a.Intervals[0].From, a.Intervals[5].To)
	}
	if a.Transitions[0].At != 4200*time.Millisecond {
		t.Errorf("first transition at %v, want 4.2s", a.Transitions[0].At)
	}
}

func TestAnalyzeRetryWaits(t *testing.T) {
	a := known().analyze()
	want := []RetryWaits{
		{N: 1, Count: 4, Min: ms(600), Median: ms(1000), Max: ms(1502.5), Expected: time.Second, Low: ms(500), High: ms(1500), Above: 1},
		{N: 2, Count: 3, Min: ms(900), Median: ms(1500), Max: ms(2500), Expected: 2 * time.Second, Low: time.Second, High: 3 * time.Second, Below: 1},
	}
	if len(a.Retries) != len(want) {
		t.Fatalf("retries = %+v", a.Retries)
	}
	for i, w := range want {
		t.Run(w.name(), func(t *testing.T) {
			if a.Retries[i] != w {
				t.Errorf("got %+v\nwant %+v", a.Retries[i], w)
			}
		})
	}
}

func (r RetryWaits) name() string { return "retry #" + string(rune('0'+r.N)) }

func TestScheduleWait(t *testing.T) {
	s := Schedule{Initial: time.Second, Multiplier: 2, Max: 16 * time.Second, Jitter: 0.5}
	tests := []struct {
		n      int
		want   time.Duration
		lo, hi time.Duration
	}{
		{1, time.Second, 500 * time.Millisecond, 1500 * time.Millisecond},
		{3, 4 * time.Second, 2 * time.Second, 6 * time.Second},
		{5, 16 * time.Second, 8 * time.Second, 24 * time.Second},
		{6, 16 * time.Second, 8 * time.Second, 24 * time.Second}, // capped
	}
	for _, tt := range tests {
		t.Run(time.Duration(tt.n).String(), func(t *testing.T) {
			lo, hi := s.Range(tt.n)
			if got := s.Wait(tt.n); got != tt.want || lo != tt.lo || hi != tt.hi {
				t.Errorf("Wait(%d) = %v in [%v, %v]; want %v in [%v, %v]", tt.n, got, lo, hi, tt.want, tt.lo, tt.hi)
			}
		})
	}
}

func TestAnalyzeEdgeCases(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(f *folder)
		check func(t *testing.T, a *Analysis)
	}{
		{"no fault: everything before", func(f *folder) { f.events = nil }, func(t *testing.T, a *Analysis) {
			if a.Phases[0].Requests != len(a.Records) || !a.Phases[1].Empty() || !a.Phases[2].Empty() {
				t.Errorf("phases = %d/%d/%d", a.Phases[0].Requests, a.Phases[1].Requests, a.Phases[2].Requests)
			}
			if a.OpenAfterFault != nil || a.FirstFallbackAfterFault != nil || !hasNote(a, "No fault was recorded") {
				t.Errorf("detection %v %v, notes %q", a.OpenAfterFault, a.FirstFallbackAfterFault, a.Notes)
			}
		}},
		{"fault never removed", func(f *folder) { f.events = f.events[:1] }, func(t *testing.T, a *Analysis) {
			if !a.Phases[2].Empty() || a.Phases[1].Requests != 15 || a.FirstBackendAfterHeal != nil || a.ClosedAfterHeal != nil {
				t.Errorf("during %d, after %d", a.Phases[1].Requests, a.Phases[2].Requests)
			}
			if !hasNote(a, "never removed") {
				t.Errorf("notes %q", a.Notes)
			}
		}},
		{"baseline: no breaker", func(f *folder) {
			f.run.Resilience = results.ResilienceOff
			f.events = f.events[:1:1]
			f.events = append(f.events, faultEv(15, "off"))
		}, func(t *testing.T, a *Analysis) {
			if a.BreakerEnabled || a.FinalBreaker != "" || len(a.Intervals) != 0 || !a.WhileOpen.Empty() {
				t.Errorf("breaker %t %q %v", a.BreakerEnabled, a.FinalBreaker, a.Intervals)
			}
			if !a.Recovered {
				t.Error("the last requests were served by the backend: recovered")
			}
		}},
		{"retry: no breaker, and the chart and findings name the profile", func(f *folder) {
			f.run.Resilience = results.ResilienceRetry
			f.events = f.events[:1:1]
			f.events = append(f.events, faultEv(15, "off"))
		}, func(t *testing.T, a *Analysis) {
			if a.BreakerEnabled {
				t.Error("retry has no breaker")
			}
			svg, err := ChartSVG(a)
			if err != nil || !strings.Contains(svg, "no breaker (RESILIENCE=retry)") || strings.Contains(svg, "RESILIENCE=off") {
				t.Errorf("the breaker band does not name the retry profile (%v)", err)
			}
			if f := breakerFindings(a); len(f) != 1 || !strings.Contains(f[0], "(RESILIENCE=retry)") {
				t.Errorf("findings %q", f)
			}
		}},
		{"breaker never closed: not recovered", func(f *folder) { f.events = f.events[:len(f.events)-1] }, func(t *testing.T, a *Analysis) {
			if a.Recovered || a.ClosedAfterHeal != nil || a.FinalBreaker != results.BreakerHalfOpen {
				t.Errorf("recovered %t, closed %v, final %s", a.Recovered, show(a.ClosedAfterHeal), a.FinalBreaker)
			}
		}},
		{"no run.json, no requests", func(f *folder) { f.run, f.recs, f.journal = nil, nil, nil }, func(t *testing.T, a *Analysis) {
			if a.Total.Requests != 0 || a.Recovered || !hasNote(a, "run.json is missing") || a.Phases[0].P99 != 0 {
				t.Errorf("total %d recovered %t notes %q", a.Total.Requests, a.Recovered, a.Notes)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := edited(tt.edit).analyze()
			tt.check(t, a)
			if _, err := json.Marshal(a); err != nil {
				t.Errorf("the analysis does not encode as JSON: %v", err)
			}
		})
	}
}

// TestLoad reads the known run through a folder: the analysis must be the one made from
// memory, and a folder without its required files is an error naming it.
func TestLoad(t *testing.T) {
	a, err := Load(writeKnown(t))
	if err != nil {
		t.Fatal(err)
	}
	m := known().analyze()
	if !reflect.DeepEqual(a.Phases, m.Phases) || !reflect.DeepEqual(a.Verdict, m.Verdict) || a.Journal == nil ||
		!reflect.DeepEqual(a.Journal.Run, m.Journal.Run) || len(a.Notes) != len(m.Notes) {
		t.Errorf("from the folder: phases %+v verdict %+v notes %q\nfrom memory: phases %+v verdict %+v notes %q",
			a.Phases, a.Verdict, a.Notes, m.Phases, m.Verdict, m.Notes)
	}
	tests := []struct {
		name string
		f    folder
		want string
	}{
		{"empty folder", folder{noEvents: true}, "not a results folder"},
		{"no events", folder{run: known().run, recs: known().recs, noEvents: true}, "events.jsonl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.name != "empty folder" {
				tt.f.write(t, dir)
			}
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestLoadWithoutJournal: a folder without journal.json loads, with a note, and is judged as
// a run whose experiment did not run.
func TestLoadWithoutJournal(t *testing.T) {
	dir := t.TempDir()
	f := known()
	f.journal, f.run.Status = nil, ""
	f.write(t, dir)
	a, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !hasNote(a, "journal.json is missing") || a.Journal != nil {
		t.Errorf("notes %q, journal %v", a.Notes, a.Journal)
	}
	if a.Verdict.Passed || !slices.Equal(a.Verdict.Reasons, []string{"the experiment did not run"}) {
		t.Errorf("verdict %+v, want FAILED: the experiment did not run", a.Verdict)
	}
}

func TestDiffSnapshots(t *testing.T) {
	before := &results.Snapshot{Moment: "before", Services: map[string]results.ServiceSnapshot{
		"client-service": {Running: true, PID: 10, Healthz: 200, Readyz: 200,
			Resilience: []byte(`{"state":"CLOSED","retry":{"calls":3}}`),
			Metrics:    map[string]float64{"client_fallback_responses_total": 0, "gone": 1}},
	}}
	after := &results.Snapshot{Moment: "after", Services: map[string]results.ServiceSnapshot{
		"client-service": {Running: true, PID: 10, Restarts: 1, Healthz: 200, Readyz: 200,
			Resilience: []byte(`{"state":"CLOSED","retry":{"calls":40}}`),
			Metrics:    map[string]float64{"client_fallback_responses_total": 125}},
		"backend-service": {Running: true, PID: 11, Healthz: 200, Readyz: 200},
	}}
	d := DiffSnapshots(before, after)
	if len(d.Services) != 2 || d.Services[0].Name != "backend-service" {
		t.Fatalf("services = %+v", d.Services)
	}
	c := d.Services[1]
	tests := []struct {
		name          string
		list          []Change
		key           string
		before, after string
		delta         float64
		changed       bool
	}{
		{"restarts", c.Fields, "restarts", "0", "1", 1, true},
		{"pid", c.Fields, "pid", "10", "10", math.NaN(), false},
		{"metric", c.Metrics, "client_fallback_responses_total", "0", "125", 125, true},
		{"metric gone", c.Metrics, "gone", "1", "", math.NaN(), true},
		{"resilience field", c.Resilience, "retry.calls", "3", "40", 37, true},
		{"resilience same", c.Resilience, "state", "CLOSED", "CLOSED", math.NaN(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, ok := find(tt.list, tt.key)
			if !ok || ch.Before != tt.before || ch.After != tt.after || ch.Changed != tt.changed {
				t.Fatalf("change = %+v (found %t)", ch, ok)
			}
			if math.IsNaN(tt.delta) != (ch.Delta == nil) || ch.Delta != nil && *ch.Delta != tt.delta {
				t.Errorf("delta = %v, want %v", show(ch.Delta), tt.delta)
			}
		})
	}
}

func TestWriteSummary(t *testing.T) {
	a := known().analyze()
	var b strings.Builder
	WriteSummary(&b, a)
	for _, want := range []string{
		"Network partition: resilience on, status completed",
		"fault: partition on at +2.0s, removed at +15.0s",
		"+4.2s CLOSED -> OPEN", "+24.8s HALF_OPEN -> CLOSED",
		"-> OPEN 2.20 s", "-> CLOSED 9.80 s", "recovered: yes, final breaker CLOSED",
		"87.5%", "while OPEN", "0.86 (1 unknown)", "dropped",
		"latency: from the scheduled arrival, so it includes the load's send lag",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	if last := lastLine(b.String()); last != PassedText {
		t.Errorf("last line %q, want %q", last, PassedText)
	}
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func show[T any](p *T) any {
	if p == nil {
		return "nil"
	}
	return *p
}

func hasNote(a *Analysis, s string) bool {
	for _, n := range a.Notes {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

func find(list []Change, key string) (Change, bool) {
	for _, c := range list {
		if c.Name == key {
			return c, true
		}
	}
	return Change{}, false
}

// failsafe-go logs the move to HALF_OPEN only when the next call arrives after the breaker's
// wait: that call, sent a moment before the line's time stamp, met HALF_OPEN and is not counted
// while OPEN; a slow answer sent during the wait is, however long it took.
func TestWhileOpenEndsWithTheWait(t *testing.T) {
	const f = results.SourceFallback
	a := edited(func(fo *folder) {
		fo.recs = append(fo.recs,
			rec(14.25, time.Second, f, 1), // the wait (4.2s + 10s) ran out at +14.2s: a HALF_OPEN trial logged at +14.3s
			rec(6.0, 2*time.Second, f, 0), // sent while OPEN and slow: counted
		)
		slices.SortFunc(fo.recs, func(x, y results.Record) int { return x.Start.Compare(y.Start) })
	}).analyze()
	if a.WhileOpen.Requests != 6 || a.WhileOpen.Max != 2*time.Second {
		t.Errorf("while OPEN: %d requests, max %v; want 6, 2s (the trial sent after the wait left out)", a.WhileOpen.Requests, a.WhileOpen.Max)
	}
	lagged := edited(func(fo *folder) {
		r := rec(14.19, time.Second, f, 1) // scheduled inside the wait, sent after it: the send counts
		r.SendLag = 20 * time.Millisecond
		fo.recs = append(fo.recs, r)
		slices.SortFunc(fo.recs, func(x, y results.Record) int { return x.Start.Compare(y.Start) })
	}).analyze()
	if lagged.WhileOpen.Requests != 5 {
		t.Errorf("while OPEN with a lagged send: %d requests, want 5", lagged.WhileOpen.Requests)
	}
	letThrough := edited(func(fo *folder) {
		fo.recs = append(fo.recs, rec(9.0, 50*time.Millisecond, f, 1)) // inside the wait by the stamps, yet it called the backend
		slices.SortFunc(fo.recs, func(x, y results.Record) int { return x.Start.Compare(y.Start) })
	}).analyze()
	if letThrough.WhileOpen.Requests != 5 {
		t.Errorf("while OPEN with a request the breaker let through: %d requests, want 5", letThrough.WhileOpen.Requests)
	}
}
