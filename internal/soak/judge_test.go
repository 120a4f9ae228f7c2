package soak

import (
	"strings"
	"testing"
	"time"
)

// series makes one sample every 10 s of a soak with one process, from the values given per
// sample: rss in MB, tasks and fds. The load is complete: 100 arrivals, all answered.
func series(rss []float64, tasks, fds []int) []Sample {
	out := make([]Sample, len(rss))
	for i := range rss {
		out[i] = Sample{Elapsed: time.Duration(i) * 10 * time.Second, Procs: []ProcSample{{
			Name: "client-service", PID: 42, RSS: int64(rss[i] * 1e6), Tasks: tasks[i], Kind: KindThreads, FDs: fds[i]}}}
	}
	return out
}

// flat is n copies of v.
func flat[T any](n int, v T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}

var complete = LoadCounts{Arrivals: 100, Records: 100, Sent: 98, Answered: 98, Dropped: 2}

// status returns the status of the check named name (of any process).
func status(t *testing.T, v Verdict, name string) Check {
	t.Helper()
	for _, c := range v.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, v.Checks)
	return Check{}
}

func TestSoakJudge(t *testing.T) {
	const n = 13 // 0 s to 120 s; warm-up: the samples before 24 s, 0 10 20
	// grow returns rss values: 100 MB through warm-up and the first post-warm-up third, then
	// pct % more for the rest.
	grow := func(pct float64) []float64 {
		v := flat(n, 100.0)
		for i := 7; i < n; i++ {
			v[i] = 100 * (1 + pct/100)
		}
		return v
	}
	scale := func(v []float64, base float64) []float64 {
		if base == 0 {
			return v
		}
		out := make([]float64, len(v))
		for i := range v {
			out[i] = v[i] * base / 100
		}
		return out
	}
	climb := func(from int) []int {
		v := flat(n, from)
		for i := n - 5; i < n; i++ {
			v[i] = from + i - (n - 5) // the last 5 samples: from, from+1, ... from+4
		}
		return v
	}
	tests := []struct {
		name   string
		rss    []float64
		tasks  []int
		fds    []int
		load   LoadCounts
		faults []string
		failed string  // the check that must fail ("" = the verdict passes)
		base   float64 // MB before growth; 0 = 100
	}{
		{"plateau passes", flat(n, 100.0), flat(n, 9), flat(n, 12), complete, nil, "", 0},
		{"rss +9 % passes", grow(9), flat(n, 9), flat(n, 12), complete, nil, "", 0},
		{"rss +11 % fails", grow(11), flat(n, 9), flat(n, 12), complete, nil, "rss", 0},
		{"+20 % of a small process, under 5 MB, passes", grow(20), flat(n, 9), flat(n, 12), complete, nil, "", 20},
		{"climbing fds fail", flat(n, 100.0), flat(n, 9), climb(12), complete, nil, "fds", 0},
		{"climbing threads fail", flat(n, 100.0), climb(9), flat(n, 12), complete, nil, "threads", 0},
		{"a climb within the slack passes", flat(n, 100.0), flat(n, 9), append(flat(n-3, 12), 13, 14, 14), complete, nil, "", 0},
		{"noisy fds pass", flat(n, 100.0), flat(n, 9), []int{12, 30, 12, 14, 12, 15, 13, 16, 12, 18, 13, 20, 14}, complete, nil, "", 0},
		{"a lost arrival fails", flat(n, 100.0), flat(n, 9), flat(n, 12), LoadCounts{Arrivals: 100, Records: 99, Sent: 98, Answered: 97, Dropped: 2}, nil, "lost requests", 0},
		{"a sent request without an answer fails", flat(n, 100.0), flat(n, 9), flat(n, 12), LoadCounts{Arrivals: 100, Records: 100, Sent: 99, Answered: 98, Dropped: 2}, nil, "lost requests", 0},
		{"a fault not removed fails", flat(n, 100.0), flat(n, 9), flat(n, 12), complete, []string{"0m50s: remove http-errors: 500"}, "faults", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Judge(series(scale(tt.rss, tt.base), tt.tasks, tt.fds), tt.load, tt.faults, 24*time.Second, DefaultRules())
			if v.Warmup != 3 {
				t.Errorf("warm-up = %d samples, want 3 (0 s, 10 s, 20 s: before 20 %% of 120 s)", v.Warmup)
			}
			var failed []string
			for _, c := range v.Failures() {
				failed = append(failed, c.Name)
			}
			want := []string{}
			if tt.failed != "" {
				want = []string{tt.failed}
			}
			if strings.Join(failed, ",") != strings.Join(want, ",") || v.Passed() != (tt.failed == "") {
				t.Errorf("failed checks %v, passed %t; want %v\n%+v", failed, v.Passed(), want, v.Checks)
			}
		})
	}
}

// The rss check compares the medians of the first and last thirds after warm-up, and says so.
func TestSoakJudgeRSSDetail(t *testing.T) {
	rss := []float64{50, 60, 100, 100, 130, 100, 100, 100, 100, 111, 111, 120, 111} // 10 after warm-up: k = 3
	v := Judge(series(rss, flat(13, 9), flat(13, 12)), complete, nil, 24*time.Second, DefaultRules())
	c := status(t, v, "rss")
	want := "median of the first 3 samples after warm-up 100.0 MB, of the last 3 111.0 MB: +11.0 %, +11.0 MB (limit +10 % or +5 MB)"
	if c.Status != Fail || c.Detail != want {
		t.Errorf("rss check = %s %q, want FAIL %q", c.Status, c.Detail, want)
	}
}

// A process restarted by a fault is judged on its new PID only: its first life's higher
// numbers are not compared with the new one's.
func TestSoakJudgeLastLife(t *testing.T) {
	s := series(flat(13, 100.0), flat(13, 9), flat(13, 12))
	for i := 8; i < 13; i++ { // restarted at 80 s: 5 samples of PID 43, 10 % above the first life
		s[i].Procs[0].PID, s[i].Procs[0].RSS = 43, 110e6
	}
	s[7].Procs[0] = ProcSample{Name: "client-service", Kind: KindThreads, Err: "not running"}
	v := Judge(s, complete, nil, 24*time.Second, DefaultRules())
	if !v.Passed() {
		t.Errorf("a restart failed the verdict: %+v", v.Checks)
	}
	if c := status(t, v, "rss"); !strings.Contains(c.Detail, "first 1 samples") {
		t.Errorf("rss check %q: want the 5 samples of the last PID (k = 1)", c.Detail)
	}
}

// Too few samples after warm-up: the checks say so, and do not fail.
func TestSoakJudgeTooFewSamples(t *testing.T) {
	v := Judge(series(flat(3, 100.0), flat(3, 9), flat(3, 12)), complete, nil, 24*time.Second, DefaultRules())
	for _, name := range []string{"rss", "threads", "fds"} {
		if c := status(t, v, name); c.Status != NotJudged {
			t.Errorf("%s: %s %q, want %q", name, c.Status, c.Detail, NotJudged)
		}
	}
	if !v.Passed() {
		t.Errorf("not judged counted as failed: %+v", v.Checks)
	}
}
