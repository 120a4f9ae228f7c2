package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/report"
)

var (
	small = Trigger{Factor: 2, Duration: 10 * time.Second}
	big   = Trigger{Factor: 4, Duration: 10 * time.Second}
	retry = SweepProfile{Resilience: "retry", NoDeadline: true}
	adapt = SweepProfile{Resilience: "adaptive"}
)

func f64(v float64) *float64 { return &v }

// measured is a measured run: stuck or not, back after back (negative: never), with calls and
// answered share.
func measured(t Trigger, p SweepProfile, seed int64, stuck bool, back time.Duration, calls, answered float64) SweepRun {
	r := SweepRun{Trigger: t, Profile: p, Seed: seed, Measured: true, Stuck: stuck, CallsAfter: f64(calls), AnsweredAfter: f64(answered)}
	if back >= 0 {
		r.BackTo95 = ptr(back)
	}
	return r
}

// The cells count the runs by hand: stuck over measured only; a run not measured or failed is
// counted apart, with its reason, and none of its figures reach the medians.
func TestCells(t *testing.T) {
	runs := []SweepRun{
		measured(big, retry, 1, true, -1, 5, 0.2),
		measured(big, retry, 2, true, 40*time.Second, 6, 0.3),
		measured(big, retry, 3, false, 2*time.Second, 1.5, 0.9),
		{Trigger: big, Profile: retry, Seed: 4, NotMeasured: "stuck needs 30 s after the fault's removal, the run measured 12 s",
			BackTo95: ptr(time.Hour), CallsAfter: f64(100), AnsweredAfter: f64(0)}, // figures that must not count
		{Trigger: big, Profile: retry, Seed: 5, Failed: "the stack did not start"},
		measured(big, adapt, 1, false, 0, 1.1, 1),
		measured(big, adapt, 2, false, time.Second, 1.2, 1),
		measured(small, adapt, 1, false, 0, 1, 1),
	}
	cells := Cells([]Trigger{small, big}, []SweepProfile{retry, adapt}, runs)
	if len(cells) != 4 || cells[0].Trigger != small || cells[0].Profile != retry || cells[3].Trigger != big || cells[3].Profile != adapt {
		t.Fatalf("cells in the wrong order: %+v", cells)
	}
	if c := cells[0]; c.Runs != 0 || c.Measured != 0 {
		t.Errorf("a cell without runs: %+v", c)
	} else if _, ok := c.PStuck(); ok || c.Tipped() {
		t.Error("a cell without a measured run has a P(stuck)")
	}
	c := cells[2]
	want := Cell{Trigger: big, Profile: retry, Runs: 5, Failed: 1, NotMeasured: 1, Measured: 3, Stuck: 2, Back: 2,
		BackMedian: ptr(21 * time.Second), BackMax: ptr(40 * time.Second), CallsMedian: f64(5), CallsMax: f64(6), AnsweredMedian: f64(0.3),
		NotMeasuredWhy: []string{"stuck needs 30 s after the fault's removal, the run measured 12 s", "failed: the stack did not start"}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("retry at 4x:\n got %+v\nwant %+v", c, want)
	}
	if p, ok := c.PStuck(); !ok || p != 2.0/3 || !c.Tipped() {
		t.Errorf("P(stuck) = %v, %t, tipped %t; want 2/3, tipped", p, ok, c.Tipped())
	}
	if row := SweepRow(c); !regexp.MustCompile(`^4x for 10s +retry:nodeadline +0\.67 +2/3 +2 \(1 failed\) +2/3 +21\.00 s +40\.00 s +5\.00 \[6\.00\] +30\.0 %$`).MatchString(row) {
		t.Errorf("row: %q", row)
	}
	if row := SweepRow(cells[3]); !strings.Contains(row, " 0.00 ") || !strings.Contains(row, " 500.0 ms ") || !strings.Contains(row, " 1.00 s ") {
		t.Errorf("adaptive's row: %q; want P 0.00 and back median 500 ms, max 1 s", row)
	}
	if row := SweepRow(cells[0]); !strings.Contains(row, " n/a ") || !strings.Contains(row, " 0/0 ") {
		t.Errorf("an empty cell's row: %q", row)
	}
}

// The tipping point is the first trigger in the axis' order with P(stuck) >= 0.5.
func TestTipping(t *testing.T) {
	huge := Trigger{Factor: 8, Duration: 10 * time.Second}
	runs := []SweepRun{
		measured(small, retry, 1, false, 0, 1, 1), measured(small, retry, 2, true, -1, 5, 0.2), measured(small, retry, 3, false, 0, 1, 1), // 1/3
		measured(big, retry, 1, true, -1, 5, 0.2), measured(big, retry, 2, false, 0, 1, 1), // 1/2: tips
		measured(huge, retry, 1, true, -1, 5, 0.2),
		measured(huge, adapt, 1, false, 0, 1, 1),
		{Trigger: big, Profile: adapt, Seed: 1, NotMeasured: "no level"}, // nothing measured: no tip
	}
	cells := Cells([]Trigger{small, big, huge}, []SweepProfile{retry, adapt}, runs)
	if got := Tipping(cells, retry); got == nil || *got != big {
		t.Errorf("retry tips at %v, want %v", got, big)
	}
	if got := Tipping(cells, adapt); got != nil {
		t.Errorf("adaptive tips at %v, want none", *got)
	}
	lines := TippingLines(cells, []SweepProfile{retry, adapt})
	if want := []string{"tipping point of retry:nodeadline: 4x for 10s", "tipping point of adaptive: none in this sweep"}; !reflect.DeepEqual(lines, want) {
		t.Errorf("tipping lines %q, want %q", lines, want)
	}
}

// A run's figures are its summary's: goodput.stuck and back_to_95_ms, the last layer's calls
// after, phases.after.answered_200; a run in which the lab saw a problem, or whose stuck is null,
// is not measured, with the reason.
func TestSweepRunOf(t *testing.T) {
	stuck, notStuck := true, false
	summary := func(edit func(*report.Summary)) report.Summary {
		s := report.Summary{Goodput: &report.SummaryGoodput{Stuck: &notStuck, BackTo95MS: f64(3000), BeforePerS: f64(20)},
			Layers: []report.SummaryLayer{{Name: "client"}, {Name: "backend", After: report.SummaryLayerPhase{Requests: 10, Calls: 13, PerRequest: f64(1.3)}}}}
		s.Phases.After.Answered200 = f64(0.9)
		if edit != nil {
			edit(&s)
		}
		return s
	}
	base := SweepRun{Trigger: big, Profile: retry, Seed: 3, Dir: "x4-10s/retry-nodeadline/seed-3"}
	tests := []struct {
		name string
		s    report.Summary
		want SweepRun
	}{
		{"recovered", summary(nil), SweepRun{Measured: true, BackTo95: ptr(3 * time.Second), BeforePerS: f64(20), CallsAfter: f64(1.3), AnsweredAfter: f64(0.9)}},
		{"stuck, never back", summary(func(s *report.Summary) { s.Goodput.Stuck, s.Goodput.BackTo95MS, s.Goodput.NotBack = &stuck, nil, true }),
			SweepRun{Measured: true, Stuck: true, BeforePerS: f64(20), CallsAfter: f64(1.3), AnsweredAfter: f64(0.9)}},
		{"stuck not measured", summary(func(s *report.Summary) { s.Goodput.Stuck, s.Goodput.NotMeasured = nil, "stuck needs 30 s" }),
			SweepRun{NotMeasured: "stuck needs 30 s"}},
		{"a problem in the lab", summary(func(s *report.Summary) { s.Journal.Problems = []string{"backend-service exited"} }),
			SweepRun{NotMeasured: "the lab saw a problem: backend-service exited"}},
		{"interrupted", summary(func(s *report.Summary) { s.Journal.Interrupted = true }), SweepRun{NotMeasured: "interrupted"}},
		{"no goodput", summary(func(s *report.Summary) { s.Goodput = nil }),
			SweepRun{NotMeasured: "no goodput in the summary (the backend ran without its capacity model)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			want.Trigger, want.Profile, want.Seed, want.Dir = base.Trigger, base.Profile, base.Seed, base.Dir
			if got := sweepRunOf(base, tt.s); !reflect.DeepEqual(got, want) {
				t.Errorf("\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseSweepProfiles(t *testing.T) {
	got, err := ParseSweepProfiles("retry,retry:nodeadline, on,adaptive:nodeadline")
	want := []SweepProfile{{"retry", false}, {"retry", true}, {"on", false}, {"adaptive", true}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, %v; want %v", got, err, want)
	}
	if got[1].String() != "retry:nodeadline" || got[1].dir() != "retry-nodeadline" {
		t.Errorf("names %q, %q", got[1].String(), got[1].dir())
	}
	for in, msg := range map[string]string{"retry,bogus": `"bogus" is not a profile`, "on,on": "on is listed twice",
		"retry:nodeadline,retry:nodeadline": "retry:nodeadline is listed twice", "on:deadline": `"on:deadline" is not a profile`} {
		if _, err := ParseSweepProfiles(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: err %v, want %q", in, err, msg)
		}
	}
}

// The runs go trigger by trigger, seed by seed, each seed's profiles in turn; the axis is
// sorted by factor, then duration.
func TestPlan(t *testing.T) {
	ts := Triggers([]float64{4, 2}, []time.Duration{10 * time.Second, 5 * time.Second})
	if want := []Trigger{{2, 5 * time.Second}, {2, 10 * time.Second}, {4, 5 * time.Second}, {4, 10 * time.Second}}; !reflect.DeepEqual(ts, want) {
		t.Fatalf("triggers %v, want %v", ts, want)
	}
	jobs := plan(SweepConfig{Triggers: ts[:2], Profiles: []SweepProfile{retry, adapt}, Seeds: 2, FirstSeed: 7})
	var got []string
	for _, j := range jobs {
		got = append(got, j.trigger.dir()+" "+j.profile.String()+" "+string(rune('0'+j.seed-7)))
	}
	want := []string{"x2-5s retry:nodeadline 0", "x2-5s adaptive 0", "x2-5s retry:nodeadline 1", "x2-5s adaptive 1",
		"x2-10s retry:nodeadline 0", "x2-10s adaptive 0", "x2-10s retry:nodeadline 1", "x2-10s adaptive 1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plan %q\nwant %q", got, want)
	}
}

// The collector hands on a trigger's cells once all its runs are done, triggers in order.
func TestCollectorInOrder(t *testing.T) {
	cfg := SweepConfig{Triggers: []Trigger{small, big}, Profiles: []SweepProfile{adapt}, Seeds: 2}
	var got []string
	cfg.OnTrigger = func(cells []Cell) {
		for _, c := range cells {
			p, _ := c.PStuck()
			got = append(got, fmt.Sprintf("%s: %d runs, P %.2f", c.Trigger, c.Runs, p))
		}
	}
	c := &collector{cfg: cfg, perTrigger: 2}
	byIndex := make([]*SweepRun, 4)
	done := func(i int, r SweepRun) { byIndex[i] = &r; c.emit(byIndex) }
	done(2, measured(big, adapt, 1, true, -1, 5, 0))
	done(3, measured(big, adapt, 2, true, -1, 5, 0))
	done(0, measured(small, adapt, 1, false, 0, 1, 1))
	if len(got) != 0 {
		t.Fatalf("handed on %q before the first trigger was done", got)
	}
	done(1, measured(small, adapt, 2, false, 0, 1, 1))
	if want := []string{"2x for 10s: 2 runs, P 0.00", "4x for 10s: 2 runs, P 1.00"}; !reflect.DeepEqual(got, want) {
		t.Errorf("handed on %q, want %q", got, want)
	}
}

func TestLeftAndBar(t *testing.T) {
	tests := []struct {
		done, total, parallel int
		elapsed, perRun, want time.Duration
	}{
		{0, 10, 2, 0, 50 * time.Second, 250 * time.Second},                 // 5 rounds of 50 s
		{0, 3, 2, 30 * time.Second, 50 * time.Second, 70 * time.Second},    // 2 rounds, 30 s gone
		{0, 1, 1, 90 * time.Second, 50 * time.Second, 0},                   // late: never below 0
		{4, 10, 2, 100 * time.Second, 50 * time.Second, 150 * time.Second}, // 25 s a run so far
		{10, 10, 2, 100 * time.Second, 50 * time.Second, 0},
	}
	for _, tt := range tests {
		if got := Left(tt.done, tt.total, tt.parallel, tt.elapsed, tt.perRun); got != tt.want {
			t.Errorf("Left(%d of %d, %d at a time, %v elapsed, %v a run) = %v, want %v", tt.done, tt.total, tt.parallel, tt.elapsed, tt.perRun, got, tt.want)
		}
	}
	for _, b := range []struct {
		done, total int
		want        string
	}{{0, 4, "[....................]"}, {1, 4, "[#####...............]"}, {4, 4, "[####################]"}, {0, 0, "[....................]"}} {
		if got := ProgressBar(b.done, b.total); got != b.want {
			t.Errorf("ProgressBar(%d, %d) = %q, want %q", b.done, b.total, got, b.want)
		}
	}
	if Estimate(61*time.Second+400*time.Millisecond) != "1m1s" || Estimate(25*time.Minute+40*time.Second) != "26m0s" {
		t.Errorf("Estimate: %s, %s", Estimate(61*time.Second+400*time.Millisecond), Estimate(25*time.Minute+40*time.Second))
	}
}

// Off a terminal the progress is a plain line per run on w, the rows plain lines on out; on a
// terminal the bar is redrawn in place and cleared before a row.
func TestProgress(t *testing.T) {
	var out, w strings.Builder
	p := NewProgress(&out, &w, false, 2, 1, time.Minute)
	p.Run(1, measured(big, retry, 1, true, -1, 5, 0.2))
	p.Println("a row")
	p.Run(2, SweepRun{Trigger: big, Profile: adapt, Seed: 1, NotMeasured: "no level"})
	p.Close()
	lines := strings.Split(strings.TrimSpace(w.String()), "\n")
	if len(lines) != 2 || !regexp.MustCompile(`^1/2 runs, \d+s elapsed, about \d+s left: 4x for 10s, retry:nodeadline, seed 1: stuck, not back to 95 % within the run$`).MatchString(lines[0]) ||
		!strings.HasSuffix(lines[1], "4x for 10s, adaptive, seed 1: not measured: no level") || strings.Contains(w.String(), "\033") {
		t.Errorf("plain progress:\n%s", w.String())
	}
	if out.String() != "a row\n" {
		t.Errorf("rows: %q", out.String())
	}

	out.Reset()
	var tty strings.Builder
	p = NewProgress(&out, &tty, true, 4, 1, time.Minute)
	p.Run(1, measured(big, retry, 1, true, -1, 5, 0.2))
	p.Println("a row")
	p.Close()
	s := tty.String()
	if !strings.Contains(s, "\r\033[K[#####...............] 1/4 runs") || !strings.HasSuffix(s, "\r\033[K") || strings.Contains(s, "\n") {
		t.Errorf("terminal progress: %q", s)
	}
	if out.String() != "a row\n" {
		t.Errorf("rows on a terminal: %q", out.String())
	}
}

// sweep.json holds the cells and runs as the table shows them; sweep.html plots a line per
// profile, rings each tipping point and links each run's report.
func TestSweepFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := SweepConfig{Triggers: []Trigger{small, big}, Profiles: []SweepProfile{retry, adapt}, Seeds: 1, FirstSeed: 1, RPS: 20,
		Warmup: 5 * time.Second, Watch: 30 * time.Second, Parallel: 2, OutDir: dir}
	runs := []SweepRun{
		measured(small, retry, 1, false, 0, 1, 1), measured(small, adapt, 1, false, 0, 1, 1),
		measured(big, retry, 1, true, -1, 5, 0.2), {Trigger: big, Profile: adapt, Seed: 1, Failed: "no stack"},
	}
	for i := range runs {
		runs[i].Dir = filepath.Join(runs[i].Trigger.dir(), runs[i].Profile.dir(), "seed-1")
	}
	sw := &Sweep{Config: cfg, Runs: runs, Cells: Cells(cfg.Triggers, cfg.Profiles, runs), Start: time.Now(), End: time.Now()}
	if err := sw.Write(); err != nil {
		t.Fatal(err)
	}
	var f SweepFile
	data, err := os.ReadFile(filepath.Join(dir, SweepJSON))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if f.Schema != SweepSchema || !f.Complete || len(f.Cells) != 4 || len(f.Runs) != 4 || f.Settings.StuckForMS != 30000 || f.Settings.BackHoldMS != 5000 {
		t.Fatalf("sweep.json: %s", data)
	}
	if c := f.Cells[2]; c.Profile != "retry:nodeadline" || c.Stuck != 1 || c.Measured != 1 || c.PStuck == nil || *c.PStuck != 1 || !c.Tipped {
		t.Errorf("retry at 4x: %+v", c)
	}
	if c := f.Cells[3]; c.Failed != 1 || c.Measured != 0 || c.PStuck != nil || len(c.NotMeasuredWhy) != 1 {
		t.Errorf("adaptive at 4x, failed: %+v", c)
	}
	if f.Tipping[0].Trigger == nil || f.Tipping[0].Trigger.Label != "4x for 10s" || f.Tipping[1].Trigger != nil {
		t.Errorf("tipping: %+v", f.Tipping)
	}
	if r := f.Runs[3]; r.Stuck != nil || r.Failed != "no stack" || r.Dir != "x4-10s/adaptive/seed-1" {
		t.Errorf("the failed run: %+v", r)
	}
	html, err := os.ReadFile(filepath.Join(dir, SweepHTML))
	if err != nil {
		t.Fatal(err)
	}
	page := string(html)
	for _, want := range []string{`<svg`, `stroke-dasharray="6 4"`, `tipping point: retry:nodeadline, 4x for 10s: 1 of 1 measured runs stuck`,
		`href="x4-10s/retry-nodeadline/seed-1/report.html"`, "tipping point of adaptive: none in this sweep", `<tr class="tip">`} {
		if !strings.Contains(page, want) {
			t.Errorf("sweep.html lacks %q", want)
		}
	}
	if n := strings.Count(page, `<g class="profile">`); n != 2 {
		t.Errorf("sweep.html has %d profile lines, want 2", n)
	}
	if rest := strings.ReplaceAll(page, "http://www.w3.org/2000/svg", ""); strings.Contains(rest, "http:") || strings.Contains(rest, "https:") {
		t.Error("sweep.html loads something from the network")
	}
}
