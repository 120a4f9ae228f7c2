package cli

import (
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"chaoslab/internal/cmdutil"
)

// junitFile is what the test reads of a JUnit file.
type junitFile struct {
	Failures int `xml:"failures,attr"`
	Suites   []struct {
		Cases []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, path string) junitFile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var j junitFile
	if err := xml.Unmarshal(data, &j); err != nil {
		t.Fatalf("%s is not XML: %v", path, err)
	}
	return j
}

// End to end: an objective the run cannot meet fails it (exit 1) and is the one failure of the
// JUnit file, with the measured value; reachable objectives pass (exit 0).
func TestObjectivesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("two lab runs")
	}
	t.Setenv(envTestMain, "1")
	dir := t.TempDir()
	base := append([]string{"run", "network-partition", "--rps", "20", "--warmup", "1s", "--recovery", "3s",
		"--var", "partition_duration:int=2", "--objective", "p99_while_open_max_ms=1000"}, fastPipeline...)

	junit := filepath.Join(dir, "failing.xml")
	stdout, _, err := runCLI(t, append(base, "--out", filepath.Join(dir, "failing"), "--junit", junit,
		"--objective", "p99_before_max_ms=0.001")...)
	if !errors.Is(err, cmdutil.ErrFailed) || !strings.Contains(stdout, "objective p99_before_max_ms: ") || !strings.Contains(stdout, "FAILED") {
		t.Fatalf("unreachable objective: err %v, output:\n%s", err, stdout)
	}
	j := readJUnit(t, junit)
	var failed []string
	for _, s := range j.Suites {
		for _, c := range s.Cases {
			if c.Failure != nil {
				failed = append(failed, c.Name)
				if c.Failure.Type != "objective" || !strings.Contains(c.Failure.Message, "ms, want <= 0.00") {
					t.Errorf("failure %+v: want the objective with its measured value", *c.Failure)
				}
			}
		}
	}
	if len(failed) != 1 || failed[0] != "p99_before_max_ms" || j.Failures != 1 {
		t.Errorf("JUnit failures %v (count %d), want exactly p99_before_max_ms", failed, j.Failures)
	}

	junit = filepath.Join(dir, "passing.xml")
	stdout, _, err = runCLI(t, append(base, "--out", filepath.Join(dir, "passing"), "--junit", junit,
		"--objective", "p99_before_max_ms=10000", "--objective", "answered_during_fault_min=0.5")...)
	if err != nil || !strings.Contains(stdout, "objective answered_during_fault_min: ") {
		t.Fatalf("reachable objectives: err %v, output:\n%s", err, stdout)
	}
	if j := readJUnit(t, junit); j.Failures != 0 || len(j.Suites) != 1 {
		t.Errorf("JUnit of a passing run: %d failures in %d suites", j.Failures, len(j.Suites))
	}
}

// Objectives are checked before anything starts: an unknown one, or a wrong type in an
// experiment file, is exit 2 with one line naming it.
func TestObjectivesRefused(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	data, err := os.ReadFile(filepath.Join("..", "..", "chaos", "local", "http-errors-experiment.json"))
	if err != nil {
		t.Fatal(err)
	}
	edited := regexp.MustCompile(`"objectives": \{[^}]*\}`).ReplaceAllString(string(data), `"objectives": {"p99_while_open_max_ms": "fast"}`)
	if edited == string(data) {
		t.Fatal("the experiment has no objectives to edit")
	}
	if err := os.WriteFile(bad, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown objective", []string{"run", "--objective", "p99_whilst_open_max_ms=20"}, `unknown objective "p99_whilst_open_max_ms"`},
		{"share above 1", []string{"run", "--objective", "answered_during_fault_min=99"}, "from 0 to 1"},
		{"wrong type in the file", []string{"run", "--out", filepath.Join(t.TempDir(), "out"), bad}, `objective p99_while_open_max_ms: "fast" is not a number`},
		{"validate says so too", []string{"validate", bad}, `objective p99_while_open_max_ms: "fast" is not a number`},
		{"junit without a stack", []string{"run", "--stack", "none", "--junit", "x.xml"}, "--junit needs a stack"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCLI(t, tt.args...)
			if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v (exit %d), want one line, exit 2, containing %q", err, cmdutil.ExitCode(err), tt.want)
			}
		})
	}
}
