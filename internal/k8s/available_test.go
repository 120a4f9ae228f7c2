package k8s

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
)

// waitingPod is a pod of app whose container waits for reason.
func waitingPod(app, reason string, restarts int32) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: app + "-x", Namespace: "lab", Labels: map[string]string{"app": app}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: app, RestartCount: restarts, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}}}}
}

// A backend the kubelet is restarting (an earlier run's kill) is waited for, with progress, and
// the run goes on once it is available.
func TestWaitAvailableRestarting(t *testing.T) {
	objs := append(healthyLab(), waitingPod(BackendDeployment, "CrashLoopBackOff", 2))
	objs[1] = deployment(BackendDeployment, 1, 0, 0)
	c, cs := labCluster(objs...)
	allow(cs)
	var gets atomic.Int32
	cs.PrependReactor("get", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.GetAction).GetName() != BackendDeployment {
			return false, nil, nil
		}
		if gets.Add(1) >= 3 { // available from the third look on
			return true, deployment(BackendDeployment, 1, 1, 1), nil
		}
		return false, nil, nil
	})
	var said []string
	if err := c.WaitAvailable(context.Background(), time.Minute, func(s string) { said = append(said, s) }); err != nil {
		t.Fatal(err)
	}
	if gets.Load() < 3 {
		t.Errorf("returned after %d looks, before the backend was available", gets.Load())
	}
	if len(said) == 0 || !strings.Contains(said[0], "backend-service 0 of 1 replicas available: container backend-service CrashLoopBackOff (2 restarts)") {
		t.Errorf("progress = %q, want the backend's state", said)
	}
	if err := c.Preflight(context.Background()); err != nil {
		t.Errorf("Preflight after the wait: %v", err)
	}
}

// An image that cannot be pulled is not waited for: Preflight says so at once, with what to do.
func TestWaitAvailableHopeless(t *testing.T) {
	objs := append(healthyLab(), waitingPod(ClientDeployment, "ImagePullBackOff", 0))
	objs[2] = deployment(ClientDeployment, 1, 0, 0)
	c, cs := labCluster(objs...)
	allow(cs)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.WaitAvailable(ctx, time.Hour, func(string) {}); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("waited for an image that cannot be pulled")
	}
	err := c.Preflight(ctx)
	for _, want := range []string{"Deployment client-service has 0 of 1 replicas available (container client-service ImagePullBackOff (0 restarts))", "load chaoslab:dev into the cluster"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Preflight = %v, want %q", err, want)
		}
	}
}

// The wait is bounded: at the timeout Preflight reports what is still wrong.
func TestWaitAvailableTimeout(t *testing.T) {
	objs := append(healthyLab(), waitingPod(BackendDeployment, "CrashLoopBackOff", 5))
	objs[1] = &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: BackendDeployment, Namespace: "lab"}}
	c, cs := labCluster(objs...)
	allow(cs)
	if err := c.WaitAvailable(context.Background(), 10*time.Millisecond, func(string) {}); err != nil {
		t.Fatal(err)
	}
	err := c.Preflight(context.Background())
	if err == nil || !strings.Contains(err.Error(), "CrashLoopBackOff (5 restarts)") || !strings.Contains(err.Error(), "logs --previous") {
		t.Errorf("Preflight = %v, want the crash loop and how to see why", err)
	}
}
