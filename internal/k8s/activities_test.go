package k8s

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func pod(name string, phase corev1.PodPhase, created time.Time, lbl map[string]string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "lab", Labels: lbl, CreationTimestamp: metav1.NewTime(created)},
		Status: corev1.PodStatus{Phase: phase}}
}

func deployment(name string, replicas, ready, available int32) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "lab", Labels: map[string]string{"app": name}},
		Spec:   appsv1.DeploymentSpec{Replicas: &replicas},
		Status: appsv1.DeploymentStatus{ReadyReplicas: ready, AvailableReplicas: available}}
}

// partitionSpec is the experiment's spec as the engine hands it over: plain JSON values.
func partitionSpec() map[string]any {
	return map[string]any{
		"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
		"metadata": map[string]any{"name": "chaoslab-partition", "labels": map[string]any{"app.kubernetes.io/part-of": "chaoslab"}},
		"spec": map[string]any{
			"podSelector": map[string]any{"matchLabels": map[string]any{"app": "backend-service"}},
			"policyTypes": []any{"Ingress"},
			"ingress": []any{map[string]any{"from": []any{map[string]any{
				"namespaceSelector": map[string]any{},
				"podSelector": map[string]any{"matchExpressions": []any{map[string]any{
					"key": "app", "operator": "NotIn", "values": []any{"client-service"}}}},
			}}}},
		},
	}
}

func TestCreateAndRemoveNetworkPolicy(t *testing.T) {
	cs := fake.NewClientset()
	var created []string
	a := &Activities{Client: cs, Labels: map[string]string{RunLabel: "run-1"}, OnCreate: func(kind, ns, name string) { created = append(created, kind+" "+ns+"/"+name) }}
	ctx := context.Background()
	out, err := a.Call(ctx, "chaosk8s.networking.actions", "create_network_policy", map[string]any{"spec": partitionSpec(), "ns": "lab"})
	if err != nil || out != nil {
		t.Fatalf("create_network_policy = %v, %v; want None and no error", out, err)
	}
	np, err := cs.NetworkingV1().NetworkPolicies("lab").Get(ctx, "chaoslab-partition", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if np.Labels[RunLabel] != "run-1" || np.Labels["app.kubernetes.io/part-of"] != "chaoslab" {
		t.Errorf("labels %v: want the spec's and the run's", np.Labels)
	}
	in := np.Spec.Ingress
	if !reflect.DeepEqual(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) || np.Spec.PodSelector.MatchLabels["app"] != "backend-service" ||
		len(in) != 1 || len(in[0].From) != 1 || in[0].From[0].PodSelector.MatchExpressions[0].Values[0] != "client-service" {
		t.Errorf("spec not carried over: %+v", np.Spec)
	}
	if !reflect.DeepEqual(created, []string{"NetworkPolicy lab/chaoslab-partition"}) {
		t.Errorf("OnCreate told %v", created)
	}
	// A second create fails as the API's 409 does in Python.
	if _, err := a.Call(ctx, "chaosk8s.networking.actions", "create_network_policy", map[string]any{"spec": partitionSpec(), "ns": "lab"}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second create: %v, want AlreadyExists", err)
	}
	out, err = a.Call(ctx, "chaosk8s.networking.actions", "remove_network_policy", map[string]any{"name": "chaoslab-partition", "ns": "lab"})
	if err != nil || out != nil {
		t.Fatalf("remove_network_policy = %v, %v", out, err)
	}
	if _, err := a.Call(ctx, "chaosk8s.networking.actions", "remove_network_policy", map[string]any{"name": "chaoslab-partition", "ns": "lab"}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("removing a missing policy: %v, want not found", err)
	}
}

func TestCreateNetworkPolicyFromSpecPathAndDefaults(t *testing.T) {
	cs := fake.NewClientset()
	a := &Activities{Client: cs}
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: from-file\nspec:\n  podSelector: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Call(context.Background(), "chaosk8s.networking.actions", "create_network_policy", map[string]any{"spec_path": path}); err != nil {
		t.Fatal(err)
	}
	// ns defaults to "default", as in chaosk8s.
	if _, err := cs.NetworkingV1().NetworkPolicies("default").Get(context.Background(), "from-file", metav1.GetOptions{}); err != nil {
		t.Errorf("policy from spec_path not in namespace default: %v", err)
	}
	if _, err := a.Call(context.Background(), "chaosk8s.networking.actions", "create_network_policy", map[string]any{"ns": "lab"}); err == nil {
		t.Error("no spec and no spec_path: want an error")
	}
	if _, err := a.Call(context.Background(), "chaosk8s.networking.actions", "create_network_policy", map[string]any{"spec": "nope"}); err == nil {
		t.Error("a spec that is not a NetworkPolicy: want an error")
	}
}

func TestCallArguments(t *testing.T) {
	a := &Activities{Client: fake.NewClientset()}
	ctx := context.Background()
	cases := []struct {
		module, fn string
		args       map[string]any
		want       string
	}{
		{"chaosk8s.networking.actions", "remove_network_policy", map[string]any{"ns": "lab"}, "missing 1 required positional argument: 'name'"},
		{"chaosk8s.networking.actions", "remove_network_policy", map[string]any{"name": "x", "namespace": "lab"}, "unexpected keyword argument 'namespace'"},
		{"chaosk8s.pod.actions", "terminate_pods", map[string]any{"grace_period": "0"}, "grace_period must be a number"},
		{"chaosk8s.pod.actions", "terminate_pods", map[string]any{"mode": "some"}, "mode some is not supported"},
		{"chaosk8s.pod.actions", "terminate_pods", map[string]any{"order": "newest"}, "order newest is not supported"},
		{"chaosk8s.pod.actions", "terminate_pods", map[string]any{"all": "yes"}, "all must be true or false"},
		{"chaosk8s.pod.actions", "exec_in_pods", map[string]any{}, "not run natively"},
		// Every activity reads all its arguments first: the first mistyped one is the error,
		// before any API call (the fake clientset has no such objects: a call would fail otherwise).
		{"chaosk8s.pod.actions", "terminate_pods", map[string]any{"all": "yes", "qty": 1.5}, "all must be true or false"},
		{"chaosk8s.networking.actions", "remove_network_policy", map[string]any{"name": 5}, "name must be a string"},
		{"chaosk8s.networking.actions", "create_network_policy", map[string]any{"spec_path": true}, "spec_path must be a string"},
		{"chaosk8s.pod.probes", "pods_in_phase", map[string]any{"label_selector": "app=x", "phase": 3}, "phase must be a string"},
		{"chaosk8s.pod.probes", "count_pods", map[string]any{"label_selector": 7}, "label_selector must be a string"},
		{"chaosk8s.deployment.probes", "deployment_available_and_healthy", map[string]any{"name": "b", "raise_on_unavailable": "no"}, "raise_on_unavailable must be true or false"},
		{"chaosk8s.deployment.probes", "deployment_fully_available", map[string]any{"name": "b", "timeout": 1.5}, "timeout must be a whole number"},
	}
	for _, tc := range cases {
		_, err := a.Call(ctx, tc.module, tc.fn, tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s(%v) = %v, want an error with %q", tc.fn, tc.args, err, tc.want)
		}
	}
	if a.Supports("chaosk8s.pod.actions", "exec_in_pods") || !a.Supports("chaosk8s.pod.actions", "terminate_pods") {
		t.Error("Supports disagrees with the catalogue")
	}
}

func podsClient(now time.Time) *fake.Clientset {
	backend := map[string]string{"app": "backend-service"}
	return fake.NewClientset(
		pod("backend-c", corev1.PodRunning, now.Add(-1*time.Minute), backend),
		pod("backend-a", corev1.PodRunning, now.Add(-2*time.Minute), backend),
		pod("backend-b", corev1.PodRunning, now.Add(-3*time.Minute), backend),
		pod("client-a", corev1.PodRunning, now, map[string]string{"app": "client-service"}),
	)
}

// deletedPods lists the pods the fake clientset was asked to delete, with their grace periods.
func deletedPods(cs *fake.Clientset) (names []string, graces []*int64) {
	for _, act := range cs.Actions() {
		if d, ok := act.(k8stesting.DeleteActionImpl); ok && act.GetResource().Resource == "pods" {
			names = append(names, d.GetName())
			graces = append(graces, d.DeleteOptions.GracePeriodSeconds)
		}
	}
	return names, graces
}

func TestTerminatePods(t *testing.T) {
	now := time.Now()
	zero := int64(0)
	cases := []struct {
		name  string
		args  map[string]any
		want  []string
		grace *int64
	}{
		{"all, grace 0", map[string]any{"label_selector": "app=backend-service", "all": true, "grace_period": int64(0), "ns": "lab"},
			[]string{"backend-a", "backend-b", "backend-c"}, &zero},
		{"default: one, alphabetic, the pod's own grace", map[string]any{"label_selector": "app=backend-service", "ns": "lab"}, []string{"backend-a"}, nil},
		{"oldest first", map[string]any{"label_selector": "app=backend-service", "qty": int64(2), "order": "oldest", "ns": "lab"}, []string{"backend-b", "backend-a"}, nil},
		{"name pattern", map[string]any{"name_pattern": "^backend-[bc]$", "all": true, "ns": "lab"}, []string{"backend-b", "backend-c"}, nil},
		{"percentage rounds up", map[string]any{"label_selector": "app=backend-service", "mode": "percentage", "qty": int64(50), "ns": "lab"}, []string{"backend-a", "backend-b"}, nil},
		{"qty above the count", map[string]any{"label_selector": "app=backend-service", "qty": float64(10), "ns": "lab"}, []string{"backend-a", "backend-b", "backend-c"}, nil},
		{"nothing matches", map[string]any{"label_selector": "app=nope", "all": true, "ns": "lab"}, []string{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cs := podsClient(now)
			a := &Activities{Client: cs}
			out, err := a.Call(context.Background(), "chaosk8s.pod.actions", "terminate_pods", tc.args)
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, n := range out.([]any) {
				got = append(got, n.(string))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("output %v, want %v", got, tc.want)
			}
			names, graces := deletedPods(cs)
			if !reflect.DeepEqual(append([]string{}, names...), tc.want) {
				t.Errorf("deleted %v, want %v", names, tc.want)
			}
			for _, g := range graces {
				if (g == nil) != (tc.grace == nil) || (g != nil && *g != *tc.grace) {
					t.Errorf("grace period %v, want %v", g, tc.grace)
				}
			}
			left, _ := cs.CoreV1().Pods("lab").List(context.Background(), metav1.ListOptions{})
			if len(left.Items) != 4-len(tc.want) {
				t.Errorf("%d pods left, want %d", len(left.Items), 4-len(tc.want))
			}
		})
	}
	t.Run("rand picks qty pods", func(t *testing.T) {
		cs := podsClient(now)
		a := &Activities{Client: cs, Rand: rand.New(rand.NewPCG(1, 2))}
		out, err := a.Call(context.Background(), "chaosk8s.pod.actions", "terminate_pods", map[string]any{"label_selector": "app=backend-service", "rand": true, "qty": int64(2), "ns": "lab"})
		if err != nil || len(out.([]any)) != 2 {
			t.Fatalf("= %v, %v; want two pods", out, err)
		}
	})
}

func TestTerminatePodsAPIError(t *testing.T) {
	cs := podsClient(time.Now())
	cs.PrependReactor("delete", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, context.DeadlineExceeded
	})
	a := &Activities{Client: cs}
	if _, err := a.Call(context.Background(), "chaosk8s.pod.actions", "terminate_pods", map[string]any{"all": true, "ns": "lab"}); err == nil || !strings.Contains(err.Error(), "delete pod backend-a") {
		t.Errorf("err = %v, want the failed delete named", err)
	}
}

func TestPodsInPhase(t *testing.T) {
	cs := fake.NewClientset(
		pod("b-1", corev1.PodRunning, time.Now(), map[string]string{"app": "b"}),
		pod("b-2", corev1.PodPending, time.Now(), map[string]string{"app": "b"}),
		pod("c-1", corev1.PodRunning, time.Now(), map[string]string{"app": "c"}),
	)
	a := &Activities{Client: cs}
	call := func(args map[string]any) (any, error) {
		return a.Call(context.Background(), "chaosk8s.pod.probes", "pods_in_phase", args)
	}
	if out, err := call(map[string]any{"label_selector": "app=c", "phase": "Running", "ns": "lab"}); err != nil || out != true {
		t.Errorf("all running: %v, %v; want true", out, err)
	}
	if _, err := call(map[string]any{"label_selector": "app=b", "phase": "Running", "ns": "lab"}); err == nil ||
		err.Error() != "pod 'app=b' is in phase 'Pending' but should be 'Running'" {
		t.Errorf("one pending: %v, want chaosk8s's message", err)
	}
	if out, err := call(map[string]any{"label_selector": "app=b", "ns": "lab", "raise_on_invalid_phase": false}); err != nil || out != false {
		t.Errorf("one pending, no raise: %v, %v; want false", out, err)
	}
	if _, err := call(map[string]any{"label_selector": "app=none", "ns": "lab"}); err == nil || err.Error() != "no pods 'app=none' were found" {
		t.Errorf("no pods: %v", err)
	}
	if out, err := a.Call(context.Background(), "chaosk8s.pod.probes", "count_pods", map[string]any{"label_selector": "app=b", "phase": "Running", "ns": "lab"}); err != nil || out != int64(1) {
		t.Errorf("count_pods = %v, %v; want 1", out, err)
	}
}

func TestDeploymentAvailableAndHealthy(t *testing.T) {
	cs := fake.NewClientset(deployment("ok", 2, 2, 2), deployment("sick", 2, 1, 1))
	a := &Activities{Client: cs}
	call := func(args map[string]any) (any, error) {
		return a.Call(context.Background(), "chaosk8s.deployment.probes", "deployment_available_and_healthy", args)
	}
	if out, err := call(map[string]any{"name": "ok", "ns": "lab"}); err != nil || out != true {
		t.Errorf("healthy: %v, %v", out, err)
	}
	if _, err := call(map[string]any{"name": "sick", "ns": "lab"}); err == nil || err.Error() != "Deployment 'sick' is not healthy" {
		t.Errorf("unhealthy: %v", err)
	}
	if out, err := call(map[string]any{"name": "sick", "ns": "lab", "raise_on_unavailable": false}); err != nil || out != false {
		t.Errorf("unhealthy, no raise: %v, %v", out, err)
	}
	if _, err := call(map[string]any{"name": "missing", "ns": "lab"}); err == nil || err.Error() != "Deployment 'missing' was not found" {
		t.Errorf("missing: %v", err)
	}
	if _, err := call(map[string]any{"name": "ok", "ns": "lab", "label_selector": "app=other"}); err == nil {
		t.Error("a label selector the Deployment does not match: want not found")
	}
}

func TestDeploymentFullyAvailable(t *testing.T) {
	t.Run("already ready", func(t *testing.T) {
		a := &Activities{Client: fake.NewClientset(deployment("d", 1, 1, 1))}
		out, err := a.Call(context.Background(), "chaosk8s.deployment.probes", "deployment_fully_available", map[string]any{"name": "d", "ns": "lab"})
		if err != nil || out != true {
			t.Errorf("= %v, %v; want true", out, err)
		}
	})
	t.Run("becomes ready while watched", func(t *testing.T) {
		cs := fake.NewClientset(deployment("d", 1, 0, 0))
		watching := make(chan struct{})
		cs.PrependWatchReactor("deployments", func(k8stesting.Action) (bool, watch.Interface, error) {
			close(watching)
			return false, nil, nil
		})
		a := &Activities{Client: cs}
		type result struct {
			out any
			err error
		}
		done := make(chan result, 1)
		go func() {
			out, err := a.Call(context.Background(), "chaosk8s.deployment.probes", "deployment_fully_available", map[string]any{"name": "d", "ns": "lab", "timeout": int64(30)})
			done <- result{out, err}
		}()
		<-watching
		if _, err := cs.AppsV1().Deployments("lab").UpdateStatus(context.Background(), deployment("d", 1, 1, 1), metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if r.err != nil || r.out != true {
			t.Errorf("= %v, %v; want true", r.out, r.err)
		}
	})
	t.Run("times out", func(t *testing.T) {
		a := &Activities{Client: fake.NewClientset(deployment("d", 1, 0, 0))}
		_, err := a.Call(context.Background(), "chaosk8s.deployment.probes", "deployment_fully_available", map[string]any{"name": "d", "ns": "lab", "timeout": int64(1)})
		if err == nil || err.Error() != "deployment 'd' failed to recover within 1s" {
			t.Errorf("err = %v, want chaosk8s's message", err)
		}
		out, err := a.Call(context.Background(), "chaosk8s.deployment.probes", "deployment_fully_available", map[string]any{"name": "d", "ns": "lab", "timeout": int64(1), "raise_on_not_fully_available": false})
		if err != nil || out != false {
			t.Errorf("no raise: %v, %v; want false", out, err)
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		a := &Activities{Client: fake.NewClientset(deployment("d", 1, 0, 0))}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := a.Call(ctx, "chaosk8s.deployment.probes", "deployment_fully_available", map[string]any{"name": "d", "ns": "lab"}); err == nil {
			t.Error("a cancelled context: want an error")
		}
	})
}
