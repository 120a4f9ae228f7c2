// Package junit writes the judgement of chaoslab runs as JUnit XML, the test report CI systems
// read (Jenkins, GitLab, the GitHub Actions test reporters): `chaoslab run --junit FILE`.
//
// It judges nothing itself: every case reads report.Analysis, whose Verdict (report.Judge) is
// the one judgement of a run. The file has one <testsuite> per run inside one <testsuites>; each
// suite has these test cases, in this order (the classname starts with the run's name):
//
//	<run>                           experiment completed   the journal exists, its status is completed, not interrupted
//	<run>                           no lab problems        RunInfo.Problems is empty
//	<run>.steady-state.before       <probe name>           one per hypothesis probe before the method
//	<run>.steady-state.after        <probe name>           one per hypothesis probe after it
//	<run>.recovery                  recovered              Analysis.Recovered, with the recovery figures
//	<run>.objectives                <objective name>       one per Analysis.Objectives, message ObjectiveResult.Text
//	<run>                           verdict                Verdict.Passed, message Verdict.Text
//
// A probe out of tolerance is a <failure>; a probe that raised or was cut short is an <error>.
// What was not checked is <skipped> with the reason as its text (the schema checked in under
// testdata, Jenkins' junit-4.xsd, allows no attribute on <skipped>): the probes of a hypothesis
// that did not run (the method was skipped, or the experiment ended first), a steady state
// without a journal, and the recovery and the objectives of a run that Judge does not judge
// them for (interrupted, or no journal). Such a run still fails its "experiment completed" case.
// Every reason of the verdict has its own case (experiment completed, no lab problems, the
// probes, recovered, each objective), so a suite has a failure or an error exactly when its
// verdict failed, and each failure names one reason.
//
// Each suite also carries the run's start (timestamp, UTC) and length (time, seconds), its
// settings as <properties> (stack, resilience, rps, seed, objectives, ...), and the terminal
// summary (report.WriteSummary) as <system-out>. Every text is cleaned of the characters XML
// cannot carry (control characters, terminal colour codes' escape).
//
// A compare has one suite per profile it ran (FromRuns). Its baseline (Run.Baseline,
// RESILIENCE=off) is expected to fail without its resilience patterns, and `chaoslab run
// --compare` exits 0 all the same when every other profile passed: the baseline's failed cases
// are written as <skipped>, with the failure in the text, so the file fails CI exactly when the
// exit status does.
package junit

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"chaoslab/internal/report"
)

// Run is one run to write as a <testsuite>. Exactly one of A, Err and Skipped is set.
type Run struct {
	Name string           // the suite's name: "http-errors", "http-errors (resilient)", "http-errors (adaptive)"
	A    *report.Analysis // the run's analysis, verdict included
	// Baseline marks a compare's baseline run (RESILIENCE=off), expected to fail: its failed
	// cases are written as skipped (see the package doc).
	Baseline bool
	Err      string // why the run could not happen (A nil): one case with an <error>
	Skipped  string // why the run was not attempted (A nil), e.g. the stack cannot run it: one skipped case
}

// FromRuns returns the <testsuite>s of one experiment's runs: a run outside a compare (the zero
// Profile) named name, or one per profile of a compare, in the order given, named "name
// (baseline)", "name (resilient)", "name (adaptive)". A run that could not happen (no analysis)
// is an erroring suite.
func FromRuns(name string, runs []report.ProfileRun) []Run {
	out := make([]Run, 0, len(runs))
	for _, r := range runs {
		n := name
		if r.Profile.Label != "" {
			n += " (" + r.Profile.Label + ")"
		}
		if r.A == nil {
			out = append(out, Run{Name: n, Err: "not run: the compare stopped before this profile"})
			continue
		}
		out = append(out, Run{Name: n, A: r.A, Baseline: !r.Judged()})
	}
	return out
}

// FromSuite returns the runs of a suite, in its order, judged as report.SuitePassed judges
// them: an entry the stack cannot run is a skipped suite, an entry that could not run an erroring
// one, and a suite that ran nothing ends with an erroring suite named "suite".
func FromSuite(entries []report.SuiteEntry) []Run {
	var out []Run
	ran := false
	for _, e := range entries {
		switch {
		case e.Unavailable != "":
			out = append(out, Run{Name: e.Name, Skipped: e.Unavailable})
		case len(e.Runs) == 0:
			out = append(out, Run{Name: e.Name, Err: e.Err})
		default:
			out = append(out, FromRuns(e.Name, e.Runs)...)
		}
		ran = ran || e.Unavailable == ""
	}
	if !ran {
		out = append(out, Run{Name: "suite", Err: "nothing ran: no entry of the catalogue can run on this stack"})
	}
	return out
}

// Write writes JUnit XML for the given runs: one <testsuite> per run (named after the experiment
// and, in a compare, its label), inside one <testsuites name=...>. It reads the runs and does
// not modify them.
func Write(w io.Writer, name string, runs []Run) error {
	doc := testsuites{Name: clean(name)}
	var total time.Duration
	for _, r := range runs {
		s, d := newSuite(r)
		doc.Suites = append(doc.Suites, s)
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		total += d
	}
	doc.Time = seconds(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	return nil
}

// WriteFile writes the runs' JUnit XML (Write) to path, replacing it.
func WriteFile(path, name string, runs []Run) error {
	var b bytes.Buffer
	if err := Write(&b, name, runs); err != nil {
		return err
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write --junit: %w", err)
	}
	return nil
}

// The XML, in the shape of Jenkins' junit-4.xsd (testdata/junit.xsd). Counts are attributes of
// both <testsuites> and <testsuite>; only <testsuite> has skipped (the schema's <testsuites>
// has no such attribute).
type testsuites struct {
	XMLName  xml.Name    `xml:"testsuites"`
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Time     string      `xml:"time,attr"`
	Suites   []testsuite `xml:"testsuite"`
}

type testsuite struct {
	Name       string      `xml:"name,attr"`
	Tests      int         `xml:"tests,attr"`
	Failures   int         `xml:"failures,attr"`
	Errors     int         `xml:"errors,attr"`
	Skipped    int         `xml:"skipped,attr"`
	Time       string      `xml:"time,attr"`
	Timestamp  string      `xml:"timestamp,attr,omitempty"`
	Properties *properties `xml:"properties"`
	Cases      []testcase  `xml:"testcase"`
	SystemOut  *text       `xml:"system-out"`
}

type properties struct {
	Props []property `xml:"property"`
}

type property struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type testcase struct {
	Name      string   `xml:"name,attr"`
	Classname string   `xml:"classname,attr"`
	Time      string   `xml:"time,attr"`
	Skipped   *text    `xml:"skipped"`
	Error     *problem `xml:"error"`
	Failure   *problem `xml:"failure"`
}

// problem is a <failure> or an <error>: a one-line message and the details as text.
type problem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",innerxml"` // escaped by escapeText: newlines stay readable
}

// text is an element holding only text (<skipped>, <system-out>).
type text struct {
	Body string `xml:",innerxml"` // escaped by escapeText
}

func newText(s string) *text { return &text{Body: escapeText(s)} }

// newSuite makes the <testsuite> of one run and returns its duration.
func newSuite(r Run) (testsuite, time.Duration) {
	s := testsuite{Name: clean(r.Name)}
	var d time.Duration
	switch {
	case r.A != nil:
		s.Cases = runCases(r.Name, r.A)
		if r.Baseline {
			expectFailures(s.Cases)
		}
		d = max(0, r.A.End.Sub(r.A.Origin))
		if !r.A.Origin.IsZero() {
			s.Timestamp = r.A.Origin.UTC().Format(time.RFC3339)
		}
		s.Properties = &properties{Props: settings(r.A)}
		var b strings.Builder
		report.WriteSummary(&b, r.A)
		s.SystemOut = newText(b.String())
	case r.Skipped != "":
		s.Cases = []testcase{skippedCase(r.Name, nameCompleted, "not run: "+r.Skipped)}
	default:
		s.Cases = []testcase{errorCase(r.Name, nameCompleted, "not-run", "the run could not happen: "+orUnknown(r.Err), "")}
	}
	s.Time = seconds(d)
	s.count()
	return s, d
}

// count sets the suite's counts from its cases.
func (s *testsuite) count() {
	s.Tests = len(s.Cases)
	for _, c := range s.Cases {
		switch {
		case c.Error != nil:
			s.Errors++
		case c.Failure != nil:
			s.Failures++
		case c.Skipped != nil:
			s.Skipped++
		}
	}
}

// expectFailures turns the failures and errors of a baseline's cases into skipped cases.
func expectFailures(cases []testcase) {
	for i := range cases {
		c := &cases[i]
		p := c.Failure
		if p == nil {
			p = c.Error
		}
		if p == nil {
			continue
		}
		msg := "expected in a baseline without resilience patterns: " + p.Message
		c.Failure, c.Error, c.Skipped = nil, nil, &text{Body: escapeText(msg) + "\n" + p.Body}
	}
}

// settings are the run's settings as <property> elements, in a fixed order.
func settings(a *report.Analysis) []property {
	r := a.Run
	props := []property{
		{"dir", a.Dir}, {"label", r.Label}, {"title", r.Title}, {"experiment", r.Experiment},
		{"stack", r.Stack}, {"resilience", r.Resilience},
		{"rps", strconv.FormatFloat(r.RPS, 'g', -1, 64)}, {"seed", strconv.FormatInt(r.Seed, 10)},
		{"load_timeout", time.Duration(r.LoadTimeout).String()}, {"recovery", time.Duration(r.Recovery).String()},
		{"status", a.Status}, {"deviated", strconv.FormatBool(a.Deviated)},
		{"interrupted", strconv.FormatBool(r.Interrupted)}, {"args", strings.Join(r.ChaoslabArgs, " ")},
	}
	for _, n := range slices.Sorted(maps.Keys(r.Objectives)) {
		props = append(props, property{"objective." + n, strconv.FormatFloat(r.Objectives[n], 'g', -1, 64)})
	}
	out := props[:0]
	for _, p := range props {
		if p.Value != "" {
			out = append(out, property{clean(p.Name), clean(p.Value)})
		}
	}
	return out
}

// seconds formats a duration as JUnit's time: seconds with three decimals.
func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

func orUnknown(s string) string {
	if s == "" {
		return "unknown reason"
	}
	return s
}

// clean makes s safe for XML 1.0: invalid UTF-8 becomes U+FFFD, and control characters
// (other than tab, newline and carriage return) and the non-characters U+FFFE and U+FFFF are
// removed, terminal colour codes included (their escape character is).
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return r
		case r < 0x20, r >= 0x7F && r <= 0x9F, r == 0xFFFE, r == 0xFFFF:
			return -1
		}
		return r
	}, s)
}

// textEscaper escapes character data: & and <, and > only where XML requires it (in "]]>"), so
// "CLOSED -> OPEN" stays readable; a carriage return is written as a reference so that it
// survives the parser's end-of-line handling.
var textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", "]]>", "]]&gt;", "\r", "&#xD;")

// escapeText is s cleaned and escaped as XML character data, its newlines kept as they are.
func escapeText(s string) string { return textEscaper.Replace(clean(s)) }
