package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"chaoslab/internal/otlprecv"
	"chaoslab/internal/results"
)

// readFolderTraces reads requests.csv and spans.jsonl of a results folder.
func readFolderTraces(t *testing.T, dir string) ([]results.Record, []otlprecv.Span) {
	t.Helper()
	run, err := results.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if run.Spans == nil {
		t.Fatalf("%s has no %s", dir, results.SpansFile)
	}
	return run.Records, run.Spans
}

// exportedByServices sums the spans client-service and backend-service say they exported,
// in their last tracing record (at shutdown); any span that failed or was dropped fails the test.
func exportedByServices(t *testing.T, dir string) int {
	t.Helper()
	total := 0
	for _, name := range []string{results.ClientLogFile, results.BackendLogFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`"event":"traces","exported":(\d+),"dropped":(\d+),"failed":(\d+),"unsent":(\d+)`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("%s has no record of the spans it exported", name)
		}
		if string(m[2]) != "0" || string(m[3]) != "0" || string(m[4]) != "0" {
			t.Errorf("%s: %s dropped, %s failed, %s unsent", name, m[2], m[3], m[4])
		}
		n, _ := strconv.Atoi(string(m[1]))
		total += n
	}
	return total
}

// attr reads a number attribute of a span read back from spans.jsonl (JSON: float64).
func attr(m map[string]any, k string) (int, bool) {
	f, ok := m[k].(float64)
	return int(f), ok
}

// checkRetriedTrace checks the trace of a request that retried and fell back against the
// request's line of requests.csv, whose attempts are counted from the client's attempt
// records: one SERVER span of the entry service (child of the load's traceparent) carrying the
// request's id, one CLIENT span per attempt, resend counts 1..n-1 after the first, the retries
// and the fallback as events on the SERVER span.
func checkRetriedTrace(t *testing.T, r results.Record, trace []otlprecv.Span, entry string) {
	t.Helper()
	var server []otlprecv.Span
	var resends []int
	for _, s := range trace {
		switch {
		case s.Kind == "SERVER" && s.Service == entry:
			server = append(server, s)
		case s.Kind == "CLIENT" && s.Service == entry:
			n, _ := attr(s.Attributes, "http.request.resend_count") // absent on the first attempt
			resends = append(resends, n)
		}
	}
	if len(server) != 1 {
		t.Errorf("request %d (trace %s): %d SERVER spans of %s, want 1", r.ID, r.TraceID, len(server), entry)
		return
	}
	if id, _ := attr(server[0].Attributes, "chaoslab.request_id"); id != int(r.ID) {
		t.Errorf("request %d: its SERVER span carries request id %d", r.ID, id)
	}
	if slices.ContainsFunc(trace, func(s otlprecv.Span) bool { return s.SpanID == server[0].ParentSpanID }) || server[0].ParentSpanID == "" {
		t.Errorf("request %d: the SERVER span's parent %q is not the load's traceparent", r.ID, server[0].ParentSpanID)
	}
	slices.Sort(resends)
	want := make([]int, r.Attempts)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(resends, want) {
		t.Errorf("request %d (%d attempts in requests.csv, from the attempt records): CLIENT spans' resend counts %v, want %v", r.ID, r.Attempts, resends, want)
	}
	var retries, fallbacks int
	for _, e := range server[0].Events {
		switch e.Name {
		case "chaoslab.retry":
			retries++
		case "chaoslab.fallback":
			fallbacks++
		}
	}
	if retries < r.Attempts-1 || fallbacks != 1 {
		t.Errorf("request %d: %d retry events for %d attempts, %d fallback events; want at least %d and 1", r.ID, retries, r.Attempts, fallbacks, r.Attempts-1)
	}
}

var (
	tracesLineRE = regexp.MustCompile(`(?m)^  traces: (\d+) spans of (\d+) traces in spans\.jsonl: every span the lab's receiver took from the services' start to their stop$`)
	waterfallRE  = regexp.MustCompile(`(?s)<figure class="waterfall" data-trace="([0-9a-f]{32})".*?</figure>`)
	clientRowRE  = regexp.MustCompile(`<g class="span" data-kind="CLIENT" data-resend="(\d+)">`)
)

// A partition run with traces (the default): the lab receives the spans and keeps them in
// spans.jsonl; every request that retried and fell back (found by requests.csv's trace id)
// has one trace with its SERVER span and one CLIENT span per attempt (counted independently,
// from the client's attempt records); the last lines count the spans as the file holds them;
// report.html draws the waterfall of such a request.
func TestRunTraces(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end lab run (about 10 s)")
	}
	t.Setenv(envTestMain, "1")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "") // the lab's own receiver, whatever the machine has
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	out := filepath.Join(t.TempDir(), "results")
	args := append([]string{"run", "--out", out, "--rps", "20", "--warmup", "1s", "--recovery", "3s",
		"--var", "partition_duration:int=2"}, fastPipeline...)
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), args, os.Getenv, &stdout, &stderr); err != nil {
		t.Logf("chaoslab run: %v (the verdict does not matter here)", err)
	}
	if !regexp.MustCompile(`(?m)^  traces: the services send their spans to the lab's receiver http://127\.0\.0\.1:\d+/v1/traces `).MatchString(stdout.String()) {
		t.Errorf("the first lines do not say where the spans go:\n%s", stdout.String())
	}
	recs, spans := readFolderTraces(t, out)
	byTrace := map[string][]otlprecv.Span{}
	for _, s := range spans {
		byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
	}
	raw, err := os.ReadFile(filepath.Join(out, results.SpansFile))
	if err != nil {
		t.Fatal(err)
	}
	m := tracesLineRE.FindStringSubmatch(stdout.String())
	if m == nil || m[1] != strconv.Itoa(bytes.Count(raw, []byte("\n"))) || m[2] != strconv.Itoa(len(byTrace)) {
		t.Errorf("traces line %q; spans.jsonl has %d lines of %d traces", m, bytes.Count(raw, []byte("\n")), len(byTrace))
	}
	if exported := exportedByServices(t, out); m != nil && m[1] != strconv.Itoa(exported) {
		t.Errorf("traces line counts %s spans; the services' own records say they exported %d", m[1], exported)
	}

	retried := map[string]results.Record{}
	for _, r := range recs {
		if r.Answered() && r.TraceID == "" {
			t.Fatalf("request %d has no trace id in requests.csv", r.ID)
		}
		if r.Source == results.SourceFallback && r.Attempts >= 2 {
			retried[r.TraceID] = r
			checkRetriedTrace(t, r, byTrace[r.TraceID], results.ClientService)
		}
	}
	if len(retried) == 0 {
		t.Fatalf("no request retried and fell back during the partition; nothing to check")
	}

	html, err := os.ReadFile(filepath.Join(out, results.ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	drawn := 0
	for _, fig := range waterfallRE.FindAllSubmatch(html, -1) {
		r, ok := retried[string(fig[1])]
		if !ok {
			continue
		}
		drawn++
		var resends []string
		for _, c := range clientRowRE.FindAllSubmatch(fig[0], -1) {
			resends = append(resends, string(c[1]))
		}
		if len(resends) != r.Attempts || !bytes.Contains(fig[0], []byte("Request "+strconv.FormatUint(r.ID, 10)+" (")) {
			t.Errorf("the waterfall of request %d draws %d calls (resend counts %v), want %d", r.ID, len(resends), resends, r.Attempts)
		}
	}
	if drawn == 0 {
		t.Errorf("report.html draws no waterfall of a request that retried and fell back")
	}
}

// --traces=off is the run as before traces: no receiver, no traceparent, no spans.jsonl, no
// trace_id column, and the report's section says so in one line.
func TestRunTracesOff(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end lab run (about 8 s)")
	}
	t.Setenv(envTestMain, "1")
	out := filepath.Join(t.TempDir(), "results")
	args := append([]string{"run", "--out", out, "--traces=off", "--rps", "20", "--warmup", "1s", "--recovery", "2s",
		"--var", "partition_duration:int=1"}, fastPipeline...)
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), args, os.Getenv, &stdout, &stderr); err != nil {
		t.Logf("chaoslab run: %v (the verdict does not matter here)", err)
	}
	if _, err := os.Stat(filepath.Join(out, results.SpansFile)); err == nil {
		t.Errorf("spans.jsonl written with --traces=off")
	}
	if b, _ := os.ReadFile(filepath.Join(out, results.RequestsFile)); !bytes.HasPrefix(b, []byte("id,start,send_lag_ms,latency_ms,status,source,attempts,breaker,error\n")) {
		t.Errorf("requests.csv header changed: %.100s", b)
	}
	if strings.Contains(stdout.String(), "traces:") {
		t.Errorf("stdout speaks of traces with --traces=off:\n%s", stdout.String())
	}
	if b, _ := os.ReadFile(filepath.Join(out, results.ReportHTML)); !bytes.Contains(b, []byte(`<p class="traces-line">Traces were not collected for this run (no spans.jsonl).</p>`)) {
		t.Errorf("report.html does not say traces were not collected")
	}
}

// A collector of the user's: with OTEL_EXPORTER_OTLP_ENDPOINT set, the run sends the spans
// there (not overridden), says so, keeps no spans.jsonl, and requests.csv's trace ids find
// the requests' traces in that collector.
func TestRunTracesToUserCollector(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end lab run (about 8 s)")
	}
	rc := otlprecv.New(0)
	collector := httptest.NewServer(rc)
	defer collector.Close()
	t.Setenv(envTestMain, "1")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
	out := filepath.Join(t.TempDir(), "results")
	args := append([]string{"run", "--out", out, "--rps", "20", "--warmup", "1s", "--recovery", "2s",
		"--var", "partition_duration:int=1"}, fastPipeline...)
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), args, os.Getenv, &stdout, &stderr); err != nil {
		t.Logf("chaoslab run: %v (the verdict does not matter here)", err)
	}
	if want := "  traces: the services send their spans to your OTEL_EXPORTER_OTLP_ENDPOINT=" + collector.URL + ", not to the lab"; !strings.Contains(stdout.String(), want) {
		t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
	}
	if _, err := os.Stat(filepath.Join(out, results.SpansFile)); err == nil {
		t.Errorf("spans.jsonl written while the spans went to the user's collector")
	}
	f, err := os.Open(filepath.Join(out, results.RequestsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := results.ReadRequests(f)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, r := range recs {
		if r.Answered() && len(rc.Trace(r.TraceID)) > 0 {
			found++
		}
	}
	if found == 0 || found < len(recs)*9/10 {
		t.Errorf("%d of %d requests' trace ids found in the user's collector", found, len(recs))
	}
	if run, err := results.ReadRun(out); err != nil || run.Info.Traces == nil || run.Info.Traces.Endpoint != collector.URL || run.Info.Traces.Kept {
		t.Errorf("run.json traces = %+v (err %v)", run.Info.Traces, err)
	}
}

// chaoslab up passes the user's OTEL_* to every service, naming each tier after itself: one
// request to chain-3's edge is one trace across edge, mid, client and the backend. Without an
// endpoint, up prints how to set one.
func TestUpTraces(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack")
	}
	t.Run("to a collector", func(t *testing.T) {
		rc := otlprecv.New(0)
		collector := httptest.NewServer(rc)
		defer collector.Close()
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
		urls, out, stop := startUp(t, "--topology", "chain-3", "--rps", "0")
		if want := "traces: every service sends its spans to OTEL_EXPORTER_OTLP_ENDPOINT=" + collector.URL; !strings.Contains(out.String(), want) {
			t.Errorf("the first screen lacks %q:\n%s", want, out.String())
		}
		req, _ := http.NewRequest(http.MethodGet, urls.client+"/api/data", nil)
		req.Header.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET edge: %v %v", resp, err)
		}
		resp.Body.Close()
		if err := stop(); err != nil { // the services flush their spans as they stop
			t.Fatalf("up: %v", err)
		}
		var servers []string
		for _, s := range rc.Trace("0af7651916cd43dd8448eb211c80319c") {
			if s.Kind == "SERVER" {
				servers = append(servers, s.Service)
			}
		}
		slices.Sort(servers)
		if want := []string{results.BackendService, "client", "edge", "mid"}; !slices.Equal(servers, want) {
			t.Errorf("SERVER spans of the request's trace by service = %v, want %v", servers, want)
		}
	})
	t.Run("off", func(t *testing.T) {
		t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
		t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
		_, out, stop := startUp(t, "--rps", "0")
		if want := "  OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 chaoslab up\n"; !strings.Contains(out.String(), want) {
			t.Errorf("the first screen lacks %q:\n%s", want, out.String())
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// With a topology each tier is named after itself: a request the backend answered through
// chain-3 is one trace with a SERVER span in every tier and the backend, and a CLIENT span in
// every tier, each CLIENT the parent of the next hop's SERVER.
func TestRunTracesTopology(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end lab run (about 10 s)")
	}
	t.Setenv(envTestMain, "1")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	out := filepath.Join(t.TempDir(), "results")
	args := append([]string{"run", "--out", out, "--topology", "chain-3", "--rps", "20", "--warmup", "1s", "--recovery", "2s",
		"--var", "partition_duration:int=1"}, fastPipeline...)
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), args, os.Getenv, &stdout, &stderr); err != nil {
		t.Logf("chaoslab run: %v (the verdict does not matter here)", err)
	}
	recs, spans := readFolderTraces(t, out)
	byTrace := map[string][]otlprecv.Span{}
	for _, s := range spans {
		byTrace[s.TraceID] = append(byTrace[s.TraceID], s)
	}
	checked := 0
	for _, r := range recs {
		if r.Source != results.SourceBackend || r.Attempts != 1 || checked == 5 {
			continue
		}
		trace := byTrace[r.TraceID]
		ids := map[string]otlprecv.Span{}
		var servers, clients []string
		for _, s := range trace {
			ids[s.SpanID] = s
			switch s.Kind {
			case "SERVER":
				servers = append(servers, s.Service)
			case "CLIENT":
				clients = append(clients, s.Service)
			}
		}
		slices.Sort(servers)
		slices.Sort(clients)
		if want := []string{results.BackendService, "client", "edge", "mid"}; !slices.Equal(servers, want) {
			t.Errorf("request %d: SERVER spans by service %v, want %v", r.ID, servers, want)
		}
		if want := []string{"client", "edge", "mid"}; !slices.Equal(clients, want) {
			t.Errorf("request %d: CLIENT spans by service %v, want %v", r.ID, clients, want)
		}
		for _, s := range trace {
			if s.Kind == "SERVER" && s.Service != "edge" && ids[s.ParentSpanID].Kind != "CLIENT" {
				t.Errorf("request %d: %s's SERVER span is not the child of a call", r.ID, s.Service)
			}
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no request answered by the backend with one call at the entry")
	}
	html, err := os.ReadFile(filepath.Join(out, results.ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(html, []byte(`class="waterfall"`)) || !bytes.Contains(html, []byte("mid · SERVER GET /api/data")) {
		t.Errorf("report.html draws no waterfall across the tiers")
	}
}

// --traces takes on or off (with or without "="), --trace-sample a share above 0 and at most
// 1; anything else is a usage error naming the flag, before anything starts.
func TestTracesFlags(t *testing.T) {
	tests := []struct {
		args   []string
		errHas string // "already exists": accepted, the run got as far as the results folder
	}{
		{[]string{"--traces", "maybe"}, "want on or off"},
		{[]string{"--trace-sample", "0"}, "--trace-sample 0"},
		{[]string{"--trace-sample", "1.5"}, "--trace-sample 1.5"},
		{[]string{"--traces", "off"}, "already exists"},
		{[]string{"--traces=on", "--trace-sample", "0.5"}, "already exists"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out := t.TempDir() // not empty: a run that passes the flags stops there
			if err := os.WriteFile(filepath.Join(out, "x"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := runCLI(t, append([]string{"run", "--out", out}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("err = %v, want one with %q", err, tt.errHas)
			}
		})
	}
}
