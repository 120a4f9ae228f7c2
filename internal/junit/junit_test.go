package junit

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/experiment"
	"chaoslab/internal/report"
	"chaoslab/internal/results"
)

// t0 is the start of every synthetic run.
var t0 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// at returns t0 plus s seconds.
func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// awkward is text a probe may well print: markup, quotes, a terminal colour code, a NUL, a
// CDATA end, non-ASCII and a carriage return.
const awkward = "<b>&amp; \"x\" 'y'</b> \x1b[31mred\x1b[0m \x00 ]]> ünïcode\r\nnext line"

// awkwardClean is awkward as the XML must carry it: the control characters removed.
const awkwardClean = "<b>&amp; \"x\" 'y'</b> [31mred[0m  ]]> ünïcode\r\nnext line"

// lab is a synthetic run: the fault on at +2s and off at +6s, the breaker OPEN at +2.5s and
// CLOSED again at +7.2s, one backend call per request except while OPEN. It passes unless edited.
type lab struct {
	info    results.RunInfo
	recs    []results.Record
	events  []results.Event
	journal *experiment.Journal // nil: the experiment did not run
}

func passing() *lab {
	rec := func(s float64, ms int, source string, attempts int) results.Record {
		return results.Record{Start: at(s), Latency: time.Duration(ms) * time.Millisecond, Status: 200, Source: source, Attempts: attempts}
	}
	l := &lab{info: results.RunInfo{
		Title: "HTTP errors", Experiment: "built-in", Stack: "local", Resilience: results.ResilienceOn,
		RPS: 10, Seed: 7, Recovery: results.Duration(3 * time.Second), LoadTimeout: results.Duration(2 * time.Second),
		Start: t0, End: at(9), Status: experiment.StatusCompleted,
		Objectives: map[string]float64{"answered_during_fault_min": 0.9, "p99_during_fault_max_ms": 50},
	}}
	for i := range 10 {
		s := float64(i) / 10
		l.recs = append(l.recs, rec(1+s, 5, results.SourceBackend, 1), rec(2+s, 3, results.SourceFallback, 1),
			rec(3+s, 2, results.SourceFallback, 0), rec(7.5+s, 4, results.SourceBackend, 1))
	}
	l.events = []results.Event{
		{Time: at(2), Kind: results.KindFault, Action: "on", Name: "http-errors"},
		{Time: at(2.5), Kind: results.KindBreaker, From: "CLOSED", To: "OPEN"},
		{Time: at(6), Kind: results.KindFault, Action: "off", Name: "http-errors"},
		{Time: at(7), Kind: results.KindBreaker, From: "OPEN", To: "HALF_OPEN"},
		{Time: at(7.2), Kind: results.KindBreaker, From: "HALF_OPEN", To: "CLOSED"},
	}
	l.journal = journal(experiment.StatusCompleted, probe("client-answers-200", true), probe("client-answers-200", true))
	return l
}

func (l *lab) analyze() *report.Analysis {
	return report.Analyze(&results.Run{Dir: "memory", Info: l.info, Records: l.recs, Events: l.events}, l.journal)
}

// journal is a journal with the given status and steady-state checks (nil: not checked);
// deviated when after is out of tolerance.
func journal(status string, before, after *experiment.Entry) *experiment.Journal {
	doc, _ := json.Marshal(map[string]any{"title": "HTTP errors"})
	j := &experiment.Journal{Experiment: doc, Status: status, Start: experiment.Timestamp(at(0.5)),
		End: experiment.Timestamp(at(8.5)), Duration: 8, Run: []*experiment.Entry{}, Rollbacks: []*experiment.Entry{}}
	check := func(e *experiment.Entry) *experiment.Hypothesis {
		if e == nil {
			return nil
		}
		met := e.Status == "succeeded" && e.ToleranceMet != nil && *e.ToleranceMet
		return &experiment.Hypothesis{SteadyStateMet: &met, Probes: []*experiment.Entry{e}}
	}
	j.SteadyStates.Before, j.SteadyStates.After = check(before), check(after)
	j.Deviated = j.SteadyStates.After != nil && !*j.SteadyStates.After.SteadyStateMet
	return j
}

func probe(name string, met bool) *experiment.Entry {
	return &experiment.Entry{Activity: experiment.NewObject("type", "probe", "name", name), Status: "succeeded",
		ToleranceMet: &met, Output: experiment.NewObject("status", int64(200)), Duration: 0.25}
}

// The decoded file, as a CI tool reads it.
type xSuites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Name     string   `xml:"name,attr"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Time     string   `xml:"time,attr"`
	Suites   []xSuite `xml:"testsuite"`
}

type xSuite struct {
	Name       string      `xml:"name,attr"`
	Tests      int         `xml:"tests,attr"`
	Failures   int         `xml:"failures,attr"`
	Errors     int         `xml:"errors,attr"`
	Skipped    int         `xml:"skipped,attr"`
	Time       string      `xml:"time,attr"`
	Timestamp  string      `xml:"timestamp,attr"`
	Properties []xProperty `xml:"properties>property"`
	Cases      []xCase     `xml:"testcase"`
	SystemOut  string      `xml:"system-out"`
}

type xProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type xCase struct {
	Name      string    `xml:"name,attr"`
	Classname string    `xml:"classname,attr"`
	Time      string    `xml:"time,attr"`
	Skipped   *string   `xml:"skipped"`
	Errors    []xResult `xml:"error"`
	Failures  []xResult `xml:"failure"`
}

type xResult struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// id names a case for the tests: "classname/name".
func (c xCase) id() string { return c.Classname + "/" + c.Name }

// outcome is a case's result for the tests: pass, failure, error or skipped.
func (c xCase) outcome() string {
	switch {
	case len(c.Errors) > 0:
		return "error"
	case len(c.Failures) > 0:
		return "failure"
	case c.Skipped != nil:
		return "skipped"
	}
	return "pass"
}

// write writes runs and checks what every file must be: well-formed, valid against the schema
// when xmllint is there, and counts that match its cases.
func write(t *testing.T, runs []Run) (xSuites, []byte) {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, "chaoslab test", runs); err != nil {
		t.Fatal(err)
	}
	var doc xSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("the XML does not decode: %v\n%s", err, b.Bytes())
	}
	checkCounts(t, doc)
	validate(t, b.Bytes())
	return doc, b.Bytes()
}

func checkCounts(t *testing.T, doc xSuites) {
	t.Helper()
	var tests, failures, errors int
	for _, s := range doc.Suites {
		var f, e, sk int
		for _, c := range s.Cases {
			f += len(c.Failures)
			e += len(c.Errors)
			if c.Skipped != nil {
				sk++
			}
			if n := len(c.Failures) + len(c.Errors); n > 1 || (n == 1 && c.Skipped != nil) {
				t.Errorf("%s: %d failures or errors, skipped %t: want one outcome per case", c.id(), n, c.Skipped != nil)
			}
		}
		if s.Tests != len(s.Cases) || s.Failures != f || s.Errors != e || s.Skipped != sk {
			t.Errorf("suite %s: tests=%d failures=%d errors=%d skipped=%d, counted %d, %d, %d, %d",
				s.Name, s.Tests, s.Failures, s.Errors, s.Skipped, len(s.Cases), f, e, sk)
		}
		tests, failures, errors = tests+s.Tests, failures+s.Failures, errors+s.Errors
	}
	if doc.Tests != tests || doc.Failures != failures || doc.Errors != errors {
		t.Errorf("testsuites: tests=%d failures=%d errors=%d, the suites add up to %d, %d, %d",
			doc.Tests, doc.Failures, doc.Errors, tests, failures, errors)
	}
}

// validate checks b against testdata/junit.xsd (Jenkins' junit-4.xsd) with xmllint.
func validate(t *testing.T, b []byte) {
	t.Helper()
	t.Run("xmllint", func(t *testing.T) {
		xmllint, err := exec.LookPath("xmllint")
		if err != nil {
			t.Skip("xmllint is not installed (Debian: apt-get install libxml2-utils): the schema is not checked")
		}
		path := filepath.Join(t.TempDir(), "junit.xml")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(xmllint, "--noout", "--schema", filepath.Join("testdata", "junit.xsd"), path).CombinedOutput()
		if err != nil {
			t.Errorf("xmllint: %v\n%s\n%s", err, out, b)
		}
	})
}

// outcomes maps "classname/name" to each case's outcome.
func outcomes(s xSuite) map[string]string {
	m := map[string]string{}
	for _, c := range s.Cases {
		m[c.id()] = c.outcome()
	}
	return m
}

// find returns the case named id ("classname/name").
func find(t *testing.T, s xSuite, id string) xCase {
	t.Helper()
	for _, c := range s.Cases {
		if c.id() == id {
			return c
		}
	}
	t.Fatalf("no case %s in %v", id, outcomes(s))
	return xCase{}
}

func TestWriteCases(t *testing.T) {
	tests := []struct {
		name string
		edit func(*lab)
		// want is the outcome of every case that is not "pass".
		want map[string]string
		// messages: a text each case's failure, error or skip must contain.
		messages map[string]string
	}{
		{
			name: "passing run",
			edit: func(*lab) {},
			want: map[string]string{},
		},
		{
			name: "objective it cannot meet",
			edit: func(l *lab) { l.info.Objectives["p99_during_fault_max_ms"] = 1 },
			want: map[string]string{"run.objectives/p99_during_fault_max_ms": "failure"},
			messages: map[string]string{
				"run.objectives/p99_during_fault_max_ms": "p99_during_fault_max_ms: 3.00 ms, want <= 1.00 ms: FAILED",
			},
		},
		{
			name: "objective not measured",
			edit: func(l *lab) {
				l.info.Objectives["amplification_max"] = 2
				for i := range l.recs {
					l.recs[i].Attempts = results.UnknownAttempts
				}
			},
			want:     map[string]string{"run.objectives/amplification_max": "failure"},
			messages: map[string]string{"run.objectives/amplification_max": "amplification_max: not measured"},
		},
		{
			name: "steady state not met after",
			edit: func(l *lab) {
				l.journal = journal(experiment.StatusCompleted, probe("client-answers-200", true), probe("client-answers-200", false))
			},
			want: map[string]string{"run.steady-state.after/client-answers-200": "failure"},
			messages: map[string]string{
				"run.steady-state.after/client-answers-200": `tolerance not met, output: {"status":200}`,
			},
		},
		{
			name: "probe raised",
			edit: func(l *lab) {
				p := probe("client-answers-200", false)
				p.Status, p.ToleranceMet = "failed", nil
				p.Exception = []string{"Traceback (most recent call last):\n", "chaoslab.exceptions.ActivityFailed: connection refused\n"}
				l.journal = journal(experiment.StatusCompleted, probe("client-answers-200", true), p)
			},
			want: map[string]string{"run.steady-state.after/client-answers-200": "error"},
			messages: map[string]string{
				"run.steady-state.after/client-answers-200": "the probe failed: chaoslab.exceptions.ActivityFailed: connection refused",
			},
		},
		{
			name: "steady state not met before: the method and the after check skipped",
			edit: func(l *lab) {
				l.journal = journal(experiment.StatusFailed, probe("client-answers-200", false), nil)
			},
			want: map[string]string{
				"run/experiment completed":                   "failure",
				"run.steady-state.before/client-answers-200": "failure",
				"run.steady-state.after/client-answers-200":  "skipped",
			},
			messages: map[string]string{
				"run/experiment completed":                  "the experiment ended with status failed",
				"run.steady-state.after/client-answers-200": "not checked: the steady state was not met before the fault",
			},
		},
		{
			name: "aborted during the method: the after check skipped",
			edit: func(l *lab) { l.journal = journal(experiment.StatusAborted, probe("client-answers-200", true), nil) },
			want: map[string]string{
				"run/experiment completed":                  "failure",
				"run.steady-state.after/client-answers-200": "skipped",
			},
			messages: map[string]string{
				"run/experiment completed":                  "the experiment ended with status aborted",
				"run.steady-state.after/client-answers-200": "not checked: the experiment ended with status aborted first",
			},
		},
		{
			name: "no journal",
			edit: func(l *lab) { l.journal, l.info.Status = nil, "" },
			want: map[string]string{
				"run/experiment completed":                 "failure",
				"run.steady-state.before/steady state":     "skipped",
				"run.steady-state.after/steady state":      "skipped",
				"run.recovery/recovered":                   "skipped",
				"run.objectives/answered_during_fault_min": "skipped",
				"run.objectives/p99_during_fault_max_ms":   "skipped",
			},
			messages: map[string]string{
				"run/experiment completed":            "the experiment did not run",
				"run.steady-state.after/steady state": "not checked: the experiment did not run",
				"run.recovery/recovered":              "heal -> first backend answer",
			},
		},
		{
			name: "interrupted",
			edit: func(l *lab) { l.info.Interrupted = true },
			want: map[string]string{
				"run/experiment completed":                 "failure",
				"run.recovery/recovered":                   "skipped",
				"run.objectives/answered_during_fault_min": "skipped",
				"run.objectives/p99_during_fault_max_ms":   "skipped",
			},
			messages: map[string]string{"run.recovery/recovered": "not judged: the run was interrupted"},
		},
		{
			name: "not recovered",
			edit: func(l *lab) { l.events = l.events[:len(l.events)-2] }, // the breaker stays OPEN
			want: map[string]string{"run.recovery/recovered": "failure"},
			messages: map[string]string{
				"run.recovery/recovered": "the system did not recover: heal -> first backend answer",
			},
		},
		{
			name: "lab problems",
			edit: func(l *lab) { l.info.Problems = []string{"backend-service exited: signal: killed"} },
			want: map[string]string{"run/no lab problems": "failure"},
			messages: map[string]string{
				"run/no lab problems": "backend-service exited: signal: killed",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := passing()
			tt.edit(l)
			a := l.analyze()
			doc, _ := write(t, []Run{{Name: "run", A: a}})
			if len(doc.Suites) != 1 {
				t.Fatalf("%d suites, want 1", len(doc.Suites))
			}
			s := doc.Suites[0]
			for id, got := range outcomes(s) {
				if want := tt.want[id]; got != want && !(want == "" && got == "pass") {
					t.Errorf("%s: %s, want %s", id, got, or(want, "pass"))
				}
			}
			for id := range tt.want {
				find(t, s, id)
			}
			for id, text := range tt.messages {
				if got := problemText(find(t, s, id)); !strings.Contains(got, text) {
					t.Errorf("%s: %q does not contain %q", id, got, text)
				}
			}
			if failed := s.Failures+s.Errors > 0; failed == a.Verdict.Passed {
				t.Errorf("failures+errors %d, verdict passed %t: the file must fail exactly when the verdict does", s.Failures+s.Errors, a.Verdict.Passed)
			}
		})
	}
}

// problemText is a case's failure or error message, or its skip text.
func problemText(c xCase) string {
	switch {
	case len(c.Failures) > 0:
		return c.Failures[0].Message
	case len(c.Errors) > 0:
		return c.Errors[0].Message
	case c.Skipped != nil:
		return *c.Skipped
	}
	return ""
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func TestWriteSuite(t *testing.T) {
	a := passing().analyze()
	doc, raw := write(t, []Run{{Name: "http-errors", A: a}})
	s := doc.Suites[0]
	wantCases := []string{
		"http-errors/experiment completed", "http-errors/no lab problems",
		"http-errors.steady-state.before/client-answers-200", "http-errors.steady-state.after/client-answers-200",
		"http-errors.recovery/recovered",
		"http-errors.objectives/answered_during_fault_min", "http-errors.objectives/p99_during_fault_max_ms",
	}
	var got []string
	for _, c := range s.Cases {
		got = append(got, c.id())
	}
	if strings.Join(got, "\n") != strings.Join(wantCases, "\n") {
		t.Errorf("cases:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantCases, "\n"))
	}
	checks := []struct{ what, got, want string }{
		{"testsuites name", doc.Name, "chaoslab test"},
		{"suite name", s.Name, "http-errors"},
		{"suite time", s.Time, "9.000"},
		{"testsuites time", doc.Time, "9.000"},
		{"timestamp", s.Timestamp, "2026-11-26T10:00:00Z"},
		{"probe time", find(t, s, "http-errors.steady-state.before/client-answers-200").Time, "0.250"},
		{"experiment time", find(t, s, "http-errors/experiment completed").Time, "8.000"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.what, c.got, c.want)
		}
	}
	props := map[string]string{}
	for _, p := range s.Properties {
		props[p.Name] = p.Value
	}
	for k, v := range map[string]string{"stack": "local", "resilience": "on", "rps": "10", "seed": "7",
		"objective.p99_during_fault_max_ms": "50", "status": "completed"} {
		if props[k] != v {
			t.Errorf("property %s: %q, want %q (all: %v)", k, props[k], v, props)
		}
	}
	var summary strings.Builder
	report.WriteSummary(&summary, a)
	if s.SystemOut != summary.String() {
		t.Errorf("system-out:\n%s\nwant report.WriteSummary:\n%s", s.SystemOut, summary.String())
	}
	if bytes.Contains(raw, []byte("&#xA;")) {
		t.Errorf("newlines written as references, not kept as lines:\n%s", raw)
	}
}

func TestWriteEscapes(t *testing.T) {
	l := passing()
	p := probe("probe <&> \"quoted\"\x07", false)
	p.Output = experiment.NewObject("body", awkward)
	l.journal = journal(experiment.StatusCompleted, probe("client-answers-200", true), p)
	l.info.Title = "title " + awkward
	l.info.Problems = []string{awkward}
	doc, raw := write(t, []Run{{Name: "run " + awkward, A: l.analyze()}})
	s := doc.Suites[0]
	if s.Name != "run "+awkwardClean {
		t.Errorf("suite name %q, want %q", s.Name, "run "+awkwardClean)
	}
	c := find(t, s, "run "+awkwardClean+".steady-state.after/probe <&> \"quoted\"")
	// The output is compact JSON: the control characters are JSON escapes by then.
	if msg := c.Failures[0].Message; !strings.Contains(msg, `<b>&amp; \"x\" 'y'</b> \u001b[31mred`) {
		t.Errorf("failure message %q does not carry the probe's output", msg)
	}
	if got := find(t, s, "run "+awkwardClean+"/no lab problems").Failures[0]; got.Message != awkwardClean || got.Text != awkwardClean {
		t.Errorf("problem message %q, text %q, want %q", got.Message, got.Text, awkwardClean)
	}
	if !strings.Contains(s.SystemOut, "title "+awkwardClean) {
		t.Errorf("system-out does not carry the title:\n%s", s.SystemOut)
	}
	for _, bad := range []string{"\x00", "\x07", "\x1b", "]]>"} {
		if bytes.Contains(raw, []byte(bad)) {
			t.Errorf("the XML contains %q", bad)
		}
	}
}

func TestWriteRuns(t *testing.T) {
	deviating := passing()
	deviating.info.Label, deviating.info.Resilience = results.LabelBaseline, results.ResilienceOff
	deviating.journal = journal(experiment.StatusCompleted, probe("client-answers-200", true), probe("client-answers-200", false))
	base := deviating.analyze()
	res := passing().analyze()
	failing := passing()
	failing.info.Objectives["p99_during_fault_max_ms"] = 1
	adaptive := passing()
	adaptive.info.Label, adaptive.info.Resilience = results.LabelAdaptive, results.ResilienceAdaptive
	ps := report.DefaultProfiles()
	pair := []report.ProfileRun{{Profile: ps[0], A: base}, {Profile: ps[1], A: res}}
	three := []report.ProfileRun{{Profile: ps[0], A: base}, {Profile: ps[1], A: res}, {Profile: ps[2], A: adaptive.analyze()}}
	tests := []struct {
		name string
		runs []Run
		// want per suite: name, and tests/failures/errors/skipped.
		want []string
	}{
		{
			name: "compare: the baseline's failures are expected",
			runs: FromRuns("http-errors", pair),
			want: []string{"http-errors (baseline) 7/0/0/1", "http-errors (resilient) 7/0/0/0"},
		},
		{
			name: "compare of three profiles: only the baseline's failures are expected",
			runs: FromRuns("http-errors", []report.ProfileRun{three[0], three[1], {Profile: ps[2], A: failing.analyze()}}),
			want: []string{"http-errors (baseline) 7/0/0/1", "http-errors (resilient) 7/0/0/0", "http-errors (adaptive) 7/1/0/0"},
		},
		{
			name: "compare whose adaptive run could not happen",
			runs: FromRuns("http-errors", []report.ProfileRun{three[0], three[1], {Profile: ps[2]}}),
			want: []string{"http-errors (baseline) 7/0/0/1", "http-errors (resilient) 7/0/0/0", "http-errors (adaptive) 1/0/1/0"},
		},
		{
			name: "no compare",
			runs: FromRuns("http-errors", []report.ProfileRun{{A: failing.analyze()}}),
			want: []string{"http-errors 7/1/0/0"},
		},
		{
			name: "suite",
			runs: FromSuite([]report.SuiteEntry{
				{Name: "http-errors", Runs: []report.ProfileRun{{A: res}}},
				{Name: "crash", Unavailable: "needs the netns stack"},
				{Name: "latency", Err: "not run: the suite was interrupted"},
				{Name: "partition", Runs: three},
			}),
			want: []string{"http-errors 7/0/0/0", "crash 1/0/0/1", "latency 1/0/1/0",
				"partition (baseline) 7/0/0/1", "partition (resilient) 7/0/0/0", "partition (adaptive) 7/0/0/0"},
		},
		{
			name: "suite that ran nothing",
			runs: FromSuite([]report.SuiteEntry{{Name: "crash", Unavailable: "needs the netns stack"}}),
			want: []string{"crash 1/0/0/1", "suite 1/0/1/0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, _ := write(t, tt.runs)
			var got []string
			for _, s := range doc.Suites {
				got = append(got, s.Name+" "+strings.Join([]string{strconv.Itoa(s.Tests), strconv.Itoa(s.Failures), strconv.Itoa(s.Errors), strconv.Itoa(s.Skipped)}, "/"))
			}
			if strings.Join(got, ", ") != strings.Join(tt.want, ", ") {
				t.Errorf("suites %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("baseline skip text", func(t *testing.T) {
		doc, _ := write(t, FromRuns("x", pair))
		c := find(t, doc.Suites[0], "x (baseline).steady-state.after/client-answers-200")
		if c.Skipped == nil || !strings.Contains(*c.Skipped, "expected in a baseline without resilience patterns: tolerance not met") {
			t.Errorf("skipped %v", c.Skipped)
		}
	})
}

func TestWriteFile(t *testing.T) {
	runs := FromRuns("http-errors", []report.ProfileRun{{A: passing().analyze()}})
	var want bytes.Buffer
	if err := Write(&want, "chaoslab", runs); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "junit.xml")
	if err := WriteFile(path, "chaoslab", runs); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("WriteFile wrote:\n%s\nWrite writes:\n%s", got, want.Bytes())
	}
	if err := WriteFile(filepath.Join(t.TempDir(), "missing", "junit.xml"), "chaoslab", runs); err == nil || !strings.Contains(err.Error(), "--junit") {
		t.Errorf("WriteFile into a missing folder: %v, want an error naming --junit", err)
	}
}
