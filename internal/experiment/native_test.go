package experiment

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"chaoslab/internal/cmdutil"
)

// fakeNative supports chaosk8s.pod.probes.pods_in_phase and chaosk8s.networking.actions.* and
// records its calls.
type fakeNative struct {
	calls []string
	args  []map[string]any
	err   error
}

func (f *fakeNative) Supports(module, fn string) bool {
	return module+"."+fn == "chaosk8s.pod.probes.pods_in_phase" || module == "chaosk8s.networking.actions"
}

func (f *fakeNative) Call(_ context.Context, module, fn string, args map[string]any) (any, error) {
	f.calls = append(f.calls, module+"."+fn)
	f.args = append(f.args, args)
	if f.err != nil && fn == "create_network_policy" {
		return nil, f.err
	}
	if fn == "pods_in_phase" {
		return true, nil
	}
	return nil, nil
}

const nativeExperiment = `{
  "title": "t", "description": "d",
  "configuration": {"namespace": "lab"},
  "steady-state-hypothesis": {"title": "h", "probes": [
    {"type": "probe", "name": "pods-running", "tolerance": true,
     "provider": {"type": "python", "module": "chaosk8s.pod.probes", "func": "pods_in_phase",
                  "arguments": {"label_selector": "app=x", "ns": "${namespace}"}}}]},
  "method": [
    {"type": "action", "name": "create", "provider": {"type": "python", "module": "chaosk8s.networking.actions",
     "func": "create_network_policy", "arguments": {"ns": "${namespace}", "spec": {"metadata": {"name": "p"}, "spec": {"policyTypes": ["Ingress"]}}}}}],
  "rollbacks": [
    {"type": "action", "name": "remove", "provider": {"type": "python", "module": "chaosk8s.networking.actions",
     "func": "remove_network_policy", "arguments": {"name": "p", "ns": "${namespace}"}}}]
}`

func TestNativePythonProviders(t *testing.T) {
	exp, err := Parse([]byte(nativeExperiment), "json")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckRunnable(exp); !errors.Is(err, cmdutil.ErrUsage) {
		t.Fatalf("without a native runner: %v, want a usage error", err)
	}
	n := &fakeNative{}
	j, err := Run(context.Background(), exp, Options{Native: n})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"chaosk8s.pod.probes.pods_in_phase", "chaosk8s.networking.actions.create_network_policy",
		"chaosk8s.pod.probes.pods_in_phase", "chaosk8s.networking.actions.remove_network_policy"}
	if !reflect.DeepEqual(n.calls, want) {
		t.Errorf("calls = %v, want %v", n.calls, want)
	}
	if j.Status != StatusCompleted || j.Deviated {
		t.Errorf("status %s deviated %t, want completed", j.Status, j.Deviated)
	}
	// Arguments arrive substituted, nested objects as plain maps.
	spec, _ := n.args[1]["spec"].(map[string]any)
	if n.args[1]["ns"] != "lab" || spec == nil || !reflect.DeepEqual(spec["metadata"], map[string]any{"name": "p"}) {
		t.Errorf("create_network_policy args = %#v", n.args[1])
	}
	if out := j.SteadyStates.Before.Probes[0].Output; out != true {
		t.Errorf("pods_in_phase output %v, want true", out)
	}
	if len(j.Rollbacks) != 1 || j.Rollbacks[0].Status != "succeeded" {
		t.Errorf("rollbacks %+v", j.Rollbacks)
	}
}

func TestNativeFailureIsActivityFailed(t *testing.T) {
	exp, err := Parse([]byte(nativeExperiment), "json")
	if err != nil {
		t.Fatal(err)
	}
	n := &fakeNative{err: errors.New("networkpolicies.networking.k8s.io \"p\" already exists")}
	j, err := Run(context.Background(), exp, Options{Native: n})
	if err != nil {
		t.Fatal(err)
	}
	e := j.Run[0]
	if e.Status != "failed" || !strings.Contains(strings.Join(e.Exception, ""), "already exists") {
		t.Errorf("entry status %q exception %q, want failed naming the API error", e.Status, e.Exception)
	}
	// A failed method action does not stop the run; the rollback still runs.
	if j.Status != StatusCompleted || len(j.Rollbacks) != 1 {
		t.Errorf("status %s, %d rollbacks", j.Status, len(j.Rollbacks))
	}
}

func TestNativeRefusesOtherPythonProviders(t *testing.T) {
	data := strings.Replace(nativeExperiment, `"func": "remove_network_policy"`, `"func": "remove_network_policy"`, 1)
	data = strings.Replace(data, `"module": "chaosk8s.pod.probes", "func": "pods_in_phase"`, `"module": "chaosk8s.pod.probes", "func": "read_pod_logs"`, 1)
	exp, err := Parse([]byte(data), "json")
	if err != nil {
		t.Fatal(err)
	}
	err = CheckRunnableWith(exp, &fakeNative{})
	if !errors.Is(err, cmdutil.ErrUsage) || !strings.Contains(err.Error(), "chaosk8s.pod.probes.read_pod_logs") ||
		!strings.Contains(err.Error(), "pods-running") || !strings.Contains(err.Error(), "chaos run") {
		t.Errorf("err = %v, want a usage error naming the activity and the function and saying to use chaos run", err)
	}
	if _, err := Run(context.Background(), exp, Options{Native: &fakeNative{}}); err == nil {
		t.Error("Run accepted an experiment with an unsupported python provider")
	}
}
