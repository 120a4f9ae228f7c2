package cli

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"chaoslab/chaos"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/k8s"
	"chaoslab/internal/report"
	"chaoslab/internal/results"
)

// The namespace of a run on Kubernetes: the flag, then $CHAOSLAB_NAMESPACE, then the overlay of
// the run's built-in topology, then none (the base's, k8s.DefaultNamespace, by Connect).
func TestK8sNamespaceFor(t *testing.T) {
	env := func(ns string) func(string) string {
		return func(k string) string {
			if k == k8s.EnvNamespace {
				return ns
			}
			return ""
		}
	}
	cases := []struct {
		name  string
		flags k8sFlags
		env   string
		want  string
	}{
		{"nothing", k8sFlags{}, "", ""},
		{"chain-3", k8sFlags{topology: "chain-3"}, "", k8s.Overlays()["chain-3"].Namespace},
		{"single", k8sFlags{topology: "single"}, "", k8s.Overlays()["single"].Namespace},
		{"a topology without an overlay", k8sFlags{topology: "fan-in"}, "", ""},
		{"the environment wins over the overlay", k8sFlags{topology: "chain-3"}, "mine", "mine"},
		{"the flag wins over everything", k8sFlags{namespace: "flag", topology: "chain-3"}, "mine", "flag"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.flags.namespaceFor(env(tc.env)); got != tc.want {
				t.Errorf("namespaceFor = %q, want %q", got, tc.want)
			}
		})
	}
}

// In a suite on Kubernetes each entry gets its own plug: its topology, found in its overlay's
// namespace; an entry without one, the base's namespace. Connect reads the kubeconfig only.
func TestK8sEntryStack(t *testing.T) {
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kc, []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{getenv: func(string) string { return "" }, stdout: io.Discard, stderr: io.Discard}
	for _, tc := range []struct{ name, topology, namespace string }{
		{"retry-storm", "chain-3", "chaoslab-chain3"},
		{"metastable", "single", "chaoslab-single"},
		{"http-errors", "", k8s.DefaultNamespace},
	} {
		t.Run(tc.name, func(t *testing.T) {
			en, _ := chaos.Lookup(tc.name)
			exp, _, err := catalogueExperiment(en, k8sStack)
			if err != nil {
				t.Fatal(err)
			}
			f := runFlags{stack: k8sStack, k8s: k8sFlags{kubeconfig: kc, topology: "chain-3"}} // the suite's last check set another
			st, err := k8sEntryStack(e, f, exp)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if st.Topology != nil {
				got = st.Topology.Name
			}
			if got != tc.topology || st.Cluster.Namespace != tc.namespace {
				t.Errorf("topology %q in namespace %q, want %q in %q", got, st.Cluster.Namespace, tc.topology, tc.namespace)
			}
		})
	}
}

// The overload entries run on --stack k8s: none is refused before the cluster is contacted (a
// kubeconfig that leads nowhere is the first error, exit 1), and each names its topology.
func TestK8sOverloadEntriesAccepted(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "kubeconfig")
	for _, name := range []string{"retry-storm", "capacity-drop", "load-spike", "metastable"} {
		t.Run(name, func(t *testing.T) {
			e, _ := chaos.KubernetesEntry(name)
			if _, ok := k8s.Overlays()[e.Topology]; !ok {
				t.Errorf("topology %q has no overlay", e.Topology)
			}
			_, _, err := runCLI(t, "run", "--stack", "k8s", name, "--kubeconfig", missing, "--out", filepath.Join(t.TempDir(), "r"))
			if cmdutil.ExitCode(err) != cmdutil.ExitFailure || err == nil || !strings.Contains(err.Error(), "kubeconfig") {
				t.Errorf("exit %d: %v; want exit 1 naming the kubeconfig (the entry accepted)", cmdutil.ExitCode(err), err)
			}
		})
	}
}

// k8sOverload are the overload entries as TestK8sOverload runs them on the rig: short
// variables, and the name of the fault window each must leave in events.jsonl.
var k8sOverload = []struct {
	name, fault string
	capacity    bool // the fault is the backend's capacity or load beyond it: goodput and capacity.csv matter
	vars        []string
}{
	{"retry-storm", "partition", false, []string{"--var", "partition_duration:int=8"}},
	{"capacity-drop", "capacity", true, []string{"--var", "fault_duration:int=8"}},
	{"load-spike", "load-spike", true, []string{"--var", "fault_duration:int=5", "--var", "spike_rate:int=60"}},
	{"metastable", "capacity", true, []string{"--var", "fault_duration:int=5", "--var", "watch_duration:int=10"}},
}

// TestK8sOverload runs each overload entry natively on the rig, without --namespace (its
// overlay's namespace is the default; skipped when the overlay is not applied), and checks: its
// fault window in events.jsonl (on, then off; the partition also verified); the calls per user
// request at each layer (summary.json) are there; the attempt records of the tier that calls the
// backend count exactly what the backend's own counters (capacity.csv, GET /api/capacity at the
// run's start and end) say it received, and no more succeeded than it served; and nothing is left: no NetworkPolicy, no fault in the
// sidecar, the ConfigMap's RESILIENCE as before.
func TestK8sOverload(t *testing.T) {
	kc := requireCluster(t)
	for _, tc := range k8sOverload {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := chaos.KubernetesEntry(tc.name)
			ns := k8s.Overlays()[e.Topology].Namespace
			c, err := k8s.Connect(k8s.ClusterConfig{Kubeconfig: kc, Namespace: ns})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Client.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
				t.Skipf("namespace %s not found: kubectl apply -k %s", ns, k8s.Overlays()[e.Topology].Path)
			}
			before, err := c.ClientEnv(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "results")
			args := append([]string{"run", tc.name, "--stack", "k8s", "--kubeconfig", kc, "--out", out,
				"--rps", "10", "--warmup", "3s", "--recovery", "20s"}, tc.vars...)
			stdout, stderr, err := runCLI(t, args...)
			if err != nil && cmdutil.ExitCode(err) != cmdutil.ExitFailure { // a verdict may fail; the run must happen
				t.Fatalf("chaoslab %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout, stderr)
			}
			t.Logf("chaoslab %s:\n%s", strings.Join(args, " "), stdout)
			run, err := results.ReadRun(out)
			if err != nil {
				t.Fatal(err)
			}
			if run.Info.Topology == nil || run.Info.Topology.Name != e.Topology {
				t.Errorf("run.json topology %+v, want %s", run.Info.Topology, e.Topology)
			}
			checkFaultWindow(t, run.Events, tc.fault)
			checkLayers(t, out)
			checkBackendCounts(t, run, tc.capacity)
			checkNothingLeft(t, c)
			after, err := c.ClientEnv(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if after["RESILIENCE"] != before["RESILIENCE"] {
				t.Errorf("RESILIENCE after the run %q, before %q", after["RESILIENCE"], before["RESILIENCE"])
			}
		})
	}
}

// checkFaultWindow: the fault of that kind went on, then off (a partition also verified).
func checkFaultWindow(t *testing.T, evs []results.Event, kind string) {
	t.Helper()
	var seq []string
	for _, e := range evs {
		if e.Kind == results.KindFault && e.Name == kind {
			seq = append(seq, e.Action)
		}
	}
	want := []string{"on", "off"}
	if kind == "partition" {
		want = []string{"on", "verified", "off"}
	}
	if strings.Join(seq, ",") != strings.Join(want, ",") {
		t.Errorf("fault %s went %v in events.jsonl, want %v", kind, seq, want)
	}
}

// checkLayers logs the calls per user request at each layer, and wants them for every layer.
func checkLayers(t *testing.T, dir string) {
	t.Helper()
	s, err := report.ReadSummaryJSON(filepath.Join(dir, report.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Layers) < 2 {
		t.Fatalf("summary layers %+v, want the entry and the backend at least", s.Layers)
	}
	for _, l := range s.Layers {
		d := l.During
		if d.PerRequest == nil {
			t.Errorf("layer %s: no calls per user request during the fault", l.Name)
			continue
		}
		t.Logf("layer %s during the fault: %.2f calls per user request (%d/%d)", l.Name, *d.PerRequest, d.Calls, d.Requests)
	}
}

// checkBackendCounts: every attempt record of the tier that calls the backend is a request the
// backend's capacity model counted (completed, wasted, rejected or expired) between the run's
// first and last reading of GET /api/capacity, but those refused before they reached it (a
// dial error: the partition's NetworkPolicy); and no more succeeded than it served.
func checkBackendCounts(t *testing.T, run *results.Run, capacity bool) {
	t.Helper()
	if len(run.Capacity) < 2 {
		t.Fatalf("%d capacity samples (capacity.csv): the backend's counters were not read on k8s", len(run.Capacity))
	}
	first, last := run.Capacity[0], run.Capacity[len(run.Capacity)-1]
	if last.InService != 0 || last.Queued != 0 {
		t.Errorf("the last sample has %d in service and %d queued: the run ended with work in the backend", last.InService, last.Queued)
	}
	total := func(s results.CapacitySample) int64 { return s.Completed + s.Wasted + s.Rejected + s.Expired }
	served, completed := total(last)-total(first), last.Completed-first.Completed
	callers := map[string]bool{}
	if run.Info.Topology != nil {
		for _, tr := range run.Info.Topology.Tiers {
			callers[tr.Name] = tr.Calls == results.BackendNode
		}
	}
	var reached, succeeded, refused int64
	for _, e := range run.Events {
		if e.Kind != results.KindAttempt || !callers[e.Tier] {
			continue
		}
		if strings.Contains(e.Error, "dial tcp") {
			refused++
			continue
		}
		reached++
		if e.Outcome == results.OutcomeSuccess {
			succeeded++
		}
	}
	t.Logf("backend: %d requests counted by its capacity model (%d completed); its callers' attempt records: %d reached it (%d succeeded), %d refused before",
		served, completed, reached, succeeded, refused)
	if reached == 0 || reached != served {
		t.Errorf("the attempt records say %d calls reached the backend, the backend counted %d", reached, served)
	}
	// A success is a request the backend served (completed, or wasted when its caller's time
	// ran out as the answer left); completed and succeeded may differ by those races.
	if wasted := last.Wasted - first.Wasted; succeeded > completed+wasted {
		t.Errorf("%d attempts succeeded, but the backend served only %d (%d completed, %d wasted)", succeeded, completed+wasted, completed, wasted)
	}
	if capacity && last.Rejected+last.Expired+last.Wasted == first.Rejected+first.Expired+first.Wasted && last.Completed == first.Completed {
		t.Errorf("the backend's counters did not move: the fault did not reach it")
	}
}
