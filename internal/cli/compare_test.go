package cli

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/report"
	"chaoslab/internal/results"
)

// TestCompareArgumentForms: --compare alone, --compare=LIST and --compare LIST (a list, or one
// profile name, then an optional experiment) give the profiles asked for and leave the
// experiment a positional argument.
func TestCompareArgumentForms(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		profiles string // labels joined by ","; "" = no compare
		pos      []string
	}{
		{"no --compare", []string{"http-errors"}, "", []string{"http-errors"}},
		{"alone", []string{"--compare"}, "off,on,adaptive", nil},
		{"alone before a name", []string{"--compare", "http-errors"}, "off,on,adaptive", []string{"http-errors"}},
		{"alone after a name", []string{"http-errors", "--compare"}, "off,on,adaptive", []string{"http-errors"}},
		{"=list", []string{"--compare=off,on"}, "off,on", nil},
		{"single dash =list", []string{"-compare=on,adaptive"}, "on,adaptive", nil},
		{"list then a name", []string{"--compare", "off,on,adaptive", "http-errors"}, "off,on,adaptive", []string{"http-errors"}},
		{"list in the order given", []string{"--compare", "adaptive,off"}, "adaptive,off", nil},
		{"list then another flag", []string{"--compare", "off,on", "--rps", "5"}, "off,on", nil},
		{"=true", []string{"--compare=true"}, "off,on,adaptive", nil},
		{"=false", []string{"--compare=false", "http-errors"}, "", []string{"http-errors"}},
		{"after --", []string{"--", "--compare", "off,on"}, "", []string{"--compare", "off,on"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c compareFlag
			fs := newFlags("run", "", io.Discard)
			fs.Var(&c, "compare", "")
			fs.Float64("rps", 20, "")
			pos, err := parse(fs, joinCompareValue(tt.args))
			if err != nil {
				t.Fatal(err)
			}
			ps, err := c.profiles()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.Resilience)
			}
			if strings.Join(got, ",") != tt.profiles || !slices.Equal(pos, tt.pos) {
				t.Errorf("profiles %v, positional %q; want %s and %q", got, pos, tt.profiles, tt.pos)
			}
		})
	}
}

// Bad profile lists exit 2 with one line naming the bad value and the allowed ones, before
// anything starts; the forms that parse reach the next check (a stack to run on).
func TestCompareProfilesRefused(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown name", []string{"--compare", "off,bogus"}, []string{`--compare off,bogus: profile "bogus" is not one of off, on, adaptive`}},
		{"unknown name after =", []string{"--compare=on,Adaptive"}, []string{`profile "Adaptive" is not one of off, on, adaptive`}},
		{"duplicate", []string{"--compare", "off,on,off"}, []string{`profile "off" is listed twice`}},
		{"one profile", []string{"--compare", "adaptive"}, []string{"--compare adaptive:", "at least two of off, on, adaptive"}},
		{"empty", []string{"--compare="}, nil}, // = nothing: the default list, refused below for the stack
		{"list with a name parses", []string{"--compare", "off,on", "http-errors"}, nil},
		{"alone with a name parses", []string{"--compare", "http-errors"}, nil},
		{"suite: unknown name", []string{"--suite", "--compare", "on,offf"}, []string{`profile "offf" is not one of off, on, adaptive`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			args := append([]string{"run", "--out", dir, "--stack", "none"}, tt.args...)
			want := tt.want
			if want == nil {
				want = []string{"--compare needs a stack"}
			}
			_, _, err := runCLI(t, args...)
			if cmdutil.ExitCode(err) != cmdutil.ExitUsage {
				t.Fatalf("exit %d (%v), want 2", cmdutil.ExitCode(err), err)
			}
			msg := err.Error()
			for _, w := range want {
				if !strings.Contains(msg, w) || strings.Contains(msg, "\n") {
					t.Errorf("error %q: want one line containing %q", msg, w)
				}
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a results folder was made (%v): something started", err)
			}
		})
	}
}

// TestCompareThreeProfilesEndToEnd runs `chaoslab run --compare off,on,adaptive` on the local
// stack, shortened: one report with a column per profile, each run's folder with its
// summary.json of that profile, JUnit with a suite per profile, the runs side by side on the
// terminal, and `chaoslab report` renders the folder again.
func TestCompareThreeProfilesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("three lab runs on the local stack (about 40 s)")
	}
	t.Setenv(envTestMain, "1") // the services are this test binary re-executed as chaoslab
	tmp := t.TempDir()
	out, junitFile := filepath.Join(tmp, "results"), filepath.Join(tmp, "junit.xml")
	args := append([]string{"run", "--compare", "off,on,adaptive", "network-partition", "--out", out, "--junit", junitFile,
		"--rps", "20", "--warmup", "1s", "--recovery", "3s", "--var", "partition_duration:int=2"}, fastPipeline...)
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), args, os.Getenv, &stdout, &stderr)
	md := string(readFile(t, filepath.Join(out, results.ReportMarkdown)))
	headline := rowOfText(md, "**")
	// Every profile but off must pass: the exit status says whether they did, as the headline does.
	if passed := strings.HasPrefix(headline, "**PASSED: resilient and adaptive passed"); passed != (err == nil) {
		t.Errorf("exit %v, headline %s: they disagree\nstdout:\n%s\nstderr:\n%s", err, headline, stdout.String(), stderr.String())
	}
	if err != nil && (cmdutil.ExitCode(err) != 1 || !strings.Contains(stderr.String(), "chaoslab: FAILED: ")) {
		t.Errorf("a failed compare: exit %d, stderr %q; want 1 and the reason", cmdutil.ExitCode(err), stderr.String())
	}
	for i, p := range report.DefaultProfiles() {
		line := "== run " + string(rune('1'+i)) + " of 3: " + p.Label + " (RESILIENCE=" + p.Resilience + ")"
		if !strings.Contains(stdout.String(), line) {
			t.Errorf("stdout lacks %q", line)
		}
		s, err := report.ReadSummaryJSON(filepath.Join(out, p.Dir, report.SummaryFile))
		if err != nil {
			t.Fatalf("%s: %v", p.Dir, err)
		}
		if s.Settings.Resilience != p.Resilience {
			t.Errorf("%s/summary.json: resilience %q, want %q", p.Dir, s.Settings.Resilience, p.Resilience)
		}
	}
	for _, want := range []string{"| | baseline | resilient | adaptive |", "| Resilience | off | on | adaptive |",
		"| | before: baseline | before: resilient | before: adaptive | during: baseline |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if head := rowOfText(stdout.String(), "baseline  "); !strings.Contains(head, "resilient") || !strings.Contains(head, "adaptive") {
		t.Errorf("the terminal summary does not show the three profiles side by side:\n%s", stdout.String())
	}

	var doc struct {
		Suites []struct {
			Name string `xml:"name,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(readFile(t, junitFile), &doc); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range doc.Suites {
		names = append(names, s.Name)
	}
	if want := []string{"network-partition (baseline)", "network-partition (resilient)", "network-partition (adaptive)"}; !slices.Equal(names, want) {
		t.Errorf("JUnit suites %q, want %q", names, want)
	}

	// chaoslab report renders the compare folder again, and prints the runs side by side.
	if err := os.Remove(filepath.Join(out, results.ReportMarkdown)); err != nil {
		t.Fatal(err)
	}
	rout, _, err := runCLI(t, "report", out)
	if err != nil {
		t.Fatalf("chaoslab report: %v", err)
	}
	if again := string(readFile(t, filepath.Join(out, results.ReportMarkdown))); !strings.Contains(again, "| | baseline | resilient | adaptive |") {
		t.Error("chaoslab report did not render the three columns again")
	}
	if !strings.Contains(rout, "compare: the runs side by side") {
		t.Errorf("chaoslab report of a compare folder does not print the runs side by side:\n%s", rout)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rowOfText returns the first line of text that starts with prefix (after spaces).
func rowOfText(text, prefix string) string {
	for l := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return l
		}
	}
	return ""
}
