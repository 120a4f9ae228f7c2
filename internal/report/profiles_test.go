package report

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"chaoslab/internal/results"
)

// single is the runs of an entry that is not a compare.
func single(a *Analysis) []ProfileRun { return []ProfileRun{{A: a}} }

// profileFolder is a simulated run of profile p: the baseline's without patterns, the others'
// with them.
func profileFolder(p Profile, seed uint64) folder {
	f := simulated(p.Resilience != results.ResilienceOff, seed)
	f.run.Resilience, f.run.Label = p.Resilience, p.Label
	return f
}

// threeRuns is a compare of every profile, from memory.
func threeRuns(seed uint64) []ProfileRun {
	var runs []ProfileRun
	for _, p := range DefaultProfiles() {
		runs = append(runs, ProfileRun{Profile: p, A: profileFolder(p, seed).analyze()})
	}
	return runs
}

// writeCompareFolder writes a compare folder holding a run of each profile.
func writeCompareFolder(t *testing.T, dir string, seed uint64, profiles ...Profile) {
	t.Helper()
	for _, p := range profiles {
		profileFolder(p, seed).write(t, filepath.Join(dir, p.Dir))
	}
}

func TestParseProfiles(t *testing.T) {
	tests := []struct {
		list    string
		want    string // the labels, joined by ","
		wantErr string
	}{
		{"off,on,adaptive", "baseline,resilient,adaptive", ""},
		{"off,on", "baseline,resilient", ""},
		{"adaptive, on", "adaptive,resilient", ""},
		{"on,adaptive", "resilient,adaptive", ""},
		{"off,bogus", "", `profile "bogus" is not one of off, on, adaptive`},
		{"ON,off", "", `profile "ON" is not one of off, on, adaptive`},
		{"off,,on", "", `profile "" is not one of`},
		{"off,on,off", "", `profile "off" is listed twice`},
		{"on", "", "a compare needs at least two of off, on, adaptive"},
		{"", "", `profile "" is not one of`},
	}
	for _, tt := range tests {
		t.Run(tt.list, func(t *testing.T) {
			got, err := ParseProfiles(tt.list)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want one line containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var labels []string
			for _, p := range got {
				labels = append(labels, p.Label)
			}
			if strings.Join(labels, ",") != tt.want {
				t.Errorf("labels %v, want %s", labels, tt.want)
			}
		})
	}
}

func TestRunsPassedAndHeadline(t *testing.T) {
	pass, fail := known().analyze(), edited(func(f *folder) { f.run.Problems = []string{"the lab broke"} }).analyze()
	if !pass.Verdict.Passed || fail.Verdict.Passed {
		t.Fatal("the fixtures do not pass and fail")
	}
	ps := DefaultProfiles()
	base, res, adapt := ps[0], ps[1], ps[2]
	tests := []struct {
		name     string
		runs     []ProfileRun
		want     bool
		headline []string // substrings of the headline
		failure  string
	}{
		{"single run passed", []ProfileRun{{A: pass}}, true, nil, ""},
		{"single run failed", []ProfileRun{{A: fail}}, false, nil, "the lab broke"},
		{"baseline failed, the others passed", []ProfileRun{{base, fail}, {res, pass}, {adapt, pass}}, true,
			[]string{"PASSED: resilient and adaptive passed"}, ""},
		{"adaptive failed", []ProfileRun{{base, fail}, {res, pass}, {adapt, fail}}, false,
			[]string{"FAILED: adaptive failed (the lab broke)", "resilient passed"}, "adaptive: the lab broke"},
		{"adaptive did not run", []ProfileRun{{base, fail}, {res, pass}, {adapt, nil}}, false,
			[]string{"adaptive failed (did not run)"}, "adaptive: did not run"},
		{"only the baseline ran", []ProfileRun{{base, pass}}, false, []string{"FAILED: no profile but the baseline ran; the baseline did NOT deviate"}, "no run was judged"},
		{"no baseline", []ProfileRun{{res, pass}, {adapt, pass}}, true, []string{"PASSED: resilient and adaptive passed"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RunsPassed(tt.runs); got != tt.want {
				t.Errorf("RunsPassed = %t, want %t", got, tt.want)
			}
			if got := RunsFailure(tt.runs); got != tt.failure {
				t.Errorf("RunsFailure = %q, want %q", got, tt.failure)
			}
			h := CompareHeadline(tt.runs)
			for _, w := range tt.headline {
				if !strings.Contains(h, w) {
					t.Errorf("headline %q lacks %q", h, w)
				}
			}
		})
	}
}

func TestIsCompareDir(t *testing.T) {
	ps := DefaultProfiles()
	tests := []struct {
		name string
		subs []Profile
		want bool
	}{
		{"none", nil, false},
		{"baseline alone", ps[:1], false},
		{"baseline and resilient", ps[:2], true},
		{"resilient and adaptive", ps[1:], true},
		{"baseline and adaptive", []Profile{ps[0], ps[2]}, true},
		{"all three", ps, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, p := range tt.subs {
				if err := os.Mkdir(filepath.Join(dir, p.Dir), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if got := IsCompareDir(dir); got != tt.want {
				t.Errorf("IsCompareDir = %t, want %t", got, tt.want)
			}
		})
	}
}

// A compare folder of three profiles renders one report with a column per profile, in
// Profiles' order, each run with its own report and summary.json, on one time scale.
func TestRenderThreeProfiles(t *testing.T) {
	dir := t.TempDir()
	writeCompareFolder(t, dir, 1, DefaultProfiles()...)
	if err := Render(dir); err != nil {
		t.Fatal(err)
	}
	md := string(readTest(t, filepath.Join(dir, results.ReportMarkdown)))
	for _, want := range []string{
		"| | baseline | resilient | adaptive |",
		"| Resilience | off | on | adaptive |",
		"| Verdict | FAILED | PASSED | PASSED |",
		"| | before: baseline | before: resilient | before: adaptive | during: baseline | during: resilient | during: adaptive | after: baseline | after: resilient | after: adaptive |",
		"- **adaptive** (`RESILIENCE=adaptive`)",
		"The exit status is 0 only when every run but the baseline passed: resilient, adaptive.",
		"The baseline deviated, as expected",
		"**PASSED: resilient and adaptive passed",
		"### baseline", "### resilient", "### adaptive",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if row := rowOf(md, "| requests |"); strings.Count(row, "|") != 1+9+1 {
		t.Errorf("the per-phase row has not 9 cells (3 phases x 3 profiles): %q", row)
	}
	doc := parseXHTML(t, readTest(t, filepath.Join(dir, results.ReportHTML)))
	svgs := doc.all(named("svg"))
	if len(svgs) != 3 {
		t.Fatalf("%d timelines, want 3", len(svgs))
	}
	for i, s := range svgs[1:] {
		if s.Attr["viewBox"] != svgs[0].Attr["viewBox"] {
			t.Errorf("timeline %d has another frame (%s) than the first (%s)", i+1, s.Attr["viewBox"], svgs[0].Attr["viewBox"])
		}
	}
	for _, p := range DefaultProfiles() {
		s, err := ReadSummaryJSON(filepath.Join(dir, p.Dir, SummaryFile))
		if err != nil {
			t.Fatalf("%s: %v", p.Dir, err)
		}
		if s.Settings.Resilience != p.Resilience {
			t.Errorf("%s/summary.json: resilience %q, want %q", p.Dir, s.Settings.Resilience, p.Resilience)
		}
		if _, err := os.Stat(filepath.Join(dir, p.Dir, results.ReportHTML)); err != nil {
			t.Errorf("%s has no report of its own: %v", p.Dir, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, SummaryFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the compare folder itself has a summary.json (%v)", err)
	}
}

// A compare whose adaptive run failed says so in the headline, and the report of a two-profile
// folder without the baseline has no baseline sentence.
func TestRenderCompareHeadlines(t *testing.T) {
	ps := DefaultProfiles()
	t.Run("adaptive failed", func(t *testing.T) {
		dir := t.TempDir()
		writeCompareFolder(t, dir, 2, ps[0], ps[1])
		f := profileFolder(ps[2], 2)
		f.run.Problems = []string{"backend-service died"}
		f.write(t, filepath.Join(dir, ps[2].Dir))
		if err := Render(dir); err != nil {
			t.Fatal(err)
		}
		md := string(readTest(t, filepath.Join(dir, results.ReportMarkdown)))
		if !strings.Contains(md, "**FAILED: adaptive failed (backend-service died") || !strings.Contains(md, "resilient passed") {
			t.Errorf("the headline does not say adaptive failed and resilient passed:\n%s", firstLines(md, 4))
		}
	})
	t.Run("no baseline", func(t *testing.T) {
		dir := t.TempDir()
		writeCompareFolder(t, dir, 2, ps[1], ps[2])
		if err := Render(dir); err != nil {
			t.Fatal(err)
		}
		md := string(readTest(t, filepath.Join(dir, results.ReportMarkdown)))
		if !strings.Contains(md, "| | resilient | adaptive |") || strings.Contains(md, "The baseline") {
			t.Errorf("report.md of resilient and adaptive:\n%s", firstLines(md, 30))
		}
	})
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

func TestWriteCompareSummary(t *testing.T) {
	runs := threeRuns(1)
	var b strings.Builder
	WriteCompareSummary(&b, runs)
	out := b.String()
	head := rowOf(out, "baseline")
	if !strings.Contains(head, "resilient") || !strings.Contains(head, "adaptive") ||
		strings.Index(head, "baseline") > strings.Index(head, "resilient") || strings.Index(head, "resilient") > strings.Index(head, "adaptive") {
		t.Errorf("the heading row does not name the three profiles in order: %q", head)
	}
	for _, r := range runs {
		d := r.A.Phases[1]
		if row := rowOf(out, "during: answered 200"); !strings.Contains(row, pctOrNA(d, d.PctOK200)) {
			t.Errorf("%s's answered 200 during the fault is not in %q", r.Profile.Label, row)
		}
	}
	if row := rowOf(out, "Verdict"); !strings.Contains(row, "FAILED") || strings.Count(row, "PASSED") != 2 {
		t.Errorf("verdict row %q", row)
	}
	if !strings.HasSuffix(strings.TrimSpace(out), "the baseline deviated, as expected") || !strings.Contains(out, "PASSED: resilient and adaptive passed") {
		t.Errorf("the summary does not end with the compare's headline:\n%s", out)
	}
}

func TestWriteIndexThreeProfiles(t *testing.T) {
	dir := t.TempDir()
	failing := threeRuns(1)
	f := profileFolder(Profiles()[2], 1)
	f.run.Problems = []string{"backend-service died"}
	failing[2].A = f.analyze()
	entries := []SuiteEntry{
		{Name: "partition", Fault: "network partition", Dir: "partition", Runs: threeRuns(1)},
		{Name: "crash", Fault: "backend killed", Dir: "crash", Runs: failing},
	}
	if err := WriteIndex(dir, "", entries); err != nil {
		t.Fatal(err)
	}
	md := string(readTest(t, filepath.Join(dir, IndexMarkdown)))
	r := entries[0].Runs
	ok := func(a *Analysis) string { p := a.Phases[1]; return pctOrNA(p, p.PctOK200) }
	for _, want := range []string{
		"| [partition](partition/report.md) | network partition | PASSED (baseline: deviated, as expected; resilient: PASSED; adaptive: PASSED) | " + ok(r[0].A) + " / " + ok(r[1].A) + " / " + ok(r[2].A) + " |",
		"| [crash](crash/report.md) | backend killed | FAILED: adaptive failed (baseline: deviated, as expected; resilient: PASSED; adaptive: FAILED: backend-service died) |",
		"; adaptive: FAILED: backend-service died",
		"Each figure is baseline / resilient / adaptive.",
		"**FAILED: 1 of 2 experiments did not pass**",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("index.md lacks %q:\n%s", want, md)
		}
	}
	doc := parseXHTML(t, readTest(t, filepath.Join(dir, IndexHTML)))
	trs := doc.all(classed("tr", "entry"))
	if len(trs) != 2 || len(trs[0].all(named("td"))) != 3+3*len(indexColumns())+1 {
		t.Errorf("%d entry rows; want 2 with three cells per figure", len(trs))
	}
	if !SuitePassed(entries[:1]) || SuitePassed(entries) {
		t.Error("SuitePassed does not judge every profile but the baseline")
	}
}

// A compare interrupted before its last profile: the runs that happened have a column, the
// headline says the missing one failed.
func TestRenderCompareWithAMissingRun(t *testing.T) {
	dir := t.TempDir()
	runs := threeRuns(1)
	runs[2].A = nil
	for _, r := range runs[:2] {
		if err := os.Mkdir(filepath.Join(dir, r.Profile.Dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := RenderCompare(dir, runs); err != nil {
		t.Fatal(err)
	}
	md := string(readTest(t, filepath.Join(dir, results.ReportMarkdown)))
	if !strings.Contains(md, "| | baseline | resilient |\n") || !strings.Contains(md, "**FAILED: adaptive failed (did not run); resilient passed") {
		t.Errorf("report.md:\n%s", firstLines(md, 20))
	}
	if _, err := os.Stat(filepath.Join(dir, results.AdaptiveDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a folder was made for the run that did not happen (%v)", err)
	}
}
