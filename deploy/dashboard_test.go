package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"chaoslab/internal/cli"
	"chaoslab/internal/stack"
	"chaoslab/internal/testutil"
	"chaoslab/internal/topology"
)

const (
	dashboardFile     = "grafana/chaoslab.json"
	resilience4jBoard = "testdata/resilience4j/grafana_dashboard.json"
	prometheusFile    = "prometheus/prometheus.yml"
)

// The jobs of deploy/prometheus/prometheus.yml, each with the `chaoslab up` flag whose default
// address it scrapes.
var upJobs = map[string]string{"chaoslab-client": "client-addr", "chaoslab-backend": "backend-addr", "chaoslab-faults": "toxiproxy-addr"}

// scrapeFile is the part of prometheus.yml these tests read and rewrite.
type scrapeFile struct {
	Global        map[string]any `json:"global"`
	ScrapeConfigs []scrapeJob    `json:"scrape_configs"`
}

type scrapeJob struct {
	JobName       string `json:"job_name"`
	MetricsPath   string `json:"metrics_path"`
	StaticConfigs []struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels,omitempty"`
	} `json:"static_configs"`
}

func readScrapeFile(t *testing.T) scrapeFile {
	t.Helper()
	data, err := os.ReadFile(prometheusFile)
	if err != nil {
		t.Fatal(err)
	}
	var f scrapeFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		t.Fatalf("%s: %v", prometheusFile, err)
	}
	return f
}

// upDefaults reads `chaoslab up --help`: the default address of each flag.
func upDefaults(t *testing.T) map[string]string {
	t.Helper()
	var out bytes.Buffer
	_ = cli.Run(context.Background(), []string{"up", "--help"}, func(string) string { return "" }, &out, &out)
	re := regexp.MustCompile(`(?m)^\s+-([a-z-]+) string\n\s+.*\(default "([^"]*)"\)`)
	defaults := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(out.String(), -1) {
		defaults[m[1]] = m[2]
	}
	return defaults
}

// The shipped prometheus.yml scrapes the addresses `chaoslab up` listens on by default, each
// service's /metrics, and is a valid configuration for promtool.
func TestPrometheusConfigForUp(t *testing.T) {
	f := readScrapeFile(t)
	defaults := upDefaults(t)
	var jobs []string
	for _, j := range f.ScrapeConfigs {
		jobs = append(jobs, j.JobName)
		flag, ok := upJobs[j.JobName]
		if !ok {
			t.Errorf("job %s: not one of %v", j.JobName, upJobs)
			continue
		}
		if j.MetricsPath != "/metrics" || len(j.StaticConfigs) != 1 || !slices.Equal(j.StaticConfigs[0].Targets, []string{defaults[flag]}) {
			t.Errorf("job %s scrapes %s%+v, want %s/metrics: chaoslab up --%s's default", j.JobName, j.MetricsPath, j.StaticConfigs, defaults[flag], flag)
		}
	}
	if len(jobs) != len(upJobs) {
		t.Errorf("jobs %v, want one per service of chaoslab up (%v)", jobs, upJobs)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian: apt-get install prometheus): promtool check config not run")
	}
	if out, err := exec.Command(promtool, "check", "config", prometheusFile).CombinedOutput(); err != nil {
		t.Errorf("promtool check config %s: %v\n%s", prometheusFile, err, out)
	}
}

// lab is a running local stack of the topology single (a backend with its capacity model on,
// one client tier), the way `chaoslab up --topology single` starts it.
type lab struct {
	*stack.Stack
}

// startLab starts the stack with a pipeline fast enough for a test: attempts time out at 1 s,
// two retries 20 ms apart, and a breaker that stays OPEN for the rest of the test once opened.
func startLab(t *testing.T) lab {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the services as child processes")
	}
	topo, err := topology.Load("single")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(envServe, "1")
	env := map[string]string{"ATTEMPT_TIMEOUT": "1s", "REQUEST_TIMEOUT": "5s", "RETRY_MAX_RETRIES": "2",
		"RETRY_INITIAL_BACKOFF": "20ms", "RETRY_MAX_BACKOFF": "40ms", "CB_WAIT_DURATION": "5m"}
	s, err := stack.Start(t.Context(), stack.Config{Dir: t.TempDir(), Topology: topo, ClientEnv: env})
	if err != nil {
		t.Fatalf("start the stack: %v", err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return lab{s}
}

// partition blackholes the hop in front of the backend both ways, as the network-partition
// experiment does.
func (l lab) partition(t *testing.T) {
	t.Helper()
	for _, stream := range []string{"downstream", "upstream"} {
		body := fmt.Sprintf(`{"name":"partition-%s","type":"timeout","stream":%q,"toxicity":1.0,"attributes":{"timeout":0}}`, stream, stream)
		if code, out := testutil.Call(t, http.MethodPost, l.FaultURL+"/proxies/backend/toxics", body); code != http.StatusOK {
			t.Fatalf("partition %s: %d %s", stream, code, out)
		}
	}
}

// metricsURLs are the /metrics of every service the project runs in the stack.
func (l lab) metricsURLs() map[string]string {
	return map[string]string{"client-service": l.ClientURL + "/metrics", "backend-service": l.BackendURL + "/metrics", "fault API": l.FaultURL + "/metrics"}
}

// promtool check metrics finds nothing to say about any /metrics the project serves: the client,
// the backend with its capacity model on, the fault API with a fault on and an experiment
// reported (so every family it has is in the exposition).
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian: apt-get install prometheus): the /metrics expositions are not linted")
	}
	l := startLab(t)
	for i := range 3 {
		if code := getStatus(t, l.ClientURL+"/api/data"); code != http.StatusOK {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	l.partition(t)
	if code, out := testutil.Call(t, http.MethodPut, l.FaultURL+"/experiment", `{"ref":"promtool","run":"r1","inProgress":false,"status":"completed","duration":1.5}`); code/100 != 2 {
		t.Fatalf("PUT /experiment: %d %s", code, out)
	}
	for name, u := range l.metricsURLs() {
		t.Run(name, func(t *testing.T) {
			body := fetch(t, u)
			for _, family := range wantFamilies[name] {
				if !strings.Contains(body, "# TYPE "+family+" ") {
					t.Errorf("%s lacks %s: the check would not cover it", u, family)
				}
			}
			cmd := exec.Command(promtool, "check", "metrics")
			cmd.Stdin = strings.NewReader(body)
			if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
				t.Errorf("promtool check metrics on %s: %v\n%s", u, err, out)
			}
		})
	}
}

// wantFamilies are families each exposition must have for the lint to mean something.
var wantFamilies = map[string][]string{
	"client-service":  {"resilience4j_circuitbreaker_state", "resilience4j_circuitbreaker_buffered_calls", "resilience4j_retry_calls_total", "client_fallback_responses_total", "http_server_requests_seconds"},
	"backend-service": {"backend_requests_queued", "backend_requests_wasted_total", "http_server_requests_seconds"},
	"fault API":       {"chaoslab_fault_active", "chaostoolkit_experiment_status", "chaostoolkit_experiment_duration"},
}

func getStatus(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func fetch(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return string(b)
}

// scrapeConfig is the shipped prometheus.yml with each job's target moved to where the test's
// stack listens and a 250 ms scrape interval.
func scrapeConfig(t *testing.T, l lab, interval time.Duration) []byte {
	t.Helper()
	f := readScrapeFile(t)
	hosts := map[string]string{"chaoslab-client": l.ClientURL, "chaoslab-backend": l.BackendURL, "chaoslab-faults": l.FaultURL}
	for i, j := range f.ScrapeConfigs {
		u, err := url.Parse(hosts[j.JobName])
		if err != nil || u.Host == "" {
			t.Fatalf("job %s: no address in the stack for it (%q)", j.JobName, hosts[j.JobName])
		}
		f.ScrapeConfigs[i].StaticConfigs[0].Targets = []string{u.Host}
	}
	f.Global["scrape_interval"] = interval.String()
	f.Global["scrape_timeout"] = (interval * 4 / 5).String()
	f.Global["evaluation_interval"] = interval.String()
	out, err := yaml.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
