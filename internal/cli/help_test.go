package cli

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/report"
	"chaoslab/internal/results"
)

// firstUsageLine is the first line of out that starts with "Usage:".
func firstUsageLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "Usage:") {
			return l
		}
	}
	return ""
}

// TestHelpPrintsOnceToStdout: every command's --help (and the services' through serve, and
// the top level's) prints its usage once, to stdout, nothing to stderr, and exits 0.
func TestHelpPrintsOnceToStdout(t *testing.T) {
	if got := slices.Sorted(maps.Keys(commands())); !slices.Equal(got, slices.Sorted(slices.Values(order))) {
		t.Fatalf("commands() %v and order %v differ: the table below would miss a command", got, order)
	}
	cases := map[string][]string{
		"top level --help":  {"--help"},
		"top level -h":      {"-h"},
		"top level help":    {"help"},
		"serve backend":     {"serve", "backend", "--help"},
		"serve client":      {"serve", "client", "--help"},
		"serve fault-proxy": {"serve", "fault-proxy", "--help"},
	}
	for _, name := range order {
		cases[name] = []string{name, "--help"}
		cases[name+" -h"] = []string{name, "-h"}
	}
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		args := cases[name]
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := Run(ctx, args, func(string) string { return "" }, &out, &errb)
			if code := cmdutil.ExitCode(err); code != 0 || !errors.Is(err, cmdutil.ErrHelp) {
				t.Errorf("chaoslab %s: exit %d (%v), want 0 and ErrHelp", strings.Join(args, " "), code, err)
			}
			if errb.Len() != 0 {
				t.Errorf("stderr is not empty:\n%s", errb.String())
			}
			first := firstUsageLine(out.String())
			if first == "" {
				t.Fatalf("no usage line on stdout:\n%s", out.String())
			}
			if n := strings.Count(out.String(), first); n != 1 {
				t.Errorf("usage line %q printed %d times:\n%s", first, n, out.String())
			}
			if n := strings.Count(out.String(), "Usage:"); n != 1 {
				t.Errorf("%d usage texts on stdout, want 1:\n%s", n, out.String())
			}
		})
	}
}

// TestReportInFolderWithSpacesAndUnicode: a results folder whose path has spaces and non-ASCII
// letters renders, and `chaoslab report` renders it again through cli.Run.
func TestReportInFolderWithSpacesAndUnicode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "résultats avec espaces", "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var recs []results.Record
	for i := range 20 {
		recs = append(recs, results.Record{ID: uint64(i + 1), Start: t0.Add(time.Duration(i) * 100 * time.Millisecond),
			Latency: 3 * time.Millisecond, Status: 200, Source: results.SourceBackend, Attempts: 1})
	}
	run := &results.Run{Dir: dir, Records: recs, Info: results.RunInfo{Title: "Réseau coupé « partition »", Stack: "local",
		Resilience: results.ResilienceOn, RPS: 10, Start: t0, End: t0.Add(2 * time.Second), Status: "completed"}}
	if err := run.Write(dir); err != nil {
		t.Fatal(err)
	}
	ef, err := os.Create(filepath.Join(dir, results.EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	log := results.NewEventLog(ef)
	log.Add(results.Event{Time: t0, Kind: results.KindPhase, Phase: "warmup"})
	if err := errors.Join(log.Err(), ef.Close()); err != nil {
		t.Fatal(err)
	}
	a, err := report.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := report.RenderAnalysis(dir, a); err != nil {
		t.Fatalf("RenderAnalysis into %q: %v", dir, err)
	}
	for _, f := range []string{results.ReportMarkdown, results.ReportHTML} {
		os.Remove(filepath.Join(dir, f)) // chaoslab report must write them again
	}
	var out, errb bytes.Buffer
	err = Run(context.Background(), []string{"report", dir}, func(string) string { return "" }, &out, &errb)
	if err != nil {
		t.Fatalf("chaoslab report %q: %v\nstderr: %s", dir, err, errb.String())
	}
	for _, f := range []string{results.ReportMarkdown, results.ReportHTML} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("%s not written: %v", f, err)
			continue
		}
		if !bytes.Contains(b, []byte("Réseau coupé")) {
			t.Errorf("%s lacks the unicode title", f)
		}
	}
	if !strings.Contains(out.String(), filepath.Join(dir, results.ReportHTML)) {
		t.Errorf("stdout does not name the report by its path:\n%s", out.String())
	}
}
