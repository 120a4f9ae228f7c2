package k8s

import (
	"context"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// allow answers every SelfSubjectAccessReview with allowed, except the verb/resource pairs in deny.
func allow(cs *fake.Clientset, deny ...string) {
	cs.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
		attrs := r.Spec.ResourceAttributes
		key := attrs.Verb + " " + attrs.Resource
		if attrs.Subresource != "" {
			key += "/" + attrs.Subresource
		}
		r.Status.Allowed = true
		for _, d := range deny {
			if d == key {
				r.Status.Allowed = false
			}
		}
		return true, r, nil
	})
}

func labCluster(objs ...runtime.Object) (*Cluster, *fake.Clientset) {
	cs := fake.NewClientset(objs...)
	return &Cluster{Client: cs, Namespace: "lab", Context: "test", Host: "https://test"}, cs
}

func healthyLab() []runtime.Object {
	return []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "lab"}},
		deployment(BackendDeployment, 1, 1, 1), deployment(ClientDeployment, 1, 1, 1),
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: ClientServiceName, Namespace: "lab"}},
	}
}

func TestPreflight(t *testing.T) {
	ctx := context.Background()
	t.Run("ready", func(t *testing.T) {
		c, cs := labCluster(healthyLab()...)
		allow(cs)
		if err := c.Preflight(ctx); err != nil {
			t.Fatalf("Preflight: %v", err)
		}
	})
	t.Run("no namespace", func(t *testing.T) {
		c, cs := labCluster()
		allow(cs)
		err := c.Preflight(ctx)
		if err == nil || !strings.Contains(err.Error(), `namespace "lab" not found`) || !strings.Contains(err.Error(), "kubectl apply -k deploy/k8s") {
			t.Errorf("err = %v, want the missing namespace and what to do", err)
		}
	})
	t.Run("everything wrong at once", func(t *testing.T) {
		objs := []runtime.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "lab"}}, deployment(BackendDeployment, 1, 0, 0)}
		c, cs := labCluster(objs...)
		allow(cs, "create networkpolicies", "delete pods", "get pods/log")
		err := c.Preflight(ctx)
		if err == nil {
			t.Fatal("Preflight passed a broken lab")
		}
		for _, want := range []string{
			"Deployment backend-service has 0 of 1 replicas available",
			"Deployment client-service not found in namespace lab: kubectl apply -k deploy/k8s",
			"Service client-service",
			"not allowed to create networkpolicies.networking.k8s.io in namespace lab",
			"kubectl auth can-i create networkpolicies.networking.k8s.io -n lab",
			"not allowed to delete pods in namespace lab (needed for terminate_pods)",
			"not allowed to get pods/log",
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q:\n%v", want, err)
			}
		}
		if strings.Contains(err.Error(), "not allowed to list pods") {
			t.Errorf("a granted permission reported as missing:\n%v", err)
		}
	})
}

func TestLeftoversAndLoadPause(t *testing.T) {
	ctx := context.Background()
	load := deployment(LoadDeployment, 2, 2, 2)
	ours := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "chaoslab-partition", Namespace: "lab", Labels: RunLabels("run-old")}}
	theirs := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "user-policy", Namespace: "lab"}}
	c, cs := labCluster(load, ours, theirs)

	paused, err := c.PauseLoad(ctx, "run-old")
	if err != nil || !paused {
		t.Fatalf("PauseLoad = %v, %v", paused, err)
	}
	d, _ := cs.AppsV1().Deployments("lab").Get(ctx, LoadDeployment, metav1.GetOptions{})
	if *d.Spec.Replicas != 0 || d.Annotations[PausedByAnnotation] != "run-old" || d.Annotations[ReplicasAnnotation] != "2" {
		t.Fatalf("paused load: replicas %d annotations %v", *d.Spec.Replicas, d.Annotations)
	}
	if again, err := c.PauseLoad(ctx, "run-new"); err != nil || again {
		t.Errorf("pausing a paused load again = %v, %v; want nothing done", again, err)
	}

	// run-old was killed: the next run (or chaoslab recover) undoes all of it, and says so.
	removed, err := c.RemoveLeftovers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(removed, "\n")
	if len(removed) != 2 || !strings.Contains(text, "NetworkPolicy lab/chaoslab-partition (run run-old") || !strings.Contains(text, "scaled back to 2 replicas (paused by run-old)") {
		t.Errorf("removed = %q", removed)
	}
	if _, err := cs.NetworkingV1().NetworkPolicies("lab").Get(ctx, "user-policy", metav1.GetOptions{}); err != nil {
		t.Errorf("a policy chaoslab did not create was touched: %v", err)
	}
	if _, err := cs.NetworkingV1().NetworkPolicies("lab").Get(ctx, "chaoslab-partition", metav1.GetOptions{}); err == nil {
		t.Error("the leftover policy is still there")
	}
	d, _ = cs.AppsV1().Deployments("lab").Get(ctx, LoadDeployment, metav1.GetOptions{})
	if *d.Spec.Replicas != 2 || d.Annotations[PausedByAnnotation] != "" {
		t.Errorf("load after recover: replicas %d annotations %v", *d.Spec.Replicas, d.Annotations)
	}
	if removed, err := c.RemoveLeftovers(ctx); err != nil || len(removed) != 0 {
		t.Errorf("second recover = %q, %v; want nothing", removed, err)
	}
}

func TestRemoveRunObjectsKeepsOtherRuns(t *testing.T) {
	ctx := context.Background()
	mine := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "lab", Labels: RunLabels("run-1")}}
	other := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "lab", Labels: RunLabels("run-2")}}
	c, cs := labCluster(mine, other)
	removed, err := c.RemoveRunObjects(ctx, "run-1")
	if err != nil || len(removed) != 1 {
		t.Fatalf("= %q, %v", removed, err)
	}
	list, _ := cs.NetworkingV1().NetworkPolicies("lab").List(ctx, metav1.ListOptions{})
	if len(list.Items) != 1 || list.Items[0].Name != "b" {
		t.Errorf("left %v, want only run-2's policy", list.Items)
	}
}

// WaitLoadStopped returns once the paused load generator's pods are gone (their requests would
// count as the run's), at once without a load generator, and names the pods that outlive the
// timeout.
func TestWaitLoadStopped(t *testing.T) {
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "chaoslab-load-1", Namespace: "lab", Labels: map[string]string{"app": LoadDeployment}}}
	c, cs := labCluster(deployment(LoadDeployment, 0, 0, 0), pod)
	if err := c.WaitLoadStopped(ctx, 0); err == nil || !strings.Contains(err.Error(), "chaoslab-load-1") {
		t.Errorf("a pod left after the timeout: %v, want an error naming it", err)
	}
	done := make(chan error, 1)
	go func() { done <- c.WaitLoadStopped(ctx, time.Minute) }()
	if err := cs.CoreV1().Pods("lab").Delete(ctx, pod.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("the pod gone: %v, want nil", err)
	}
	none, _ := labCluster()
	if err := none.WaitLoadStopped(ctx, 0); err != nil {
		t.Errorf("no load generator: %v, want nil", err)
	}
}
