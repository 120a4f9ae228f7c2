package cli

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	toxiclient "github.com/Shopify/toxiproxy/v2/client"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/k8s"
	"chaoslab/internal/results"
	"chaoslab/internal/testutil"
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
// and the same stdout lines. (Traces, on by default, add spans.jsonl and requests.csv's last
// column trace_id; TestRunTracesOff checks a run without them.)
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
		"observations/after.json", "observations/before.json", "report.html", "report.md", "requests.csv", "run.json", "spans.jsonl", "summary.json"}
	if got := resultFiles(t, out); !slices.Equal(got, want) {
		t.Errorf("results folder = %v, want %v", got, want)
	}
	for file, absent := range map[string]string{results.EventsFile: `"tier"`, results.RunFile: `"topology"`, "summary.json": `"layers"`,
		results.ReportMarkdown: "per user request", results.ReportHTML: "per user request"} {
		if b, err := os.ReadFile(filepath.Join(out, file)); err != nil || bytes.Contains(b, []byte(absent)) {
			t.Errorf("%s holds %s (err %v)", file, absent, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(out, results.RequestsFile)); !bytes.HasPrefix(b, []byte("id,start,send_lag_ms,latency_ms,status,source,attempts,breaker,error,trace_id\n")) {
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

// A topology that cannot run, or a bad one, is a usage error (exit 2) of one line naming the
// file (or the flag, or the experiment's extension) and the field, before anything starts.
func TestTopologyUsageErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	typo := write("typo.yaml", "tiers:\n  - {name: edge, calss: backend}\n")
	strict := write("strict.yaml", "tiers:\n  - {name: edge, env: {CB_MINIMUM_CALLS: \"20\"}}\n")
	expWith := func(name, topo string) string {
		return write(name, `{"title": "t", "description": "d", "method": [{"type": "probe", "name": "p",
		  "provider": {"type": "http", "url": "http://127.0.0.1:1/"}}],
		  "extensions": [{"name": "chaoslab", "topology": `+topo+`}]}`)
	}
	named, notString := expWith("named.json", `"chain-3"`), expWith("bad.json", `5`)
	out := filepath.Join(dir, "out")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown", []string{"run", "--topology", "chain-9"}, "topology chain-9: no such file, and not a built-in topology (chain-3, fan-in, single)"},
		{"bad file", []string{"run", "--topology", typo}, "topology " + typo + ": tiers[0].calss: unknown field: a tier has name, calls, env"},
		{"netns", []string{"run", "--stack", "netns", "--topology", "chain-3"}, "--topology chain-3: --stack netns starts today's two services only; a topology runs on --stack local or k8s"},
		{"k8s, a fault at a tier", []string{"run", "--stack", "k8s", "--topology", "chain-3", "--var", "fault_target=mid"},
			"--var fault_target=mid: " + k8s.TierFaultRefusal("mid")},
		{"none", []string{"run", "--stack", "none", "--topology", "chain-3"}, "--topology chain-3: --stack none starts nothing (it runs the experiment as chaos run does); a topology runs on --stack local"},
		{"the experiment's on netns", []string{"run", "--stack", "netns", named},
			"the experiment's extensions[chaoslab].topology chain-3: --stack netns starts today's two services only; a topology runs on --stack local or k8s"},
		{"the experiment's not a name", []string{"run", notString}, "extensions[chaoslab].topology must be a topology's file or built-in name (chain-3, fan-in, single), got 5"},
		{"a tier's value over --env", []string{"run", "--out", out, "--topology", strict, "--env", "CB_SLIDING_WINDOW=10"},
			"topology " + strict + `: tiers[0].env (edge, over --env): CB_SLIDING_WINDOW="10": must be at least CB_MINIMUM_CALLS (20)`},
		{"up bad file", []string{"up", "--topology", typo}, "topology " + typo + ": tiers[0].calss: unknown field: a tier has name, calls, env"},
		{"up netns", []string{"up", "--stack", "netns", "--topology", "chain-3"}, "--topology chain-3: --stack netns starts today's two services only; a topology runs on --stack local"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runCLI(t, tt.args...)
			if cmdutil.ExitCode(err) != cmdutil.ExitUsage || err.Error() != tt.want {
				t.Errorf("err = %v (exit %d), want exit 2: %s", err, cmdutil.ExitCode(err), tt.want)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused topology made the results folder: something started")
	}
}

// run --help and up --help document --topology, the built-ins and how to fault a tier.
func TestTopologyHelp(t *testing.T) {
	for _, cmd := range []string{"run", "up"} {
		out, _, err := runCLI(t, cmd, "--help")
		if cmdutil.ExitCode(err) != 0 {
			t.Fatal(err)
		}
		for _, want := range []string{"--topology FILE|NAME", "chain-3", "fan-in", "/proxies/", "-topology string"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s --help lacks %q", cmd, want)
			}
		}
	}
}

// up --topology prints every tier, the backend and each proxy; a stock Toxiproxy client faults
// one hop by its proxy's name and only that hop slows down; a fan-in's load reaches every entry.
func TestUpTopology(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack")
	}
	t.Run("chain-3", func(t *testing.T) {
		urls, out, stop := startUp(t, "--topology", "chain-3", "--rps", "0")
		screen := out.String()
		for _, want := range []string{"chaoslab stack is up (local, 3 tiers)", "tier edge", "(entry: the load and the probes come here; calls mid)",
			`(behind proxy "mid", calls client)`, `(behind proxy "client", calls backend)`, `(behind proxy "backend")`,
			`proxies "backend", "mid", "client": /proxies/<name>/toxics`} {
			if !strings.Contains(screen, want) {
				t.Errorf("the first screen lacks %q:\n%s", want, screen)
			}
		}
		tc := toxiclient.NewClient(strings.TrimPrefix(urls.toxiproxy, "http://"))
		mid, err := tc.Proxy("mid")
		if err != nil {
			t.Fatalf("Toxiproxy's API has no proxy mid: %v", err)
		}
		if _, err := mid.AddToxic("slow-mid", "latency", "downstream", 1, toxiclient.Attributes{"latency": 300}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if resp, err := http.Get(urls.client + "/api/data"); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET edge: %v %v", resp, err)
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("edge answered in %v through a 300 ms latency on hop mid", d)
		}
		if err := stop(); cmdutil.ExitCode(err) != 0 {
			t.Fatalf("up exited %d: %v", cmdutil.ExitCode(err), err)
		}
	})
	t.Run("fan-in", func(t *testing.T) {
		_, out, stop := startUp(t, "--topology", "fan-in", "--rps", "30", "--every", "200ms")
		tiers := regexp.MustCompile(`tier (caller-[abc]) +(http://\S+)`).FindAllStringSubmatch(out.String(), -1)
		if len(tiers) != 3 || !strings.Contains(out.String(), "spread over the entry tiers caller-a, caller-b, caller-c, round robin") {
			t.Fatalf("the first screen does not list three entries sharing the load:\n%s", out.String())
		}
		for _, m := range tiers {
			testutil.WaitFor(t, 10*time.Second, m[1]+" to answer load requests", func() bool { return dataRequests(t, m[2]) >= 3 })
		}
		if err := stop(); cmdutil.ExitCode(err) != 0 {
			t.Fatalf("up exited %d: %v", cmdutil.ExitCode(err), err)
		}
	})
}
