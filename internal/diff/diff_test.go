package diff

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/report"
	"chaoslab/internal/results"
)

func num(v float64) *float64 { return &v }

// phase is a phase summary with the figures diff reads.
func phase(ok, fallback, errs, p50, p99, amp float64) report.SummaryPhase {
	return report.SummaryPhase{Requests: 100, Sent: 100, Answered200: num(ok), Fallback: num(fallback), Errors: num(errs),
		Dropped: num(0), P50MS: num(p50), P99MS: num(p99), Amplification: num(amp)}
}

// sample is a resilient run that passed, like README's example.
func sample() report.Summary {
	return report.Summary{
		Schema:   report.SummarySchema,
		Settings: report.SummarySettings{Title: "Network partition", Resilience: "on", RPS: 20},
		Phases: report.SummaryPhases{
			Before:    phase(1, 0, 0, 2.43, 5.94, 1),
			During:    phase(1, 1, 0, 1.62, 1000, 0.05),
			After:     phase(1, 0.118, 0, 1.89, 3.19, 0.88),
			WhileOpen: phase(1, 1, 0, 1.57, 3.2, 0),
			Total:     phase(1, 0.6, 0, 1.7, 900, 0.4),
		},
		Times: report.SummaryTimes{FaultToFirstFallbackMS: num(1240), FaultToOpenMS: num(1240),
			HealToFirstBackendMS: num(2380), HealToClosedMS: num(2470)},
		Breaker:    report.SummaryBreaker{Enabled: true, Final: "CLOSED", Transitions: []report.SummaryTransition{}},
		Recovered:  true,
		Objectives: []report.SummaryObjective{{Name: "p99_while_open_max_ms", Unit: report.UnitMS, Bound: 20, Max: true, Value: num(3.2), Passed: true}},
		Verdict:    report.SummaryVerdict{Passed: true, Text: report.PassedText, Reasons: []string{}},
	}
}

// baselineSample is the same run without the patterns.
func baselineSample() report.Summary {
	s := sample()
	s.Settings.Resilience = "off"
	s.Phases.During = phase(0, 0, 1, 1000, 1000, 1)
	s.Phases.WhileOpen = report.SummaryPhase{}
	s.Times = report.SummaryTimes{HealToFirstBackendMS: num(900)}
	s.Breaker = report.SummaryBreaker{Transitions: []report.SummaryTransition{}}
	s.Verdict = report.SummaryVerdict{Text: "FAILED: deviated", Reasons: []string{"deviated"}}
	return s
}

// edit returns sample() changed by fn.
func edit(fn func(s *report.Summary)) report.Summary {
	s := sample()
	fn(&s)
	return s
}

// writeRun writes s as dir/summary.json.
func writeRun(t *testing.T, dir string, s report.Summary) string {
	t.Helper()
	if err := report.WriteSummaryFile(dir, s); err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeCompare writes a compare folder.
func writeCompare(t *testing.T, dir string, base, res report.Summary) string {
	t.Helper()
	writeRun(t, filepath.Join(dir, results.BaselineDir), base)
	writeRun(t, filepath.Join(dir, results.ResilientDir), res)
	return dir
}

// regressions lists the rows marked as regressions, as "scope figure".
func regressions(r *Result) []string {
	var out []string
	for _, row := range r.Rows {
		if row.Regression {
			out = append(out, strings.TrimSpace(row.Scope+" "+row.Figure))
		}
	}
	return out
}

func TestCompareRuns(t *testing.T) {
	tests := []struct {
		name string
		cur  report.Summary // NEW
		tols map[string]Tolerance
		want []string // the regressions
	}{
		{"identical", sample(), nil, nil},
		{"worse p99 during", edit(func(s *report.Summary) { s.Phases.During.P99MS = num(1500) }), nil, []string{"during.p99_ms"}},
		{"p99 within 20%", edit(func(s *report.Summary) { s.Phases.During.P99MS = num(1150) }), nil, nil},
		{"p99 +66% but under 5 ms", edit(func(s *report.Summary) { s.Phases.Before.P99MS = num(9.9) }), nil, nil},
		{"p99 while OPEN over 5 ms", edit(func(s *report.Summary) { s.Phases.WhileOpen.P99MS = num(8.5) }), nil, []string{"while_open.p99_ms"}},
		{"later heal to CLOSED", edit(func(s *report.Summary) { s.Times.HealToClosedMS = num(5000) }), nil, []string{"heal_to_closed_ms"}},
		{"heal to CLOSED within 20%", edit(func(s *report.Summary) { s.Times.HealToClosedMS = num(2900) }), nil, nil},
		{"short time, under 0.5 s", edit(func(s *report.Summary) { s.Times.FaultToOpenMS = num(1700) }), nil, nil},
		{"breaker no longer closes", edit(func(s *report.Summary) { s.Times.HealToClosedMS = nil }), nil, []string{"heal_to_closed_ms"}},
		{"answered 200 within 1 point", edit(func(s *report.Summary) { s.Phases.During.Answered200 = num(0.99) }), nil, nil},
		{"answered 200 down 2 points", edit(func(s *report.Summary) { s.Phases.During.Answered200 = num(0.98) }), nil, []string{"during.answered_200"}},
		{"errors up 5 points", edit(func(s *report.Summary) { s.Phases.After.Errors = num(0.05) }), nil, []string{"after.errors"}},
		{"fallback is not judged", edit(func(s *report.Summary) { s.Phases.After.Fallback = num(0.9) }), nil, nil},
		{"amplification +40%", edit(func(s *report.Summary) { s.Phases.After.Amplification = num(1.23) }), nil, []string{"after.amplification"}},
		{"verdict now failed", edit(func(s *report.Summary) { s.Verdict = report.SummaryVerdict{Reasons: []string{"deviated"}} }), nil, []string{"verdict"}},
		{"an objective fails", edit(func(s *report.Summary) { s.Objectives[0].Passed = false }), nil, []string{"objectives_passed"}},
		{"better is not a regression", edit(func(s *report.Summary) {
			s.Phases.During.P99MS, s.Times.HealToClosedMS = num(10), num(500)
		}), nil, nil},
		{"override: tighter p99", edit(func(s *report.Summary) { s.Phases.During.P99MS = num(1150) }),
			map[string]Tolerance{"during.p99_ms": {Rel: 0.1}}, []string{"during.p99_ms"}},
		{"override: every phase's p99", edit(func(s *report.Summary) { s.Phases.During.P99MS = num(1500) }),
			map[string]Tolerance{"p99_ms": {Rel: 0.6}}, nil},
		{"override: the figure wins over its metric", edit(func(s *report.Summary) { s.Phases.During.P99MS = num(1500) }),
			map[string]Tolerance{"p99_ms": {Rel: 0.6}, "during.p99_ms": {Rel: 0.1}}, []string{"during.p99_ms"}},
		{"override: absolute time", edit(func(s *report.Summary) { s.Times.HealToClosedMS = num(5000) }),
			map[string]Tolerance{"heal_to_closed_ms": {Abs: 3000}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r, err := Compare(writeRun(t, filepath.Join(dir, "old"), sample()), writeRun(t, filepath.Join(dir, "new"), tt.cur), Options{Tolerances: tt.tols})
			if err != nil {
				t.Fatal(err)
			}
			if got := regressions(r); !slices.Equal(got, tt.want) || r.Regressions != len(tt.want) {
				t.Errorf("regressions %v (count %d), want %v", got, r.Regressions, tt.want)
			}
			if r.Kind != KindRun || len(r.Rows) != len(figures()) {
				t.Errorf("kind %s with %d rows, want run with %d", r.Kind, len(r.Rows), len(figures()))
			}
		})
	}
}

// A figure's row holds OLD, NEW, the change and the relative change, and its note.
func TestCompareRowNumbers(t *testing.T) {
	dir := t.TempDir()
	newer := edit(func(s *report.Summary) { s.Phases.During.P99MS, s.Times.HealToClosedMS = num(1500), nil })
	r, err := Compare(writeRun(t, filepath.Join(dir, "a"), sample()), writeRun(t, filepath.Join(dir, "b"), newer), Options{})
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]Row{}
	for _, row := range r.Rows {
		rows[row.Figure] = row
	}
	newly, err := Compare(writeRun(t, filepath.Join(dir, "c"), newer), writeRun(t, filepath.Join(dir, "d"), sample()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range newly.Rows {
		rows["newly "+row.Figure] = row
	}
	want := map[string]Row{
		"newly heal_to_closed_ms": {Figure: "heal_to_closed_ms", Unit: report.UnitMS, New: num(2470), Worse: HigherIsWorse,
			Tolerance: Tolerance{Rel: 0.2, Abs: 500}, Note: NoteNew},
		"during.p99_ms": {Figure: "during.p99_ms", Unit: report.UnitMS, Old: num(1000), New: num(1500), Change: num(500),
			Relative: num(0.5), Worse: HigherIsWorse, Tolerance: Tolerance{Rel: 0.2, Abs: 5}, Regression: true},
		"heal_to_closed_ms": {Figure: "heal_to_closed_ms", Unit: report.UnitMS, Old: num(2470), Worse: HigherIsWorse,
			Tolerance: Tolerance{Rel: 0.2, Abs: 500}, Regression: true, Note: NoteGone},
		"before.answered_200": {Figure: "before.answered_200", Unit: report.UnitFraction, Old: num(1), New: num(1), Change: num(0),
			Relative: num(0), Worse: LowerIsWorse, Tolerance: Tolerance{Abs: 0.01}},
	}
	for name, w := range want {
		if got := rows[name]; !reflect.DeepEqual(got, w) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, w)
		}
	}
}

// The regressions are marked in all three formats; an identical pair has no mark.
func TestWriteFormats(t *testing.T) {
	dir := t.TempDir()
	old := writeRun(t, filepath.Join(dir, "old"), sample())
	worse := writeRun(t, filepath.Join(dir, "worse"), edit(func(s *report.Summary) {
		s.Phases.During.P99MS, s.Times.HealToClosedMS = num(1500), num(5000)
	}))
	marked := []string{"during.p99_ms", "heal_to_closed_ms"}
	for _, format := range Formats() {
		t.Run(format, func(t *testing.T) {
			r, err := Compare(old, worse, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := Write(&buf, r, format); err != nil {
				t.Fatal(err)
			}
			if got := markedIn(t, format, buf.Bytes()); !slices.Equal(got, marked) {
				t.Errorf("marked %v, want %v:\n%s", got, marked, buf.String())
			}
			same, err := Compare(old, old, Options{})
			if err != nil {
				t.Fatal(err)
			}
			buf.Reset()
			if err := Write(&buf, same, format); err != nil {
				t.Fatal(err)
			}
			if got := markedIn(t, format, buf.Bytes()); len(got) != 0 || strings.Contains(buf.String(), "REGRESSION") {
				t.Errorf("identical runs: marked %v:\n%s", got, buf.String())
			}
		})
	}
}

// markedIn reads back the figures an output marks as regressions.
func markedIn(t *testing.T, format string, out []byte) []string {
	t.Helper()
	var got []string
	if format == FormatJSON {
		var r Result
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatal(err)
		}
		if r.Schema != ResultSchema || r.Regressions != len(regressions(&r)) {
			t.Errorf("schema %q, regressions %d for %d rows marked", r.Schema, r.Regressions, len(regressions(&r)))
		}
		return regressions(&r)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.Contains(line, "REGRESSION") {
			continue
		}
		if format == FormatMarkdown {
			got = append(got, strings.TrimSpace(strings.Split(line, "|")[1]))
		} else {
			got = append(got, strings.Fields(line)[0])
		}
	}
	return got
}

// Compare folders: the resilient runs, then the baselines.
func TestCompareCompareFolders(t *testing.T) {
	dir := t.TempDir()
	worseBase := baselineSample()
	worseBase.Phases.During.P99MS = num(5000)
	old := writeCompare(t, filepath.Join(dir, "old"), baselineSample(), sample())
	cur := writeCompare(t, filepath.Join(dir, "new"), worseBase, sample())
	r, err := Compare(old, cur, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := regressions(r), []string{"baseline during.p99_ms"}; !slices.Equal(got, want) {
		t.Errorf("regressions %v, want %v", got, want)
	}
	if got := scopesOf(r); !slices.Equal(got, []string{"resilient", "baseline"}) || r.Kind != KindCompare {
		t.Errorf("kind %s, scopes %v, want compare with resilient then baseline", r.Kind, got)
	}
}

// Compare folders of three profiles: each profile both ran, the judged ones first; a profile one
// folder lacks is listed, not compared.
func TestCompareThreeProfiles(t *testing.T) {
	dir := t.TempDir()
	adaptive := sample()
	adaptive.Settings.Resilience = results.ResilienceAdaptive
	worse := adaptive
	worse.Times.HealToClosedMS = num(9000)
	old := writeCompare(t, filepath.Join(dir, "old"), baselineSample(), sample())
	writeRun(t, filepath.Join(old, results.AdaptiveDir), adaptive)
	cur := writeCompare(t, filepath.Join(dir, "new"), baselineSample(), sample())
	writeRun(t, filepath.Join(cur, results.AdaptiveDir), worse)
	r, err := Compare(old, cur, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := regressions(r), []string{"adaptive heal_to_closed_ms"}; !slices.Equal(got, want) {
		t.Errorf("regressions %v, want %v", got, want)
	}
	if got := scopesOf(r); !slices.Equal(got, []string{"resilient", "adaptive", "baseline"}) || r.Kind != KindCompare {
		t.Errorf("kind %s, scopes %v, want compare with resilient, adaptive, baseline", r.Kind, got)
	}

	two := filepath.Join(dir, "two") // resilient and adaptive only: still a compare folder
	writeRun(t, filepath.Join(two, results.ResilientDir), sample())
	writeRun(t, filepath.Join(two, results.AdaptiveDir), adaptive)
	r, err = Compare(old, two, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := scopesOf(r); !slices.Equal(got, []string{"resilient", "adaptive"}) || !slices.Equal(r.OnlyInOld, []string{"baseline"}) || r.Regressions != 0 {
		t.Errorf("scopes %v, only in OLD %v, %d regressions; want resilient and adaptive compared, baseline only in OLD, none",
			got, r.OnlyInOld, r.Regressions)
	}
}

func scopesOf(r *Result) []string {
	var out []string
	for _, rows := range scopes(r.Rows) {
		out = append(out, rows[0].Scope)
	}
	return out
}

// Suites: entry by entry, by name; an entry in one folder only is listed, not compared.
func TestCompareSuites(t *testing.T) {
	dir := t.TempDir()
	old, cur := filepath.Join(dir, "old"), filepath.Join(dir, "new")
	writeRun(t, filepath.Join(old, "latency"), sample())
	writeRun(t, filepath.Join(cur, "latency"), edit(func(s *report.Summary) { s.Times.FaultToOpenMS = num(4000) }))
	writeCompare(t, filepath.Join(old, "http-errors"), baselineSample(), sample())
	writeCompare(t, filepath.Join(cur, "http-errors"), baselineSample(), sample())
	writeRun(t, filepath.Join(old, "crash"), sample())                               // only in OLD
	writeRun(t, filepath.Join(cur, "partition"), sample())                           // only in NEW
	writeCompare(t, filepath.Join(old, "flapping"), baselineSample(), sample())      // a compare folder in OLD,
	writeRun(t, filepath.Join(cur, "flapping"), sample())                            // a run folder in NEW
	if err := os.MkdirAll(filepath.Join(cur, "not-a-run", "x"), 0o755); err != nil { // ignored
		t.Fatal(err)
	}
	r, err := Compare(old, cur, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want []string
	}{
		{"scopes", scopesOf(r), []string{"flapping/resilient", "http-errors/resilient", "http-errors/baseline", "latency"}},
		{"regressions", regressions(r), []string{"latency fault_to_open_ms"}},
		{"only in OLD", r.OnlyInOld, []string{"crash", "flapping/baseline"}},
		{"only in NEW", r.OnlyInNew, []string{"partition"}},
	}
	for _, c := range checks {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	var buf bytes.Buffer
	if err := Write(&buf, r, FormatText); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"only in OLD (not compared): crash, flapping/baseline", "only in NEW (not compared): partition",
		"1 regression: fault_to_open_ms (latency)", "http-errors/baseline:"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, buf.String())
		}
	}
}

// Bad input is an error (the command's exit status 2), one line naming the problem.
func TestCompareBadInput(t *testing.T) {
	dir := t.TempDir()
	run := writeRun(t, filepath.Join(dir, "run"), sample())
	cmp := writeCompare(t, filepath.Join(dir, "cmp"), baselineSample(), sample())
	suite := filepath.Join(dir, "suite")
	writeRun(t, filepath.Join(suite, "latency"), sample())
	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	future := writeRun(t, filepath.Join(dir, "future"), edit(func(s *report.Summary) { s.Schema = "chaoslab.summary/v9" }))
	tests := []struct {
		name, old, cur, want string
	}{
		{"missing OLD", filepath.Join(dir, "nope"), run, "OLD " + filepath.Join(dir, "nope") + ": not a folder"},
		{"missing NEW", run, filepath.Join(dir, "nope"), "NEW " + filepath.Join(dir, "nope") + ": not a folder"},
		{"not a results folder", run, empty, "is not a results folder"},
		{"run and compare", run, cmp, "is a run folder and NEW " + cmp + " a compare folder"},
		{"compare and suite", cmp, suite, "a suite folder"},
		{"unknown schema", run, future, `has schema "chaoslab.summary/v9"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compare(tt.old, tt.cur, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line with %q", err, tt.want)
			}
		})
	}
}

// writeRawRun writes a small run folder as a chaoslab without summary.json did: requests
// before, during and after a fault, and the breaker opening and closing.
func writeRawRun(t *testing.T, dir string, closeAt float64) {
	t.Helper()
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	var recs []results.Record
	for i := range 60 {
		s := float64(i) / 10
		r := results.Record{ID: uint64(i + 1), Start: at(s), Latency: 2 * time.Millisecond, Status: 200, Source: results.SourceBackend, Attempts: 1}
		if s >= 2 && s < 4 {
			r.Source, r.Attempts = results.SourceFallback, 0
		}
		recs = append(recs, r)
	}
	events := []results.Event{
		{Time: at(2), Kind: results.KindFault, Action: "on", Name: "latency"},
		{Time: at(2.3), Kind: results.KindBreaker, From: "CLOSED", To: "OPEN"},
		{Time: at(4), Kind: results.KindFault, Action: "off", Name: "latency"},
		{Time: at(closeAt), Kind: results.KindBreaker, From: "OPEN", To: "CLOSED"},
	}
	run := &results.Run{Info: results.RunInfo{Title: "raw", Resilience: results.ResilienceOn, RPS: 10, Start: t0, End: at(6), Status: "completed"},
		Records: recs}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := run.Write(dir); err != nil {
		t.Fatal(err)
	}
	var lines []byte
	for _, e := range events {
		b, _ := json.Marshal(e)
		lines = append(append(lines, b...), '\n')
	}
	if err := os.WriteFile(filepath.Join(dir, results.EventsFile), lines, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A folder written before summary.json existed is analyzed from its raw files, and compares
// equal to the same folder once `chaoslab report` wrote its summary.json.
func TestCompareWithoutSummaryJSON(t *testing.T) {
	dir := t.TempDir()
	raw, rendered, later := filepath.Join(dir, "raw"), filepath.Join(dir, "rendered"), filepath.Join(dir, "later")
	writeRawRun(t, raw, 4.5)
	writeRawRun(t, rendered, 4.5)
	writeRawRun(t, later, 5.5)
	if err := report.Render(rendered); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(raw, report.SummaryFile)); err == nil {
		t.Fatal("the raw folder has a summary.json")
	}
	a, err := report.Load(raw)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := LoadSummary(raw); err != nil || !reflect.DeepEqual(s, report.NewSummary(a)) {
		t.Errorf("LoadSummary of a raw folder (%v) is not the summary of its analysis", err)
	}
	same, err := Compare(raw, rendered, Options{})
	if err != nil {
		t.Fatal(err)
	}
	worse, err := Compare(rendered, later, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := regressions(same); len(got) != 0 {
		t.Errorf("raw against rendered: regressions %v", got)
	}
	if got, want := regressions(worse), []string{"heal_to_closed_ms"}; !slices.Equal(got, want) {
		t.Errorf("closing 1 s later: regressions %v, want %v", got, want)
	}
}

func TestParseTolerance(t *testing.T) {
	tests := []struct {
		in, name string
		want     Tolerance
		err      string
	}{
		{"during.p99_ms=30%", "during.p99_ms", Tolerance{Rel: 0.3}, ""},
		{"p99_ms=250", "p99_ms", Tolerance{Abs: 250}, ""},
		{"heal_to_closed_ms=+20%,500", "heal_to_closed_ms", Tolerance{Rel: 0.2, Abs: 500}, ""},
		{"answered_200=0.02", "answered_200", Tolerance{Abs: 0.02}, ""},
		{"verdict=0", "verdict", Tolerance{}, ""},
		{"p99=30%", "", Tolerance{}, `unknown figure "p99"`},
		{"during.p99_ms", "", Tolerance{}, "want FIGURE=VALUE"},
		{"p99_ms=-5", "", Tolerance{}, "not a tolerance"},
		{"p99_ms=fast", "", Tolerance{}, "not a tolerance"},
		{"p99_ms=", "", Tolerance{}, "not a tolerance"},
		{"p99_ms=10%,20%", "", Tolerance{}, "same part twice"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			name, tol, err := ParseTolerance(tt.in)
			switch {
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("error %v, want one with %q", err, tt.err)
			case tt.err == "" && (err != nil || name != tt.name || tol != tt.want):
				t.Errorf("= %q, %+v, %v; want %q, %+v", name, tol, err, tt.name, tt.want)
			}
		})
	}
}
