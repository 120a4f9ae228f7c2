package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"chaoslab/internal/results"
)

// resultFiles lists the files of a results folder, observations/ included, sorted.
func resultFiles(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			names = append(names, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

// stdoutShape is what a run's stdout says, line by line, without its numbers: the first word
// of each line (the status lines, the activities, the notes and the effects, which depend on
// the machine's timing, are left out).
func stdoutShape(out string) []string {
	var shape []string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "["), strings.HasPrefix(line, "note: "), strings.HasPrefix(line, "effect: "),
			strings.HasPrefix(line, "  ") && strings.Contains(line, ": ") && !strings.HasPrefix(line, "  client "):
			continue
		}
		first, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		shape = append(shape, first)
	}
	return shape
}

// Without --topology a run is today's: the same files, events without a tier, the same
// requests.csv header, no topology in run.json, no layers in summary.json or the reports,
// and the same stdout lines.
func TestNoTopologyRunUnchanged(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end lab run (about 10 s)")
	}
	t.Setenv(envTestMain, "1")
	out := filepath.Join(t.TempDir(), "results")
	args := append([]string{"run", "--out", out, "--rps", "20", "--warmup", "1s", "--recovery", "2s",
		"--var", "partition_duration:int=2"}, fastPipeline...)
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), args, os.Getenv, &stdout, &stderr); err != nil {
		t.Logf("chaoslab run: %v (the verdict does not matter here)", err)
	}
	want := []string{"backend-service.log", "chaoslab.log", "client-service.log", "events.jsonl", "journal.json",
		"observations/after.json", "observations/before.json", "report.html", "report.md", "requests.csv", "run.json", "summary.json"}
	if got := resultFiles(t, out); !slices.Equal(got, want) {
		t.Errorf("results folder = %v, want %v", got, want)
	}
	for file, absent := range map[string]string{results.EventsFile: `"tier"`, results.RunFile: `"topology"`, "summary.json": `"layers"`,
		results.ReportMarkdown: "per user request", results.ReportHTML: "per user request"} {
		if b, err := os.ReadFile(filepath.Join(out, file)); err != nil || bytes.Contains(b, []byte(absent)) {
			t.Errorf("%s holds %s (err %v)", file, absent, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(out, results.RequestsFile)); !bytes.HasPrefix(b, []byte("id,start,send_lag_ms,latency_ms,status,source,attempts,breaker,error\n")) {
		t.Errorf("requests.csv header changed: %.100s", b)
	}
	lines := strings.Split(stdout.String(), "\n")
	first := regexp.MustCompile(`^chaoslab: Client-service survives a network partition from backend-service \(local stack, 20 rps, resilience on\) -> .*results$`)
	second := regexp.MustCompile(`^  client http://127\.0\.0\.1:\d+  backend http://127\.0\.0\.1:\d+  fault API http://127\.0\.0\.1:\d+$`)
	if len(lines) < 2 || !first.MatchString(lines[0]) || !second.MatchString(lines[1]) {
		t.Errorf("the first lines changed:\n%s", stdout.String())
	}
	wantShape := []string{"chaoslab:", "client", "", "Client-service", "fault:", "phase", "before", "during", "after", "while",
		"latency:", "breaker:", "fault", "recovered:", "objective", "objective", "objective", "objective", verdictWord, "", "results:", "report:", ""}
	if got := stdoutShape(stdout.String()); !shapeMatches(got, wantShape) {
		t.Errorf("stdout lines = %q, want %q:\n%s", got, wantShape, stdout.String())
	}
}

// verdictWord stands in a stdout shape for the verdict's first word, PASSED: or FAILED:.
const verdictWord = "PASSED:|FAILED:"

// shapeMatches compares a stdout shape with the expected one.
func shapeMatches(got, want []string) bool {
	return slices.EqualFunc(got, want, func(g, w string) bool {
		return g == w || (w == verdictWord && (g == "PASSED:" || g == "FAILED:"))
	})
}
