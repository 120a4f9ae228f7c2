package chaos_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"chaoslab/internal/experiment"
)

const podKillExperiment = "pod-kill-experiment.json"

// podKillDoc is the part of the experiment file the tests below look at.
type podKillDoc struct {
	Configuration map[string]json.RawMessage `json:"configuration"`
	Hypothesis    struct {
		Probes []podKillActivity `json:"probes"`
	} `json:"steady-state-hypothesis"`
	Method    []podKillActivity `json:"method"`
	Rollbacks []podKillActivity `json:"rollbacks"`
}

type podKillActivity struct {
	Name     string `json:"name"`
	Provider struct {
		Type      string         `json:"type"`
		Module    string         `json:"module"`
		Func      string         `json:"func"`
		URL       string         `json:"url"`
		Arguments map[string]any `json:"arguments"`
	} `json:"provider"`
}

func readPodKill(t *testing.T) ([]byte, podKillDoc) {
	t.Helper()
	data, err := os.ReadFile(podKillExperiment)
	if err != nil {
		t.Fatal(err)
	}
	var doc podKillDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	return data, doc
}

// activities lists the hypothesis probes, the method and the rollbacks, in that order.
func (d podKillDoc) activities() []podKillActivity {
	return slices.Concat(d.Hypothesis.Probes, d.Method, d.Rollbacks)
}

func TestPodKillExperimentValidates(t *testing.T) {
	_, doc := readPodKill(t)
	// The chaosk8s functions the file calls, read from the file itself, and the ones it must call.
	var used []string
	for _, a := range doc.activities() {
		if a.Provider.Type == "python" {
			used = append(used, a.Provider.Module+"."+a.Provider.Func)
		}
	}
	want := []string{
		"chaosk8s.deployment.probes.deployment_available_and_healthy",
		"chaosk8s.pod.actions.terminate_pods",
		"chaosk8s.deployment.probes.deployment_fully_available",
	}
	if !slices.Equal(used, want) {
		t.Fatalf("python providers = %q, want %q", used, want)
	}

	exp, err := experiment.Load(podKillExperiment)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	cases := []struct {
		name string
		env  map[string]string
		vars map[string]any
	}{
		{"defaults", nil, nil},
		{"overridden by the environment and --var",
			map[string]string{"CHAOSLAB_NAMESPACE": "lab", "CHAOSLAB_CLIENT_URL": "http://127.0.0.1:18080"},
			map[string]any{"grace_period": 15, "recovery_timeout": 120, "breaker_settle": 20}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lookup := noEnv
			if tc.env != nil {
				lookup = func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			}
			notes, err := experiment.Validate(exp, experiment.Options{LookupEnv: lookup, Vars: tc.vars})
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			// Every chaosk8s call is known (with all its arguments) and reported as needing the
			// real Chaos Toolkit; a pause that resolves to text would be a note too: none may.
			for _, fn := range used {
				if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, fn+" needs the Chaos Toolkit") }) {
					t.Errorf("no validation note names %s; notes: %q", fn, notes)
				}
			}
			if len(notes) != len(used) {
				t.Errorf("got %d notes, want one per chaosk8s call (%d): %q", len(notes), len(used), notes)
			}
		})
	}
}

// TestPodKillExperimentCatchesBadCalls proves the validation above is not vacuous: the same file
// with a misspelt chaosk8s function or argument fails. The misspellings are plausible ones:
// terminate_pod, deployment_is_fully_available (a function of chaosk8s.probes, not of
// chaosk8s.deployment.probes) and grace_period_seconds (the Kubernetes API's name).
func TestPodKillExperimentCatchesBadCalls(t *testing.T) {
	data, _ := readPodKill(t)
	checkBadEdits(t, data, []badEdit{
		{"unknown function", `"func": "terminate_pods"`, `"func": "terminate_pod"`, `"terminate_pod" is not a function of chaosk8s.pod.actions`},
		{"function of another module", `"func": "deployment_fully_available"`, `"func": "deployment_is_fully_available"`, `"deployment_is_fully_available" is not a function of chaosk8s.deployment.probes`},
		{"unknown argument", `"grace_period": "${grace_period}"`, `"grace_period_seconds": "${grace_period}"`, "grace_period_seconds is not an argument of chaosk8s.pod.actions.terminate_pods"},
		{"unknown module", `"module": "chaosk8s.deployment.probes"`, `"module": "chaosk8s.deployments.probes"`, "chaosk8s.deployments.probes"},
	})
}

// TestPodKillExperimentConventions: the file shares the partition experiment's namespace and
// client URL entries; every ${var} resolves and every configuration entry is used; the parameters
// are plain numbers (terminate_pods compares grace_period with 0, which a string from the
// environment would break, and Chaos Toolkit needs a number for a pause); the client is reached
// only through ${client_url}; and there are no rollbacks, the Deployment replaces the pods.
func TestPodKillExperimentConventions(t *testing.T) {
	data, doc := readPodKill(t)
	partition, err := os.ReadFile(k8sExperiment)
	if err != nil {
		t.Fatal(err)
	}
	var part podKillDoc
	if err := json.Unmarshal(partition, &part); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"namespace", "client_url"} {
		if got, want := compactJSON(t, doc.Configuration[key]), compactJSON(t, part.Configuration[key]); got != want {
			t.Errorf("configuration %s = %s, want the partition experiment's %s", key, got, want)
		}
	}
	used := map[string]bool{}
	for _, m := range varRef.FindAllStringSubmatch(string(data), -1) {
		used[m[1]] = true
		if _, ok := doc.Configuration[m[1]]; !ok {
			t.Errorf("${%s} is not in the configuration", m[1])
		}
	}
	for key := range doc.Configuration {
		if !used[key] {
			t.Errorf("configuration %s is never used", key)
		}
	}
	for _, key := range []string{"grace_period", "recovery_timeout", "breaker_settle"} {
		var n float64
		if err := json.Unmarshal(doc.Configuration[key], &n); err != nil || n < 0 {
			t.Errorf("configuration %s = %s, want a number >= 0", key, doc.Configuration[key])
		}
	}
	for _, a := range doc.activities() {
		if a.Provider.Type == "http" && !strings.HasPrefix(a.Provider.URL, "${client_url}/api/") {
			t.Errorf("%s: url %q, want ${client_url}/api/...", a.Name, a.Provider.URL)
		}
		if ns, ok := a.Provider.Arguments["ns"]; a.Provider.Type == "python" && (!ok || ns != "${namespace}") {
			t.Errorf("%s: ns = %v, want ${namespace}", a.Name, ns)
		}
	}
	if len(doc.Rollbacks) != 0 {
		t.Errorf("rollbacks = %d activities, want none", len(doc.Rollbacks))
	}
}

// TestPodKillExperimentMatchesManifests: the pods the experiment kills are exactly the backend
// Deployment's, and the Deployment it waits for is that one, as deploy/k8s declares them.
func TestPodKillExperimentMatchesManifests(t *testing.T) {
	_, doc := readPodKill(t)
	raw, err := os.ReadFile(filepath.Join("..", "deploy", "k8s", "backend-deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(raw, &d); err != nil {
		t.Fatalf("backend-deployment.yaml: %v", err)
	}
	podLabels := labels.Set(d.Spec.Template.Labels)
	checked := 0
	for _, a := range doc.activities() {
		args := a.Provider.Arguments
		if sel, ok := args["label_selector"].(string); ok {
			checked++
			s, err := labels.Parse(sel)
			if err != nil {
				t.Errorf("%s: label_selector %q: %v", a.Name, sel, err)
			} else if !s.Matches(podLabels) || sel != "app="+d.Spec.Selector.MatchLabels["app"] {
				t.Errorf("%s: label_selector %q does not select the Deployment %s's pods (%v)", a.Name, sel, d.Name, podLabels)
			}
		}
		if strings.HasPrefix(a.Provider.Module, "chaosk8s.deployment.") {
			checked++
			if args["name"] != d.Name {
				t.Errorf("%s: name = %v, want the Deployment %s", a.Name, args["name"], d.Name)
			}
		}
	}
	if checked != 3 {
		t.Errorf("checked %d chaosk8s calls against the manifests, want 3 (terminate_pods and two deployment probes)", checked)
	}
}

func compactJSON(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return b.String()
}
