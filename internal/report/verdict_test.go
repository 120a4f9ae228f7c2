package report

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/experiment"
	"chaoslab/internal/results"
)

const (
	reasonBeforeNotMet = "the steady state was not met before the fault, so the method was skipped"
	reasonDeviated     = "the steady state did not hold after the fault (deviated)"
)

// beforeNotMet is a run whose hypothesis failed before the fault: the engine skipped the method,
// so there is no fault, every request was answered by the backend and the breaker never moved.
// The real tool still calls that "completed" (conformance case 28).
func beforeNotMet() folder {
	f := known()
	f.events = nil
	for i := range f.recs {
		f.recs[i].Source, f.recs[i].Status, f.recs[i].Error, f.recs[i].Attempts = results.SourceBackend, 200, "", 1
	}
	f.journal = journalOf(experiment.StatusCompleted, ptr(false), nil)
	return f
}

func TestJudge(t *testing.T) {
	tests := []struct {
		name string
		f    folder
		want []string // nil: passed
	}{
		{"completed, held, recovered", known(), nil},
		{"steady state not met before", beforeNotMet(), []string{reasonBeforeNotMet}},
		{"deviated", edited(func(f *folder) { f.journal = journalOf(experiment.StatusCompleted, ptr(true), ptr(false)) }),
			[]string{reasonDeviated}},
		{"problems first, verbatim, then the journal", edited(func(f *folder) {
			f.run.Problems = []string{"client-service exited: signal: killed", "cleanup: proxy still up"}
			f.journal = journalOf(experiment.StatusFailed, ptr(true), ptr(false))
		}), []string{"client-service exited: signal: killed", "cleanup: proxy still up",
			"the experiment ended with status failed", reasonDeviated}},
		{"interrupted: neither the journal nor the recovery is judged", edited(func(f *folder) {
			f.run.Interrupted = true
			f.journal = journalOf(experiment.StatusInterrupted, ptr(true), nil)
			f.events = f.events[:3] // the breaker is still OPEN: not recovered
		}), []string{"interrupted: the rollbacks ran, journal status interrupted"}},
		{"interrupted before the experiment, said once", edited(func(f *folder) {
			f.run.Interrupted, f.journal = true, nil
			f.run.Problems = []string{"interrupted before the experiment started"}
		}), []string{"interrupted before the experiment started"}},
		{"no journal", edited(func(f *folder) { f.journal, f.run.Status = nil, "" }), []string{"the experiment did not run"}},
		{"not recovered", edited(func(f *folder) { f.events = f.events[:len(f.events)-2] }),
			[]string{"the system did not recover after the heal (breaker OPEN at the end)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.f.analyze().Verdict
			if v.Passed != (tt.want == nil) || !slices.Equal(v.Reasons, tt.want) {
				t.Errorf("verdict %+v, want reasons %q", v, tt.want)
			}
			wantText := PassedText
			if tt.want != nil {
				wantText = "FAILED: " + strings.Join(tt.want, "; ")
			}
			if v.Text() != wantText || v.ExitCode() != map[bool]int{true: 0, false: 1}[v.Passed] {
				t.Errorf("text %q, exit code %d; want %q", v.Text(), v.ExitCode(), wantText)
			}
		})
	}
}

// TestOneVerdictEverywhere renders runs from memory (as the lab does) and from a folder (as
// `chaoslab report` does: Load, RenderAnalysis, WriteSummary): report.md's headline,
// report.html's banner and the summary's last line must all be Judge's verdict.
func TestOneVerdictEverywhere(t *testing.T) {
	tests := []struct {
		name string
		f    folder
		want string
		bad  bool
	}{
		{"steady state not met before", beforeNotMet(), "FAILED: " + reasonBeforeNotMet, true},
		{"passed", known(), PassedText, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := tt.f.analyze()
			if mem.Verdict.Text() != tt.want {
				t.Fatalf("Judge: %q, want %q", mem.Verdict.Text(), tt.want)
			}
			memDir := t.TempDir()
			if err := RenderAnalysis(memDir, mem); err != nil {
				t.Fatal(err)
			}
			checkShown(t, "from memory", memDir, mem, tt.want, tt.bad)

			dir := t.TempDir()
			tt.f.write(t, dir)
			a, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := RenderAnalysis(dir, a); err != nil {
				t.Fatal(err)
			}
			checkShown(t, "from the folder", dir, a, tt.want, tt.bad)
		})
	}
}

// checkShown checks that report.md, report.html and the summary of a show want.
func checkShown(t *testing.T, how, dir string, a *Analysis, want string, bad bool) {
	t.Helper()
	md := string(readTest(t, filepath.Join(dir, results.ReportMarkdown)))
	if !strings.Contains(md, "\n**"+want+"**\n") || strings.Contains(md, "**PASSED") == bad {
		t.Errorf("%s: report.md does not headline %q (or shows the other verdict):\n%.400s", how, want, md)
	}
	class := map[bool]string{true: "banner bad", false: "banner ok"}[bad]
	banners := parseXHTML(t, readTest(t, filepath.Join(dir, results.ReportHTML))).all(classed("div", class))
	if len(banners) != 1 || banners[0].Text != want {
		t.Errorf("%s: report.html banners (%s) = %d, text %q; want one saying %q", how, class, len(banners), bannerText(banners), want)
	}
	var b strings.Builder
	WriteSummary(&b, a)
	if last := lastLine(b.String()); last != want {
		t.Errorf("%s: the summary ends %q, want %q", how, last, want)
	}
}

func bannerText(ns []*node) string {
	if len(ns) == 0 {
		return ""
	}
	return ns[0].Text
}

func TestRecovered(t *testing.T) {
	heal := func(f *folder, events ...results.Event) {
		f.events = append([]results.Event{faultEv(2, "on"), breakerEv(4.2, "CLOSED", "OPEN")}, events...)
	}
	tests := []struct {
		name   string
		f      folder
		want   bool
		reason string
	}{
		{"closed after the heal", known(), true, ""},
		{"closed before the heal and stayed CLOSED", edited(func(f *folder) {
			heal(f, breakerEv(12, "OPEN", "HALF_OPEN"), breakerEv(12.3, "HALF_OPEN", "CLOSED"), faultEv(15, "off"))
		}), true, ""},
		{"still OPEN at the end", edited(func(f *folder) { heal(f, faultEv(15, "off")) }),
			false, "the system did not recover after the heal (breaker OPEN at the end)"},
		{"HALF_OPEN at the end", edited(func(f *folder) {
			heal(f, faultEv(15, "off"), breakerEv(24.5, "OPEN", "HALF_OPEN"))
		}), false, "the system did not recover after the heal (breaker HALF_OPEN at the end)"},
		{"no backend answer after the heal", edited(func(f *folder) {
			for i := range f.recs {
				if !f.recs[i].Start.Before(at(15)) {
					f.recs[i].Source = results.SourceFallback
				}
			}
		}), false, "the system did not recover after the heal (no backend answer after it)"},
		{"fault never removed", edited(func(f *folder) { f.events = f.events[:1] }),
			false, "the system did not recover: the fault was never removed"},
		{"baseline: no breaker, the backend answers after the heal", edited(func(f *folder) {
			f.run.Resilience = results.ResilienceOff
			f.events = []results.Event{faultEv(2, "on"), faultEv(15, "off")}
		}), true, ""},
		{"no fault: the last requests fail", edited(func(f *folder) {
			f.events = nil
			for i := len(f.recs) - 5; i < len(f.recs); i++ {
				f.recs[i] = rec(25+float64(i)/100, time.Second, results.SourceError, 1)
			}
		}), false, "the system did not recover (no backend answer among the last requests)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.f.analyze()
			if a.Recovered != tt.want {
				t.Errorf("Recovered = %t, want %t (final breaker %q, backend healed %t)", a.Recovered, tt.want, a.FinalBreaker, a.BackendHealed)
			}
			if got := slices.Contains(a.Verdict.Reasons, tt.reason); got == tt.want {
				t.Errorf("reasons %q, want them to hold %q: %t", a.Verdict.Reasons, tt.reason, !tt.want)
			}
		})
	}
}

// partitionRun is a run whose "during" phase holds recs, between a fault at +2s and a heal at
// +15s, with the given resilience.
func partitionRun(resilience string, recs ...results.Record) folder {
	f := known()
	f.run.Resilience = resilience
	f.recs = append([]results.Record{rec(1, ms(2), results.SourceBackend, 1)}, recs...)
	f.recs = append(f.recs, rec(16, ms(2), results.SourceBackend, 1))
	f.events = []results.Event{faultEv(2, "on"), faultEv(15, "off")}
	return f
}

func TestAmplification(t *testing.T) {
	const b, fb, e = results.SourceBackend, results.SourceFallback, results.SourceError
	badGateway := rec(4, time.Second, e, 1)
	badGateway.Status = 502
	tests := []struct {
		name          string
		f             folder
		amp           float64
		known, unkown int
		text          string
	}{
		{"baseline partition: one call each, timeouts at the load included", partitionRun(results.ResilienceOff,
			rec(3, 15*time.Second, e, 1), rec(3.5, 15*time.Second, e, 1), badGateway, rec(14, ms(3), b, 1)),
			1, 4, 0, "1.00"},
		{"rejections by the breaker are known zeros", partitionRun(results.ResilienceOn,
			rec(3, 3*time.Second, fb, 2), rec(4, ms(1), fb, 0), rec(5, ms(1), fb, 0), rec(6, ms(1), fb, 0)),
			0.5, 4, 0, "0.50"},
		{"unknown counts are left out and shown", partitionRun(results.ResilienceOn,
			rec(3, ms(3), fb, 1), rec(4, ms(3), fb, 1), rec(5, 15*time.Second, e, unknown), rec(6, 15*time.Second, e, unknown),
			rec(7, 15*time.Second, e, unknown)),
			1, 2, 3, "1.00 (3 unknown)"},
		{"nothing known", partitionRun(results.ResilienceOn, rec(3, time.Second, e, unknown), rec(4, time.Second, e, unknown)),
			0, 0, 2, "n/a (2 unknown)"},
		{"dropped requests are not in it", partitionRun(results.ResilienceOn,
			rec(3, ms(3), fb, 3), rec(4, 0, results.SourceDropped, 0), rec(5, 0, results.SourceDropped, 0)),
			3, 1, 0, "3.00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.f.analyze()
			p := a.Phases[1]
			if p.Amplification != tt.amp || p.KnownAttempts != tt.known || p.UnknownAttempts != tt.unkown || ampOrNA(p) != tt.text {
				t.Errorf("during: amplification %v (%q), known %d, unknown %d; want %v (%q), %d, %d",
					p.Amplification, ampOrNA(p), p.KnownAttempts, p.UnknownAttempts, tt.amp, tt.text, tt.known, tt.unkown)
			}
			var sum strings.Builder
			WriteSummary(&sum, a)
			md := renderedMarkdown(t, a)
			if !strings.Contains(rowOf(sum.String(), "during"), tt.text) || !strings.Contains(rowOf(md, "| during |"), "| "+tt.text+" |") {
				t.Errorf("the summary's or report.md's during row lacks %q:\n%s\n%s", tt.text, rowOf(sum.String(), "during"), rowOf(md, "| during |"))
			}
		})
	}
}

func TestDropped(t *testing.T) {
	const b = results.SourceBackend
	f := partitionRun(results.ResilienceOn,
		rec(3, ms(10), b, 1), rec(4, ms(20), b, 1), rec(5, ms(30), b, 1), rec(6, ms(40), b, 1),
		rec(7, 0, results.SourceDropped, 0), rec(8, 0, results.SourceDropped, 0))
	a := f.analyze()
	p := a.Phases[1]
	// With the dropped requests as 0 ms entries, p50 would be 10 ms (3rd of 6), not 20 ms (2nd of 4).
	if p.Requests != 6 || p.Sent != 4 || p.Dropped != 2 || p.Errors != 0 || p.P50 != ms(20) || p.P99 != ms(40) {
		t.Errorf("requests %d sent %d dropped %d errors %d p50 %v p99 %v; want 6, 4, 2, 0, 20ms, 40ms",
			p.Requests, p.Sent, p.Dropped, p.Errors, p.P50, p.P99)
	}
	if !near(p.PctOK200, 400.0/6) || !near(p.PctDropped, 200.0/6) {
		t.Errorf("answered 200 %.2f%%, dropped %.2f%%; want them of the 6 offered", p.PctOK200, p.PctDropped)
	}
	if !slices.ContainsFunc(a.Reasons, func(r Reason) bool { return r.Source == results.SourceDropped && r.Count == 2 }) {
		t.Errorf("reasons %+v lack the 2 dropped", a.Reasons)
	}
	var sum strings.Builder
	WriteSummary(&sum, a)
	if row := rowOf(sum.String(), "during"); !strings.Contains(row, "2 (33.3%)") || !strings.Contains(sum.String(), "dropped") {
		t.Errorf("the summary does not show the dropped requests:\n%s", sum.String())
	}
	if row := rowOf(renderedMarkdown(t, a), "| during |"); !strings.Contains(row, "| 66.7% |") || !strings.Contains(row, "| 2 (33.3%) |") {
		t.Errorf("report.md's during row: %s", row)
	}
	page := compareMarkdown(t, a)
	if row := rowOf(page, "| dropped |"); !strings.Contains(row, "| 2 (33.3%) |") {
		t.Errorf("the compare table's dropped row: %q", row)
	}
}

func TestSendLag(t *testing.T) {
	late := rec(3, ms(40), results.SourceBackend, 1)
	late.SendLag = ms(25)
	a := partitionRun(results.ResilienceOn, late, rec(4, ms(3), results.SourceBackend, 1)).analyze()
	if a.Phases[1].MaxSendLag != ms(25) || a.MaxSendLag != ms(25) || !hasNote(a, "up to 25.0 ms after their scheduled arrival") {
		t.Errorf("max send lag %v / %v, notes %q", a.Phases[1].MaxSendLag, a.MaxSendLag, a.Notes)
	}
	if row := rowOf(renderedMarkdown(t, a), "| during |"); !strings.Contains(row, "| 25.0 ms |") {
		t.Errorf("report.md's during row lacks the send lag: %s", row)
	}
	if quiet := known().analyze(); hasNote(quiet, "scheduled arrival") {
		t.Errorf("a load without lag has a note: %q", quiet.Notes)
	}
}

// renderedMarkdown renders a's report.md from memory and returns it.
func renderedMarkdown(t *testing.T, a *Analysis) string {
	t.Helper()
	dir := t.TempDir()
	if err := RenderAnalysis(dir, a); err != nil {
		t.Fatal(err)
	}
	return string(readTest(t, filepath.Join(dir, results.ReportMarkdown)))
}

// compareMarkdown renders a compare page of a against itself.
func compareMarkdown(t *testing.T, a *Analysis) string {
	t.Helper()
	dir := t.TempDir()
	if err := writeReports(dir, comparePage([]ProfileRun{{Profile: Profiles()[0], A: a}, {Profile: Profiles()[1], A: a}})); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, results.ReportMarkdown))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rowOf returns the first line of text that starts with prefix (after spaces).
func rowOf(text, prefix string) string {
	for l := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return l
		}
	}
	return ""
}
