package chaos_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"chaoslab/internal/experiment"
	"chaoslab/internal/k8s"
	"chaoslab/internal/results"
)

const k8sExperiment = "network-partition-experiment.json"

// noEnv makes every env lookup fall back to its default, whatever the machine's environment.
func noEnv(string) (string, bool) { return "", false }

func TestK8sExperimentValidates(t *testing.T) {
	exp, err := experiment.Load(k8sExperiment)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	envs := []struct {
		name string
		env  map[string]string
	}{
		{"defaults", nil},
		{"overridden by the environment", map[string]string{"CHAOSLAB_NAMESPACE": "lab", "CHAOSLAB_CLIENT_URL": "http://127.0.0.1:18080"}},
	}
	for _, tc := range envs {
		t.Run(tc.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			notes, err := experiment.Validate(exp, experiment.Options{LookupEnv: lookup})
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			// Every chaosk8s call is known and reported as needing the real Chaos Toolkit.
			for _, fn := range []string{"pods_in_phase", "create_network_policy", "remove_network_policy"} {
				if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, fn) }) {
					t.Errorf("no validation note names %s; notes: %q", fn, notes)
				}
			}
		})
	}
}

// TestK8sExperimentCatchesBadCalls proves the validation above is not vacuous: the same file with
// a misspelt chaosk8s function or argument fails.
func TestK8sExperimentCatchesBadCalls(t *testing.T) {
	data, err := os.ReadFile(k8sExperiment)
	if err != nil {
		t.Fatal(err)
	}
	checkBadEdits(t, data, []badEdit{
		{"unknown function", `"func": "create_network_policy"`, `"func": "create_network_policies"`, "create_network_policies"},
		{"unknown argument", `"label_selector": "app=backend-service"`, `"selector": "app=backend-service"`, "selector"},
	})
}

// badEdit is one mistake made in an experiment's text, and what validation must say of it.
type badEdit struct{ name, old, new, wantErr string }

// checkBadEdits makes each mistake in a copy of data and checks that validation names it.
func checkBadEdits(t *testing.T, data []byte, cases []badEdit) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(data), tc.old) {
				t.Fatalf("the experiment no longer contains %s", tc.old)
			}
			bad := strings.Replace(string(data), tc.old, tc.new, 1)
			path := filepath.Join(t.TempDir(), "bad.json")
			if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
				t.Fatal(err)
			}
			exp, err := experiment.Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			_, err = experiment.Validate(exp, experiment.Options{LookupEnv: noEnv})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate error = %v, want one naming %q", err, tc.wantErr)
			}
		})
	}
}

var varRef = regexp.MustCompile(`\$\{([^}]*)\}`)

// TestK8sExperimentVariables: every ${var} resolves from the configuration, every configuration
// entry is used, and each is an env lookup with a default or a plain number (a number stays a
// number for pauses; an env value would be a string, which Chaos Toolkit rejects as a pause).
func TestK8sExperimentVariables(t *testing.T) {
	data, err := os.ReadFile(k8sExperiment)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Configuration map[string]json.RawMessage `json:"configuration"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, m := range varRef.FindAllStringSubmatch(string(data), -1) {
		used[m[1]] = true
		if _, ok := doc.Configuration[m[1]]; !ok {
			t.Errorf("${%s} is not in the configuration", m[1])
		}
	}
	for key, raw := range doc.Configuration {
		if !used[key] {
			t.Errorf("configuration %s is never used", key)
		}
		var number float64
		if json.Unmarshal(raw, &number) == nil {
			continue
		}
		var env struct {
			Type    string  `json:"type"`
			Key     string  `json:"key"`
			Default *string `json:"default"`
		}
		if err := json.Unmarshal(raw, &env); err != nil || env.Type != "env" || env.Key == "" || env.Default == nil {
			t.Errorf("configuration %s = %s: want {\"type\":\"env\",\"key\":...,\"default\":...} or a number", key, raw)
		}
	}
}

// fakeKubectl writes a kubectl stand-in that logs its arguments and answers from canned text;
// unless FAKE_CLUSTER=1, the API server check fails as kubectl does with no cluster.
func fakeKubectl(t *testing.T) (dir, log string) {
	t.Helper()
	dir = t.TempDir()
	log = filepath.Join(dir, "calls.log")
	script := `#!/bin/sh
echo "$*" >> "` + log + `"
case "$*" in
  "config current-context") echo kind-chaoslab ;;
  "get --raw=/readyz"*)
    if [ "$FAKE_CLUSTER" != 1 ]; then
      echo "The connection to the server 127.0.0.1:6443 was refused" >&2; exit 1
    fi
    echo ok ;;
  "get namespace"*) echo "lab   Active   1m" ;;
  "logs -n lab -l app=client-service"*)
    if [ -n "$FAKE_CLIENT_LOG" ]; then cat "$FAKE_CLIENT_LOG"; exit 0; fi
    echo "[pod/client-service-1/client-service] time=T level=INFO msg=\"Retry 'backendRetry' - Attempt #1\" wait=1.2s"
    echo "[pod/client-service-1/client-service] time=T level=INFO msg=\"GET /api/data\" status=200"
    echo "[pod/client-service-1/client-service] time=T level=WARN msg=\"CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN\""
    echo "[pod/client-service-1/client-service] time=T level=INFO msg=\"Fallback response due to error: circuit breaker open\"" ;;
  "logs -n lab -l app=chaoslab-load"*) echo "2026-01-01T00:00:10Z requests=20 backend=12 fallback=8 errors=0 breaker=OPEN max_latency=1s" ;;
  "logs"*) ;;
  "get --raw /api/v1/namespaces/lab/services/client-service:http/proxy/api/resilience"*) echo '{"name":"backendCB","state":"OPEN"}' ;;
  "get --raw /api/v1/namespaces/lab/services/client-service:http/proxy/api/diagnostics/backend"*) echo '{"reachable":false}' ;;
  "get --raw /api/v1/namespaces/lab/services/client-service:http/proxy/metrics"*)
    echo '# HELP go_goroutines x'
    echo 'go_goroutines 12'
    echo 'resilience4j_circuitbreaker_state{name="backendCB",state="open"} 1'
    echo 'client_fallback_responses_total 7' ;;
  *) echo "canned: $*" ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "kubectl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, log
}

func runObserve(t *testing.T, cluster bool, args ...string) (stdout, stderr, calls string, err error) {
	t.Helper()
	return runObserveEnv(t, cluster, nil, args...)
}

func runObserveEnv(t *testing.T, cluster bool, env []string, args ...string) (stdout, stderr, calls string, err error) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	dir, log := fakeKubectl(t)
	cmd := exec.Command("./observe-system.sh", args...)
	fake := "0"
	if cluster {
		fake = "1"
	}
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"), "FAKE_CLUSTER="+fake, "CHAOSLAB_NAMESPACE=", "FAKE_CLIENT_LOG=")
	cmd.Env = append(cmd.Env, env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	data, _ := os.ReadFile(log)
	return out.String(), errb.String(), string(data), err
}

func TestObserveSystemWithoutCluster(t *testing.T) {
	_, stderr, _, err := runObserve(t, false, "lab", t.TempDir())
	var ee *exec.ExitError
	if err == nil || !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit = %v, want status 1", err)
	}
	if !strings.Contains(stderr, "no Kubernetes cluster reachable") || !strings.Contains(stderr, "kind-chaoslab") {
		t.Errorf("stderr = %q, want a clear 'no cluster' message naming the context", stderr)
	}
}

func TestObserveSystemSnapshot(t *testing.T) {
	outDir := t.TempDir()
	stdout, stderr, calls, err := runObserve(t, true, "lab", outDir)
	if err != nil {
		t.Fatalf("observe-system.sh: %v\nstderr: %s", err, stderr)
	}
	files, _ := filepath.Glob(filepath.Join(outDir, "observation-lab-*.txt"))
	if len(files) != 1 || !strings.Contains(stdout, files[0]) {
		t.Fatalf("want one observation-lab-<time>.txt named on stdout; files %v, stdout %q", files, stdout)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	report := string(data)
	for _, want := range []string{
		"namespace:   lab",
		"===== pods (-o wide) =====",
		"===== restarts =====",
		"retry attempts: 1   breaker transitions: 1   fallbacks: 1",
		"CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN",
		`{"name":"backendCB","state":"OPEN"}`,
		`{"reachable":false}`,
		`resilience4j_circuitbreaker_state{name="backendCB",state="open"} 1`,
		"client_fallback_responses_total 7",
		"requests=20 backend=12 fallback=8",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("observation lacks %q", want)
		}
	}
	for _, unwanted := range []string{`msg="GET /api/data"`, "go_goroutines"} {
		if strings.Contains(report, unwanted) {
			t.Errorf("observation should filter out %q", unwanted)
		}
	}
	for _, want := range []string{"get pods -n lab -o wide", "--tail=-1", "logs -n lab -l app=backend-service"} {
		if !strings.Contains(calls, want) {
			t.Errorf("kubectl was never called with %q; calls:\n%s", want, calls)
		}
	}
}

// realClientLog is client-service's text log during a partition as `kubectl logs --prefix
// --timestamps` shows it: retries, breaker transitions, and many fallbacks whose error says
// "CircuitBreaker 'backendCB' is OPEN": those are fallbacks, not transitions.
func realClientLog(retries, transitions, fallbacks int) string {
	const prefix = "[pod/client-service-5d8f7c9b4-x2x7k/client-service] 2026-11-29T20:41:07.512345678Z "
	const open = "CircuitBreaker 'backendCB' is OPEN and does not permit further calls"
	var b strings.Builder
	for i := range retries {
		fmt.Fprintf(&b, "%stime=2026-11-29T20:41:07.512Z level=INFO msg=\"Retry 'backendRetry' - Attempt #%d\" event=retry attempt=%d wait=1.2s wait_ms=1200 error=\"dial tcp 198.19.12.7:8081: connect: connection refused\" request_id=%d\n", prefix, i%5+1, i%5+1, 100+i)
	}
	states := [][2]string{{"CLOSED", "OPEN"}, {"OPEN", "HALF_OPEN"}, {"HALF_OPEN", "OPEN"}, {"OPEN", "HALF_OPEN"}, {"HALF_OPEN", "CLOSED"}}
	for i := range transitions {
		st := states[i%len(states)]
		fmt.Fprintf(&b, "%stime=2026-11-29T20:41:08.001Z level=WARN msg=\"CircuitBreaker 'backendCB' changed state: %s -> %s\" event=breaker from=%s to=%s\n", prefix, st[0], st[1], st[0], st[1])
	}
	for i := range fallbacks {
		fmt.Fprintf(&b, "%stime=2026-11-29T20:41:09.100Z level=WARN msg=\"Fallback response due to error: %s\" event=fallback error=\"%s\" request_id=%d\n", prefix, open, open, 200+i)
		// A JSON line (LOG_FORMAT=json) of the same kind.
		if i%10 == 0 {
			fmt.Fprintf(&b, "%s{\"time\":\"2026-11-29T20:41:09.1Z\",\"level\":\"WARN\",\"msg\":\"Fallback response due to error: %s\",\"event\":\"fallback\",\"error\":\"%s\"}\n", prefix, open, open)
		}
	}
	return b.String()
}

// TestObserveSystemCountsTransitionsOnly feeds the script a log with 10 transitions and many
// fallback lines that mention the breaker: only "changed state" lines are transitions.
func TestObserveSystemCountsTransitionsOnly(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "client.log")
	if err := os.WriteFile(logFile, []byte(realClientLog(12, 10, 95)), 0o644); err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	_, stderr, _, err := runObserveEnv(t, true, []string{"FAKE_CLIENT_LOG=" + logFile}, "lab", outDir)
	if err != nil {
		t.Fatalf("observe-system.sh: %v\nstderr: %s", err, stderr)
	}
	files, _ := filepath.Glob(filepath.Join(outDir, "observation-lab-*.txt"))
	if len(files) != 1 {
		t.Fatalf("observation files: %v", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	// 95 text fallbacks plus 10 JSON ones.
	if want := "retry attempts: 12   breaker transitions: 10   fallbacks: 105"; !strings.Contains(string(data), want) {
		t.Errorf("observation lacks %q:\n%s", want, firstLines(string(data), 40))
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func TestObserveSystemShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck not installed (apt-get install -y shellcheck): observe-system.sh not linted")
	}
	out, err := exec.Command(sc, "observe-system.sh").CombinedOutput()
	if err != nil {
		t.Fatalf("shellcheck observe-system.sh: %v\n%s", err, out)
	}
}

// TestObserveSystemOnCluster runs observe-system.sh against the real pods of a cluster (skipped
// unless CHAOSLAB_K8S_KUBECONFIG is set: README.md, Development) and checks its counts against
// the client's log decoded by the typed decoder: breaker transitions are only the "changed
// state" records, never the fallbacks that mention the breaker.
func TestObserveSystemOnCluster(t *testing.T) {
	kc := os.Getenv("CHAOSLAB_K8S_KUBECONFIG")
	if kc == "" {
		t.Skip("CHAOSLAB_K8S_KUBECONFIG not set: observe-system.sh not run against a cluster")
	}
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Skip("kubectl not installed")
	}
	const since = "60m"
	logs, err := exec.Command("kubectl", "--kubeconfig", kc, "logs", "-n", "chaoslab", "-l", "app=client-service", "--since="+since, "--tail=-1").Output()
	if err != nil {
		t.Fatalf("kubectl logs: %v", err)
	}
	want := map[string]int{}
	for _, line := range strings.Split(string(logs), "\n") {
		if e, ok := k8s.DecodeLogLine([]byte(line)); ok {
			want[e.Kind]++
		}
	}
	if want[results.KindBreaker] == 0 {
		t.Skip("no breaker transition in the client's log: run chaoslab run --stack k8s first")
	}
	outDir := t.TempDir()
	cmd := exec.Command("./observe-system.sh", "chaoslab", outDir)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kc, "LOG_SINCE="+since)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("observe-system.sh: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(outDir, "observation-chaoslab-*.txt"))
	if len(files) != 1 {
		t.Fatalf("observation files: %v", files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("retry attempts: %d   breaker transitions: %d   fallbacks: %d", want[results.KindRetry], want[results.KindBreaker], want[results.KindFallback])
	if !strings.Contains(string(data), line) {
		t.Errorf("observation lacks %q (the typed decoder's counts):\n%s", line, firstLines(string(data), 60))
	}
}
