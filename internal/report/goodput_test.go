package report

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/results"
)

// trigger is a hand-made run of the goodput around a trigger: 10 rps from +1.0 s to +14.9 s,
// the load's timeout 1 s, the fault on at +4 s and off at +6 s. By second (the grid starts at
// the removal, +6 s):
//
//	[1,2) 10 good                                   [6,7)  0 good (10 errors)
//	[2,3)  9 good, 1 backend answer past the 1 s     [7,8)  4 good, 6 errors
//	[3,4)  8 good, 1 fallback, 1 dropped             [8,9)  9 good, 1 error
//	[4,5)  0 good (10 fallbacks)                     [9,15) 10 good each
//	[5,6)  1 good: +5.9 s answered by the backend in 200 ms (counted at its arrival, not at +6.1 s)
//
// So before = (10+9+8)/3 = 9/s; after the removal the seconds read 0, 4, 9, 10, ... .
func trigger(after func(tenth int) string) folder {
	f := known()
	f.run.RPS, f.run.LoadTimeout = 10, results.Duration(time.Second)
	f.recs = nil
	for i := 10; i < 150; i++ {
		src, lat := results.SourceBackend, ms(3)
		switch {
		case i == 25:
			lat = 1500 * time.Millisecond // a backend answer, but after the deadline
		case i == 35:
			src = results.SourceFallback
		case i == 36:
			src = results.SourceDropped
		case i >= 40 && i < 60 && i != 59:
			src = results.SourceFallback
		case i == 59:
			lat = 200 * time.Millisecond
		case i >= 60:
			src = after(i)
		}
		f.recs = append(f.recs, rec(float64(i)/10, lat, src, 1))
	}
	f.events = []results.Event{faultEv(4, "on"), faultEv(6, "off")}
	return f
}

// recovering is trigger's run whose goodput comes back: 0, 4, 9, then 10 a second.
func recovering(i int) string {
	switch {
	case i < 70, i >= 70 && i < 80 && i%10 >= 4, i == 89:
		return results.SourceError
	}
	return results.SourceBackend
}

// The goodput per second and the figures around the trigger, against trigger's hand count.
func TestGoodputAroundATrigger(t *testing.T) {
	a := trigger(recovering).analyze()
	g := a.Goodput
	type sec struct{ k, offered, good int }
	want := []sec{{-5, 10, 10}, {-4, 10, 9}, {-3, 10, 8}, {-2, 10, 0}, {-1, 10, 1}, {0, 10, 0}, {1, 10, 4}, {2, 10, 9}}
	for k := 3; k <= 8; k++ {
		want = append(want, sec{k, 10, 10})
	}
	var got []sec
	for _, s := range g.Seconds {
		got = append(got, sec{s.K, s.Offered, s.Good})
		if !s.From.Equal(at(6).Add(time.Duration(s.K) * time.Second)) {
			t.Errorf("second %d starts at %v, want the removal + %d s", s.K, s.From, s.K)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("seconds (k, offered, good) = %v\nwant %v", got, want)
	}
	if g.Deadline != time.Second || !g.Anchor.Equal(at(6)) {
		t.Errorf("deadline %v, anchor %v; want the load's 1 s timeout and the removal", g.Deadline, g.Anchor)
	}
	if g.Before == nil || *g.Before != 9 || g.BeforeSeconds != 3 || g.After != 9*time.Second {
		t.Errorf("before %v over %d s, after %v; want 9/s over 3 s, 9 s measured", g.Before, g.BeforeSeconds, g.After)
	}
	// The defaults need 30 s after the removal: the run has 9.
	if g.Stuck != nil || g.BackTo95 == nil || *g.BackTo95 != 2*time.Second || !strings.Contains(g.Why, "stuck needs 30 s after the fault's removal, the run measured 9 s") {
		t.Errorf("stuck %v, back %v, why %q; want stuck not measured, back at 2 s", g.Stuck, g.BackTo95, g.Why)
	}

	tests := []struct {
		name     string
		p        GoodputParams
		stuck    *bool
		back     *time.Duration
		notBack  bool
		whyParts []string
	}{
		{"3 s: the third second (9) is above half of 9", GoodputParams{0.5, 3 * time.Second, 0.95, 5 * time.Second}, ptr(false), ptr(2 * time.Second), false, nil},
		{"2 s: 0 and 4 are both below 4.5", GoodputParams{0.5, 2 * time.Second, 0.95, 5 * time.Second}, ptr(true), ptr(2 * time.Second), false, nil},
		{"back at 100 %: the third second's 9 is", GoodputParams{0.5, 2 * time.Second, 1, 5 * time.Second}, ptr(true), ptr(2 * time.Second), false, nil},
		{"back at 105 %: from the fourth second", GoodputParams{0.5, 2 * time.Second, 1.05, 5 * time.Second}, ptr(true), ptr(3 * time.Second), false, nil},
		{"back at 40 %: the second second's 4 is 44 %", GoodputParams{0.5, 2 * time.Second, 0.4, time.Second}, ptr(true), ptr(time.Second), false, nil},
		{"longer than measured", GoodputParams{0.5, 10 * time.Second, 0.95, 10 * time.Second}, nil, nil, false,
			[]string{"stuck needs 10 s after the fault's removal, the run measured 9 s", "back to 95 % needs 10 s after the fault's removal, the run measured 9 s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := GoodputOf(a, tt.p)
			if !reflect.DeepEqual(g.Stuck, tt.stuck) || !reflect.DeepEqual(g.BackTo95, tt.back) || g.NotBack != tt.notBack {
				t.Errorf("stuck %v, back %v, not back %t; want %v, %v, %t", deref(g.Stuck), deref(g.BackTo95), g.NotBack, deref(tt.stuck), deref(tt.back), tt.notBack)
			}
			for _, w := range tt.whyParts {
				if !strings.Contains(g.Why, w) {
					t.Errorf("why = %q, lacks %q", g.Why, w)
				}
			}
			if tt.whyParts == nil && g.Why != "" {
				t.Errorf("why = %q, want everything measured", g.Why)
			}
		})
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// A goodput that never comes back: stuck, and not back within what was measured.
func TestGoodputStuck(t *testing.T) {
	a := trigger(func(int) string { return results.SourceError }).analyze()
	g := GoodputOf(a, GoodputParams{0.5, 5 * time.Second, 0.95, 5 * time.Second})
	if g.Stuck == nil || !*g.Stuck || g.BackTo95 != nil || !g.NotBack || g.Why != "" {
		t.Errorf("stuck %v, back %v, not back %t, why %q; want stuck, never back, all measured", deref(g.Stuck), deref(g.BackTo95), g.NotBack, g.Why)
	}
	if v, ok := goodputStuck(&Analysis{Goodput: g}); !ok || v != 1 {
		t.Errorf("the stuck objective's figure = %v, %t; want 1", v, ok)
	}
}

// Without a removal, or without a level before it, nothing relative to the trigger is
// measured; the seconds still are.
func TestGoodputNotMeasured(t *testing.T) {
	tests := []struct {
		name string
		edit func(*folder)
		why  string
	}{
		{"no fault", func(f *folder) { f.events = nil }, "no fault was recorded"},
		{"never removed", func(f *folder) { f.events = f.events[:1] }, "the fault was never removed"},
		{"nothing good before", func(f *folder) {
			for i := range f.recs {
				if f.recs[i].Start.Before(at(4)) {
					f.recs[i].Source = results.SourceError
				}
			}
		}, "no good answer before the fault"},
		{"the fault at the load's start", func(f *folder) { f.events[0].Time = at(1.5) }, "no whole second of load before the fault"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := trigger(recovering)
			tt.edit(&f)
			g := f.analyze().Goodput
			if g.Stuck != nil || g.BackTo95 != nil || g.NotBack || !strings.Contains(g.Why, tt.why) || len(g.Seconds) == 0 {
				t.Errorf("stuck %v, back %v, not back %t, why %q, %d seconds; want nothing measured because %q",
					deref(g.Stuck), deref(g.BackTo95), g.NotBack, g.Why, len(g.Seconds), tt.why)
			}
		})
	}
}

// samples are capacity readings at +0.5 s, +1.5 s, ...: queued and rejected rise during the
// fault; at +9.5 s the backend has restarted (its counters start again).
func samples() []results.CapacitySample {
	type v struct {
		queued, service              int
		rejected, expired, completed int64
		wasted                       int64
	}
	vals := []v{
		{0, 0, 0, 0, 0, 0}, {0, 1, 0, 0, 10, 0}, {1, 2, 0, 0, 20, 0}, {3, 2, 0, 0, 29, 1},
		{50, 2, 12, 0, 33, 5}, {100, 2, 40, 3, 37, 9}, {80, 2, 60, 4, 45, 12}, {10, 2, 61, 4, 55, 13},
		{0, 1, 61, 4, 65, 13}, {0, 1, 0, 0, 7, 0}, {0, 0, 0, 0, 17, 0},
	}
	var out []results.CapacitySample
	for i, x := range vals {
		out = append(out, results.CapacitySample{Time: at(0.5 + float64(i)), Workers: 2, QueueLimit: 100, QueueOrder: "fifo", ServiceTime: "5ms", Factor: 1,
			Queued: x.queued, InService: x.service, Rejected: x.rejected, Expired: x.expired, Completed: x.completed, Wasted: x.wasted})
	}
	return out
}

// The counters' totals and rates between samples, a restart included, against the hand count.
func TestCapacityStats(t *testing.T) {
	c := capacityOf(samples())
	// Before the restart: 61 rejected, 4 expired, 65 completed, 13 wasted; after it: 17 completed.
	if c.Rejected != 61 || c.Expired != 4 || c.Completed != 82 || c.Wasted != 13 || c.Restarts != 1 || c.MaxQueued != 100 || c.MaxInService != 2 {
		t.Errorf("totals %d rejected, %d expired, %d completed, %d wasted, %d restarts, max queue %d, in service %d",
			c.Rejected, c.Expired, c.Completed, c.Wasted, c.Restarts, c.MaxQueued, c.MaxInService)
	}
	if c.Points[0].Rates || !c.Points[1].Rates {
		t.Error("the first sample has no rates, every other has")
	}
	if p := c.Points[5]; p.RejectedPerS != 28 || p.WastedPerS != 4 || p.ExpiredPerS != 3 || p.CompletedPerS != 4 || p.Queued != 100 {
		t.Errorf("sample 5: %+v; want 28 rejected/s, 4 wasted/s, 3 expired/s, 4 completed/s, 100 queued", p)
	}
	if p := c.Points[9]; !p.Restarted || p.CompletedPerS != 7 || p.RejectedPerS != 0 {
		t.Errorf("sample 9, after the restart: %+v; want restarted, 7 completed/s (the new process's), 0 rejected/s", p)
	}
	if capacityOf(nil) != nil {
		t.Error("no samples: no capacity stats")
	}
}

// capacityRun is trigger's recovering run with the backend's capacity sampled, its load spread
// over the chain edge -> mid -> backend when topo is set, mid's breaker opening in the fault.
func capacityRun(topo bool) folder {
	f := trigger(recovering)
	f.run.Objectives = map[string]float64{objHealToGoodput: 5, objGoodputStuck: 0}
	f.samples = samples()
	if topo {
		f.run.Topology = &results.Topology{Name: "pair-chain", Entries: []string{"edge"}, Layers: [][]string{{"edge"}, {"mid"}, {"backend"}},
			Tiers: []results.Tier{{Name: "edge", Calls: "mid", Env: map[string]string{"RESILIENCE": "retry"}}, {Name: "mid", Calls: "backend"}}}
		f.events = append(f.events, results.Event{Time: at(4.5), Kind: results.KindBreaker, Tier: "mid", From: "CLOSED", To: "OPEN"},
			results.Event{Time: at(8.5), Kind: results.KindBreaker, Tier: "mid", From: "OPEN", To: "CLOSED"})
	} else {
		f.events = append(f.events, breakerEv(4.5, "CLOSED", "OPEN"), breakerEv(8.5, "OPEN", "CLOSED"))
	}
	return f
}

// With capacity samples the goodput and the capacity reach report.md, report.html (its chart
// with every series and a band per tier), summary.json and the terminal summary; the goodput
// objectives are judged.
func TestGoodputRendered(t *testing.T) {
	a := capacityRun(false).analyze()
	dir := t.TempDir()
	if err := RenderAnalysis(dir, a); err != nil {
		t.Fatal(err)
	}
	md := string(readTest(t, filepath.Join(dir, results.ReportMarkdown)))
	for _, want := range []string{
		"### 4.7 Goodput and the backend's capacity",
		"| goodput before the fault | 9.0/s | mean of the 3 whole seconds before the fault |",
		"| stuck | not measured | goodput below 50 % of before in each of the first 30 s after the heal |",
		"| heal → goodput back to 95 % | 2 s |",
		"| not measured | stuck needs 30 s after the fault's removal, the run measured 9 s |",
		"| completed | 82 |", "| wasted | 13 |", "| rejected | 61 |", "| largest queue sampled | 100 | in service at most 2 |",
		"| restarts | 1 |",
		"Over time, 1 s a row",
		"| +1.0s | 10.0/s | 10.0/s | 0 | 1 | 0.0/s | 0.0/s | 0.0/s |",
		"| +5.0s | 10.0/s | 1.0/s | 100 | 2 | 28.0/s | 4.0/s | 3.0/s |",
		"| `heal_to_goodput_95_max_s` |", "| 2.00 s | <= 5.00 s | met |",
		"| `goodput_stuck_after_max` |", "| not measured | <= 0 (no) | **FAILED** |",
		"- Goodput (a run whose backend had its capacity model on",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	html := string(readTest(t, filepath.Join(dir, results.ReportHTML)))
	for _, series := range []string{"goodput", "offered", "queued", "in-service", "rejected", "wasted", "expired"} {
		if !regexp.MustCompile(`<polyline data-series="` + series + `" data-points="\d+" points="[0-9., ]+"`).MatchString(html) {
			t.Errorf("report.html lacks the %s series", series)
		}
	}
	for _, want := range []string{`data-series="goodput" data-points="14"`, `data-series="queued" data-points="11"`, `data-series="rejected" data-points="10"`,
		`data-seconds="14" data-samples="11"`, `<g class="band" data-tier="breaker">`, "<h3>4.7 Goodput and the backend's capacity</h3>",
		"back to 95 % at heal &#43;2s", ">before: 9.0/s<"} {
		if !strings.Contains(html, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	s, err := ReadSummaryJSON(filepath.Join(dir, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, NewSummary(a)) {
		t.Error("summary.json does not read back as written")
	}
	g, c := s.Goodput, s.Capacity
	if g == nil || c == nil {
		t.Fatalf("summary.json goodput %v, capacity %v; want both", g, c)
	}
	if *g.BeforePerS != 9 || g.Stuck != nil || *g.BackTo95MS != 2000 || *g.DeadlineMS != 1000 || g.StuckForMS != 30000 || g.BackHoldMS != 5000 ||
		g.AfterMeasuredMS != 9000 || len(g.Seconds) != 14 || g.Seconds[0] != (SummaryGoodputSecond{AtMS: 1000, Offered: 10, Good: 10}) || g.Seconds[6].Good != 4 {
		t.Errorf("summary goodput = %+v", *g)
	}
	if c.Completed != 82 || c.Wasted != 13 || c.Restarts != 1 || c.Workers != 2 || len(c.Samples) != 11 || c.Samples[0].RejectedPerS != nil ||
		*c.Samples[5].RejectedPerS != 28 || c.Samples[5].AtMS != 5500 {
		t.Errorf("summary capacity = %+v", *c)
	}
	var term bytes.Buffer
	WriteSummary(&term, a)
	for _, want := range []string{
		"goodput (backend answers 200 in time, per second of scheduled arrival): before the fault 9.0/s; after the heal: stuck not measured, back to 95 % 2 s\n",
		"goodput not measured: stuck needs 30 s after the fault's removal, the run measured 9 s\n",
		"backend capacity (11 samples): completed 82, wasted 13, rejected 61, expired 4; largest queue 100, in service 2\n",
	} {
		if !strings.Contains(term.String(), want) {
			t.Errorf("terminal summary lacks %q:\n%s", want, term.String())
		}
	}
}

// With a topology the chart has one breaker band per tier, highest layer first, each from its
// own records; a tier without a breaker says so.
func TestGoodputChartBandsPerTier(t *testing.T) {
	a := capacityRun(true).analyze()
	if len(a.TierBreakers) != 2 {
		t.Fatalf("tier breakers = %+v", a.TierBreakers)
	}
	edge, mid := a.TierBreakers[0], a.TierBreakers[1]
	if edge.Tier != "edge" || edge.Enabled || mid.Tier != "mid" || !mid.Enabled || len(mid.Intervals) != 3 || mid.Intervals[1].State != results.BreakerOpen ||
		!mid.Intervals[1].From.Equal(at(4.5)) || !mid.Intervals[1].To.Equal(at(8.5)) {
		t.Errorf("edge %+v, mid %+v", edge, mid)
	}
	svg, err := CapacityChartSVG(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<g class="band" data-tier="edge"><rect class="b-none"`, `<g class="band" data-tier="mid"><rect class="b-closed"`, `class="b-open"`} {
		if !strings.Contains(svg, want) {
			t.Errorf("the chart lacks %q", want)
		}
	}
	if strings.Index(svg, `data-tier="edge"`) > strings.Index(svg, `data-tier="mid"`) {
		t.Error("the bands are not in layer order")
	}
}

// A run without capacity samples or goodput objectives shows none of it (the goldens of
// unchanged_test.go check every byte); one with a goodput objective alone shows the goodput.
func TestGoodputShownOnlyWhenAsked(t *testing.T) {
	a := known().analyze()
	if a.ShowsGoodput() || NewSummary(a).Goodput != nil || a.Goodput == nil {
		t.Errorf("known(): shows %t, summary %v; want the goodput computed but not shown", a.ShowsGoodput(), NewSummary(a).Goodput)
	}
	if svg, err := CapacityChartSVG(a); svg != "" || err != nil {
		t.Errorf("capacity chart without capacity = %q, %v", svg, err)
	}
	f := trigger(recovering)
	f.run.Objectives = map[string]float64{objHealToGoodput: 1}
	a = f.analyze()
	if !a.ShowsGoodput() || NewSummary(a).Goodput == nil || NewSummary(a).Capacity != nil {
		t.Error("a goodput objective shows the goodput (and no capacity)")
	}
	if o := a.Objectives[0]; o.Value == nil || *o.Value != 2 || o.Passed {
		t.Errorf("heal_to_goodput_95_max_s = %+v; want 2 s against 1 s, failed", o)
	}
	dir := t.TempDir()
	if err := RenderAnalysis(dir, a); err != nil {
		t.Fatal(err)
	}
	if md := string(readTest(t, filepath.Join(dir, results.ReportMarkdown))); !strings.Contains(md, "| heal → goodput back to 95 % | 2 s |") || strings.Contains(md, "| completed |") {
		t.Error("report.md: want the goodput without the backend's capacity")
	}
}

// A folder written with capacity.csv reads back to the same analysis (chaoslab report DIR).
func TestGoodputFromTheFolder(t *testing.T) {
	f := capacityRun(false)
	dir := t.TempDir()
	f.write(t, dir)
	if _, err := os.Stat(filepath.Join(dir, results.CapacityFile)); err != nil {
		t.Fatal(err)
	}
	a, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	mem := f.analyze()
	if a.Capacity == nil || a.Capacity.Completed != mem.Capacity.Completed || !reflect.DeepEqual(a.Goodput.Seconds, mem.Goodput.Seconds) {
		t.Errorf("from the folder: capacity %+v, want the analysis from memory's", a.Capacity)
	}
}

// A compare report shows each run's goodput under its label, and its chart on the shared axis.
func TestGoodputInACompare(t *testing.T) {
	var runs []ProfileRun
	for _, p := range DefaultProfiles()[1:] {
		f := capacityRun(false)
		f.run.Resilience, f.run.Label = p.Resilience, p.Label
		runs = append(runs, ProfileRun{Profile: p, A: f.analyze()})
	}
	dir := t.TempDir()
	for _, r := range runs {
		if err := os.MkdirAll(filepath.Join(dir, r.Profile.Dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := RenderCompare(dir, runs); err != nil {
		t.Fatal(err)
	}
	md := string(readTest(t, filepath.Join(dir, results.ReportMarkdown)))
	for _, r := range runs {
		if want := "### 4.7 Goodput and the backend's capacity (" + r.Profile.Label + ")"; !strings.Contains(md, want) {
			t.Errorf("the compare's report.md lacks %q", want)
		}
	}
	if html := string(readTest(t, filepath.Join(dir, results.ReportHTML))); strings.Count(html, `class="timeline capacity"`) != len(runs) {
		t.Errorf("the compare's report.html has %d capacity charts, want %d", strings.Count(html, `class="timeline capacity"`), len(runs))
	}
}

// A run that recorded its own goodput windows (RunInfo.GoodputStuckFor, GoodputBackHold) is
// judged with them, from memory and from its folder alike, and summary.json says them; the
// same run without them has too few seconds after the removal for the default 30 s.
func TestGoodputWindowsOfTheRun(t *testing.T) {
	f := trigger(func(int) string { return results.SourceError }) // 9 s after the removal, none good
	f.samples = samples()                                         // the backend's capacity model: summary.json shows the goodput
	if g := f.analyze().Goodput; g.Stuck != nil || !strings.Contains(g.Why, "stuck needs 30 s") {
		t.Fatalf("default windows: stuck %v, why %q; want not measured, needing 30 s", deref(g.Stuck), g.Why)
	}
	f.run.GoodputStuckFor, f.run.GoodputBackHold = results.Duration(5*time.Second), results.Duration(2*time.Second)
	dir := t.TempDir()
	f.write(t, dir)
	fromDisk, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range map[string]*Analysis{"memory": f.analyze(), "folder": fromDisk} {
		g := a.Goodput
		if g.Params.StuckFor != 5*time.Second || g.Params.BackHold != 2*time.Second || g.Params.StuckBelow != 0.5 || g.Params.BackAt != 0.95 {
			t.Errorf("%s: params %+v, want the run's windows and the default shares", name, g.Params)
		}
		if g.Stuck == nil || !*g.Stuck || !g.NotBack || g.Why != "" {
			t.Errorf("%s: stuck %v, not back %t, why %q; want stuck and never back, measured", name, deref(g.Stuck), g.NotBack, g.Why)
		}
		s := NewSummary(a).Goodput
		if s == nil || s.StuckForMS != 5000 || s.BackHoldMS != 2000 {
			t.Errorf("%s: summary goodput %+v, want stuck_for_ms 5000 and back_hold_ms 2000", name, s)
		}
	}
	if err := RenderAnalysis(dir, fromDisk); err != nil {
		t.Fatal(err)
	}
	md := string(readTest(t, filepath.Join(dir, results.ReportMarkdown)))
	if !strings.Contains(md, "each of the first 5 s after the removal") || !strings.Contains(md, "first 2 s in a row") || strings.Contains(md, "first 30 s") {
		t.Error("report.md: want the definition with the run's windows (5 s, 2 s)")
	}
}

// An overloaded backend serves the last requests once the load has stopped feeding it: those
// seconds are left off, so goodput does not seem to come back when only the load went away.
// trigger's run with a 20 s load timeout, every request after the removal an error except
// those of +12 s to +15 s, answered in 2.5 s: the load's last arrival is +14.9 s, so the
// answers to requests sent after +13.4 s came more than a second after it ([13,15) left off),
// and those of [12,13) by +15.4 s, while the load was still there (kept).
func TestGoodputLeavesOffAnswersAfterTheLoad(t *testing.T) {
	f := trigger(func(i int) string {
		if i >= 120 {
			return results.SourceBackend
		}
		return results.SourceError
	})
	f.run.LoadTimeout = results.Duration(20 * time.Second)
	f.run.Objectives = map[string]float64{objHealToGoodput: 5} // the summaries show the goodput
	for i := range f.recs {
		if f.recs[i].Start.Sub(at(0)) >= 12*time.Second {
			f.recs[i].Latency = 2500 * time.Millisecond
		}
	}
	a := f.analyze()
	p := GoodputParams{StuckBelow: 0.5, StuckFor: 3 * time.Second, BackAt: 0.95, BackHold: 2 * time.Second}
	g := GoodputOf(a, p)
	if g.LeftOff != 2 || len(g.Seconds) == 0 || g.Seconds[len(g.Seconds)-1].K != 6 || g.After != 7*time.Second {
		t.Fatalf("left off %d, seconds %+v, after %v; want [13,15) left off, the last second k=6, 7 s after", g.LeftOff, g.Seconds, g.After)
	}
	if g.Stuck == nil || !*g.Stuck || g.BackTo95 != nil || !g.NotBack {
		t.Errorf("stuck %v, back %v, not back %t; want stuck and never back", deref(g.Stuck), deref(g.BackTo95), g.NotBack)
	}
	var term strings.Builder
	writeGoodput(&term, a)
	if !strings.Contains(term.String(), "goodput: the last 2 s of load left off") {
		t.Errorf("the terminal summary does not say what it left off:\n%s", term.String())
	}
	if sj := newSummaryGoodput(a); sj == nil || sj.LeftOffSeconds != 2 {
		t.Errorf("summary.json's goodput = %+v, want left_off_seconds 2", sj)
	}
	// The same run whose answers came in time (200 ms) keeps every second, and is back at k=6.
	for i := range f.recs {
		if f.recs[i].Start.Sub(at(0)) >= 12*time.Second {
			f.recs[i].Latency = 200 * time.Millisecond
		}
	}
	g = GoodputOf(f.analyze(), p)
	if g.LeftOff != 0 || g.BackTo95 == nil || *g.BackTo95 != 6*time.Second {
		t.Errorf("left off %d, back %v; want nothing left off, back at 6 s", g.LeftOff, deref(g.BackTo95))
	}
}
