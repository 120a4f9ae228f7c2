package lab_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"chaoslab/chaos"
	"chaoslab/internal/experiment"
	"chaoslab/internal/lab"
	"chaoslab/internal/results"
)

// exportedSpans sums what each service's last tracing record says it exported and failed to
// send. A batch the receiver took only in part (a partial success: some spans refused over its
// limit) counts as failed in full, since OTLP/HTTP exporter v1.47 returns that as an error.
func exportedSpans(t *testing.T, dir string, logs ...string) (exported, failed int64) {
	t.Helper()
	for _, name := range logs {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		seen := false
		for sc.Scan() {
			var rec struct {
				Event    string `json:"event"`
				Exported *int64 `json:"exported"`
				Failed   int64  `json:"failed"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Event == "traces" && rec.Exported != nil {
				exported, failed, seen = exported+*rec.Exported, failed+rec.Failed, true
			}
		}
		f.Close()
		if !seen {
			t.Fatalf("%s has no record of the spans it exported", name)
		}
	}
	return exported, failed
}

// A real run whose receiver keeps at most 40 spans: spans.jsonl has exactly 40, and what it
// refused, in run.json and on the last line, is what the services sent (their own count at
// shutdown, exported and "failed", an independent one) beyond those 40. Every batch reached
// the receiver, which runs until the services have stopped: their failures are its refusals.
func TestTracesLimitOnARealRun(t *testing.T) {
	if testing.Short() {
		t.Skip("a real lab run (about 8 s)")
	}
	t.Setenv(envServe, "1")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	exp, err := experiment.Parse([]byte(chaos.LocalPartitionExperiment), "json")
	if err != nil {
		t.Fatal(err)
	}
	const limit = 40
	var stdout bytes.Buffer
	out, err := lab.Run(context.Background(), lab.RunConfig{
		Stack: lab.Processes{Kind: "local"}, Experiment: exp, ExperimentName: "built-in",
		Vars: map[string]any{"partition_duration": int64(1)},
		RPS:  20, LoadTimeout: 5 * time.Second, Warmup: time.Second, Recovery: 2 * time.Second,
		OutDir: filepath.Join(t.TempDir(), "run"), Stdout: &stdout, Traces: lab.TraceConfig{On: true, Limit: limit},
		ClientEnv: map[string]string{"ATTEMPT_TIMEOUT": "200ms", "REQUEST_TIMEOUT": "2s", "RETRY_INITIAL_BACKOFF": "20ms",
			"RETRY_MAX_BACKOFF": "200ms", "CB_WAIT_DURATION": "1s"},
	})
	if err != nil {
		t.Fatalf("lab.Run: %v\n%s", err, stdout.String())
	}
	raw, err := os.ReadFile(filepath.Join(out.Dir, results.SpansFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(raw, []byte("\n")); n != limit {
		t.Errorf("spans.jsonl has %d spans, want the limit %d", n, limit)
	}
	run, err := results.ReadRun(out.Dir)
	if err != nil {
		t.Fatal(err)
	}
	info := run.Info.Traces
	exported, failed := exportedSpans(t, out.Dir, results.ClientLogFile, results.BackendLogFile)
	sent := exported + failed
	if info == nil || !info.Kept || info.Spans != limit || info.Limit != limit || info.Refused != sent-limit || info.Refused <= 0 {
		t.Errorf("run.json traces = %+v; the services sent %d (%d exported, %d in batches taken in part)", info, sent, exported, failed)
	}
	m := regexp.MustCompile(`(?m)^  traces: (\d+) spans of \d+ traces in spans\.jsonl: .*; (\d+) more refused, over its limit of (\d+)$`).FindStringSubmatch(stdout.String())
	if m == nil || m[1] != strconv.Itoa(limit) || m[2] != strconv.FormatInt(sent-limit, 10) || m[3] != strconv.Itoa(limit) {
		t.Errorf("the last traces line %q; the services sent %d:\n%s", m, sent, stdout.String())
	}
}
