package k8s

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"chaoslab/internal/results"
)

func runningPod(name, app string, ready bool, restarts int32) *corev1.Pod {
	cond := corev1.ConditionFalse
	if ready {
		cond = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "lab", UID: types.UID("uid-" + name), Labels: map[string]string{"app": app}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: cond}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: app, RestartCount: restarts, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}},
	}
}

// syncWriter is a log file for the observer, safe to read while it writes.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TestObserverRecordsPodLife: a deleted backend pod is a kill, its Ready replacement a start
// with the time since the kill, a container restart of the client a kill and a problem, and
// every pod's log goes to its service's file.
func TestObserverRecordsPodLife(t *testing.T) {
	c, cs := labCluster(runningPod("backend-a", results.BackendService, true, 0), runningPod("client-a", results.ClientService, true, 0))
	events := results.NewEventLog(nil)
	var mu sync.Mutex
	var problems []string
	backendLog := &syncWriter{}
	obs := NewObserver(c, events, map[string]io.Writer{results.BackendService: backendLog}, slog.New(slog.DiscardHandler),
		func(f string, a ...any) { mu.Lock(); problems = append(problems, fmt.Sprintf(f, a...)); mu.Unlock() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); obs.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10s; events %+v", what, events.Events())
			}
			time.Sleep(10 * time.Millisecond) // polling the observer's state
		}
	}
	find := func(action, svc string) *results.Event {
		for _, e := range events.Events() {
			if e.Kind == results.KindProcess && e.Action == action && e.Service == svc {
				return &e
			}
		}
		return nil
	}
	waitUntil("the pods seen", func() bool { r, _ := obs.Running(results.ClientService); return r })
	if len(events.Events()) != 0 {
		t.Errorf("pods seen at the start made events: %+v", events.Events())
	}

	pods := cs.CoreV1().Pods("lab")
	if err := pods.Delete(ctx, "backend-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil("the kill", func() bool { return find("kill", results.BackendService) != nil })
	if _, err := pods.Create(ctx, runningPod("backend-b", results.BackendService, false, 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.UpdateStatus(ctx, runningPod("backend-b", results.BackendService, true, 0), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil("the replacement's start", func() bool { return find("start", results.BackendService) != nil })
	if s := find("start", results.BackendService); s.DurationMS <= 0 || !strings.Contains(s.Message, "backend-b") {
		t.Errorf("start event %+v: want the new pod and the time since the kill", s)
	}

	restarted := runningPod("client-a", results.ClientService, true, 1)
	restarted.Status.ContainerStatuses[0].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}
	if _, err := pods.UpdateStatus(ctx, restarted, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil("the client's restart", func() bool { return find("kill", results.ClientService) != nil })
	mu.Lock()
	if len(problems) != 1 || !strings.Contains(problems[0], "client-a") || !strings.Contains(problems[0], "OOMKilled") {
		t.Errorf("problems %q: want the client's restart named with its reason", problems)
	}
	mu.Unlock()
	waitUntil("the backend pods' logs", func() bool {
		backendLog.mu.Lock()
		defer backendLog.mu.Unlock()
		return strings.Count(backendLog.b.String(), "fake logs") >= 2 // the fake clientset's log body, once per pod
	})

	// A restart the experiment made (a kill through the fault sidecar) is recorded, not a problem.
	obs.ExpectRestart(results.BackendService)
	if _, err := pods.UpdateStatus(ctx, runningPod("backend-b", results.BackendService, true, 1), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	killedByExperiment := func() bool {
		for _, e := range events.Events() {
			if e.Action == "kill" && strings.Contains(e.Message, "backend-b: container killed by the experiment") {
				return true
			}
		}
		return false
	}
	waitUntil("the backend's expected restart", killedByExperiment)
	mu.Lock()
	if len(problems) != 1 {
		t.Errorf("problems %q: an expected restart is not one", problems)
	}
	mu.Unlock()

	// The expectation covers one restart, however late the kubelet's back-off makes it: the
	// next one, with no kill behind it, is a problem again.
	if _, err := pods.UpdateStatus(ctx, runningPod("backend-b", results.BackendService, true, 2), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitUntil("the backend's unexpected restart", func() bool { mu.Lock(); defer mu.Unlock(); return len(problems) == 2 })
}

// TestObserverIgnoresAPodAlreadyGoing: a pod that was already being deleted when the run began
// (the old pod of --compare's rollout) is not a kill of the run's.
func TestObserverIgnoresAPodAlreadyGoing(t *testing.T) {
	old := runningPod("client-old", results.ClientService, true, 0)
	old.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	c, _ := labCluster(old, runningPod("client-new", results.ClientService, true, 0))
	events := results.NewEventLog(nil)
	obs := NewObserver(c, events, nil, slog.New(slog.DiscardHandler), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); obs.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for obs.seen() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if obs.seen() < 2 {
		t.Fatal("the observer did not see both pods")
	}
	for _, e := range events.Events() {
		if e.Action == "kill" {
			t.Errorf("a pod already going was recorded as killed: %+v", e)
		}
	}
}

// TestObserverStreamsTheServiceContainer: the log streamed is the service's own container (named
// after the app), never the pod's default: the backend's pod also runs the fault-proxy sidecar,
// and the API server refuses the log of a pod of two containers without a container's name.
func TestObserverStreamsTheServiceContainer(t *testing.T) {
	pod := runningPod("backend-a", results.BackendService, true, 0)
	pod.Spec.Containers = []corev1.Container{{Name: results.BackendService}, {Name: "fault-proxy"}}
	c, cs := labCluster(pod)
	backendLog := &syncWriter{}
	obs := NewObserver(c, results.NewEventLog(nil), map[string]io.Writer{results.BackendService: backendLog}, slog.New(slog.DiscardHandler), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); obs.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		backendLog.mu.Lock()
		streamed := strings.Contains(backendLog.b.String(), "fake logs")
		backendLog.mu.Unlock()
		if streamed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the backend's log was not streamed within 10s")
		}
		time.Sleep(10 * time.Millisecond) // polling the observer's output
	}
	var containers []string
	for _, a := range cs.Actions() {
		if a.GetSubresource() != "log" {
			continue
		}
		if g, ok := a.(interface{ GetValue() any }); ok {
			if opts, ok := g.GetValue().(*corev1.PodLogOptions); ok {
				containers = append(containers, opts.Container)
			}
		}
	}
	if len(containers) != 1 || containers[0] != results.BackendService {
		t.Errorf("log requests for containers %q, want one for %s", containers, results.BackendService)
	}
}

// seen is how many pods the observer has seen (tests wait for it).
func (o *Observer) seen() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pods)
}
