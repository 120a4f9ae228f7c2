package report

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"chaoslab/internal/experiment"
)

// suite is three experiments: one passed, one deviated, one that could not run.
func suite() []SuiteEntry {
	deviated := edited(func(f *folder) { f.journal = journalOf(experiment.StatusCompleted, ptr(true), ptr(false)) })
	return []SuiteEntry{
		{Name: "partition", Fault: "network partition", Dir: "partition", Runs: single(known().analyze())},
		{Name: "http-errors", Fault: "HTTP 503 on 30% of requests", Dir: "runs/http errors", Runs: single(deviated.analyze())},
		{Name: "crash", Fault: "backend killed, restarted after 15 s", Dir: "crash", Err: "the stack did not start: port 8081 in use"},
	}
}

func TestSuitePassed(t *testing.T) {
	passed := SuiteEntry{Name: "a", Runs: single(known().analyze())}
	tests := []struct {
		name    string
		entries []SuiteEntry
		want    bool
	}{
		{"no entry", nil, false},
		{"every entry passed", []SuiteEntry{passed, passed}, true},
		{"one failed", suite()[:2], false},
		{"one did not run", []SuiteEntry{passed, suite()[2]}, false},
		{"one unavailable on the stack", []SuiteEntry{passed, {Name: "b", Unavailable: "no tc netem"}}, true},
		{"every entry unavailable", []SuiteEntry{{Name: "b", Unavailable: "no tc netem"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SuitePassed(tt.entries); got != tt.want {
				t.Errorf("SuitePassed = %t, want %t", got, tt.want)
			}
		})
	}
}

func TestWriteIndex(t *testing.T) {
	dir := t.TempDir()
	entries := suite()
	if err := WriteIndex(dir, "Fault catalogue", entries); err != nil {
		t.Fatal(err)
	}
	md := string(readTest(t, filepath.Join(dir, IndexMarkdown)))
	failed := entries[1].Runs[0].A.Verdict.Text()
	rows := []string{
		// known(): during the fault 87.5% answered 200, 87.5% fallbacks, p99 3 s, 0.86 attempts per
		// request (1 unknown), OPEN 2.2 s after the fault, CLOSED 9.8 s after the heal.
		"| [partition](partition/report.md) | network partition | PASSED | 87.5% | 87.5% | 3.00 s | 0.86 (1 unknown) | 2.20 s | 9.80 s | [report.html](partition/report.html) |",
		"| [http-errors](runs/http%20errors/report.md) | HTTP 503 on 30% of requests | " + failed + " | 87.5% | 87.5% | 3.00 s | 0.86 (1 unknown) | 2.20 s | 9.80 s | [report.html](runs/http%20errors/report.html) |",
		"| crash | backend killed, restarted after 15 s | NOT RUN: the stack did not start: port 8081 in use | n/a | n/a | n/a | n/a | n/a | n/a | — |",
	}
	for _, want := range append(rows, "# Fault catalogue", "**FAILED: 2 of 3 experiments did not pass** 1 of 3 experiments passed.",
		"| experiment | fault | verdict | answered 200 | fallback | p99 | attempts / request | fault → OPEN | heal → CLOSED | report |",
		"## What the figures mean", "- Fault → OPEN: from the first fault on event") {
		if !strings.Contains(md, want) {
			t.Errorf("index.md lacks %q:\n%s", want, md)
		}
	}
	if n := strings.Count(md, "\n| ") - 1; n != len(entries) { // less the heading row
		t.Errorf("index.md has %d rows, want %d", n, len(entries))
	}
	page := readTest(t, filepath.Join(dir, IndexHTML))
	doc := parseXHTML(t, page)
	trs := doc.all(classed("tr", "entry"))
	if len(trs) != len(entries) {
		t.Fatalf("index.html has %d entry rows, want %d", len(trs), len(entries))
	}
	links := doc.all(named("a"))
	var hrefs []string
	for _, a := range links {
		hrefs = append(hrefs, a.Attr["href"])
	}
	if want := "partition/report.html partition/report.html runs/http%20errors/report.html runs/http%20errors/report.html"; strings.Join(hrefs, " ") != want {
		t.Errorf("links %q, want %q", hrefs, want)
	}
	checkSelfContained(t, string(page))
	if !strings.Contains(string(page), `class="banner bad"`) || !strings.Contains(string(page), "NOT RUN: the stack did not start") {
		t.Error("index.html lacks the failed banner or the entry that did not run")
	}
}

func TestWriteIndexCompare(t *testing.T) {
	dir := t.TempDir()
	base, res := simulated(false, 1).analyze(), simulated(true, 1).analyze()
	entries := []SuiteEntry{{Name: "partition", Fault: "network partition", Dir: "partition",
		Runs: []ProfileRun{{Profile: Profiles()[0], A: base}, {Profile: Profiles()[1], A: res}}}}
	if err := WriteIndex(dir, "", entries); err != nil {
		t.Fatal(err)
	}
	md := string(readTest(t, filepath.Join(dir, IndexMarkdown)))
	// The figures the side-by-side report shows for the same runs.
	b, r := base.Phases[1], res.Phases[1]
	want := "; resilient: PASSED) | " +
		pctOrNA(b, b.PctOK200) + " / " + pctOrNA(r, r.PctOK200) + " | " + pctOrNA(b, b.PctFallback) + " / " + pctOrNA(r, r.PctFallback) + " | " +
		latOrNA(b, b.P99) + " / " + latOrNA(r, r.P99) + " | " + ampOrNA(b) + " / " + ampOrNA(r) + " | n/a / " + formatOptional(res.OpenAfterFault) +
		" | n/a / " + formatOptional(res.ClosedAfterHeal) + " |"
	for _, s := range []string{want, "# chaoslab suite", "**PASSED: every experiment the stack can run ran and passed**", "Each figure is baseline / resilient."} {
		if !strings.Contains(md, s) {
			t.Errorf("index.md lacks %q:\n%s", s, md)
		}
	}
	page := readTest(t, filepath.Join(dir, IndexHTML))
	doc := parseXHTML(t, page)
	trs := doc.all(classed("tr", "entry"))
	if len(trs) != 1 || len(trs[0].all(named("td"))) != 3+2*len(indexColumns())+1 {
		t.Errorf("%d entry rows; want 1 with a baseline and a resilient cell per figure", len(trs))
	}
	checkSelfContained(t, string(page))
}

// external finds a reference to something on the network: a link, a source, a stylesheet import.
var external = regexp.MustCompile(`(?i)(href|src)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?(https?:)?//|@import`)

// checkSelfContained fails when the page fetches anything: only the XHTML namespace may name an
// http:// address.
func checkSelfContained(t *testing.T, page string) {
	t.Helper()
	rest := strings.ReplaceAll(page, `xmlns="http://www.w3.org/1999/xhtml"`, "")
	if strings.Contains(rest, "http://") || strings.Contains(rest, "https://") || external.MatchString(rest) || strings.Contains(rest, "<script") {
		t.Errorf("the page refers to something outside itself")
	}
}
