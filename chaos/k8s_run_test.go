package chaos_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"chaoslab/internal/experiment"
	"chaoslab/internal/fault"
	"chaoslab/internal/k8s"
)

// kubelet is the backend's process as the fault-proxy sidecar controls it: a kill takes it down,
// and the kubelet has it back at once.
type kubelet struct {
	mu      sync.Mutex
	running bool
	pid     int
	kills   int
}

func (k *kubelet) Services() []string  { return []string{"backend-service"} }
func (k *kubelet) RestartedBy() string { return "the kubelet restarts the container" }

func (k *kubelet) Kill(_ context.Context, _ string, _ syscall.Signal) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.running = false
	k.kills++
	return k.pid, nil
}

func (k *kubelet) Start(context.Context, string) (int, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.running {
		return k.pid, false, nil
	}
	k.running, k.pid = true, k.pid+1
	return k.pid, true, nil
}

func (k *kubelet) Status(string) fault.ProcessStatus {
	k.mu.Lock()
	defer k.mu.Unlock()
	return fault.ProcessStatus{PID: k.pid, Running: k.running}
}

// labPods is deploy/k8s as a fake cluster sees it: both services' pods Running, the backend's
// Deployment fully available.
func labPods() *fake.Clientset {
	pod := func(app string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: app + "-1", Namespace: "chaoslab", Labels: map[string]string{"app": app}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	}
	one := int32(1)
	backend := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "backend-service", Namespace: "chaoslab", Labels: map[string]string{"app": "backend-service"}},
		Spec: appsv1.DeploymentSpec{Replicas: &one}, Status: appsv1.DeploymentStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, UpdatedReplicas: 1}}
	return fake.NewClientset(pod("backend-service"), pod("client-service"), backend)
}

// faultAPI is the sidecar's fault API (the real one: Toxiproxy, the HTTP injector, process
// faults over a kubelet, the capacity fault and a load spike both to upstream) in front of
// upstream; it records every fault on/off.
func faultAPI(t *testing.T, upstream string) (*fault.API, func() []fault.Change) {
	t.Helper()
	proxy, err := fault.StartProxy(fault.ProxyConfig{Listen: "127.0.0.1:0", Upstream: upstream})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var changes []fault.Change
	api, err := fault.StartAPI(fault.APIConfig{Addr: "127.0.0.1:0", TCP: proxy, HTTP: fault.NewHTTPFaults(fault.HTTPFaultsConfig{Upstream: upstream}),
		Processes: &kubelet{running: true, pid: 7}, Backend: "http://" + upstream, Clients: []string{"http://" + upstream}, OnChange: func(c fault.Change) { mu.Lock(); changes = append(changes, c); mu.Unlock() }})
	if err != nil {
		proxy.Close(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close(context.Background()) })
	return api, func() []fault.Change { mu.Lock(); defer mu.Unlock(); return slices.Clone(changes) }
}

// TestKubernetesFilesRun runs every Kubernetes file with chaoslab's engine, as `chaoslab run
// --stack k8s` would: the chaosk8s calls natively against a fake cluster, the fault API the
// sidecar's own, the services a recorder; the pauses overridden to 0. Each run completes with
// every activity succeeded; the method put a fault in place (a fault on, or a NetworkPolicy
// created) and the rollbacks left none: no fault in the API, no NetworkPolicy in the cluster.
func TestKubernetesFilesRun(t *testing.T) {
	vars := map[string]any{"partition_duration": int64(0), "fault_duration": int64(0), "on_seconds": int64(0), "off_seconds": int64(0),
		"breaker_settle": int64(0), "recovery_timeout": int64(1), "watch_duration": int64(0)}
	for _, path := range k8sFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			services := httptest.NewServer(&recorder{})
			t.Cleanup(services.Close)
			api, changes := faultAPI(t, services.Listener.Addr().String())
			cs := labPods()
			env := map[string]string{"CHAOSLAB_CLIENT_URL": services.URL, "CHAOSLAB_BACKEND_URL": services.URL, "CHAOSLAB_TOXIPROXY_URL": api.URL()}
			exp, err := experiment.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			conf, _ := readDoc(t, path)["configuration"].(map[string]any)
			used := map[string]any{}
			for k, v := range vars {
				if _, ok := conf[k]; ok {
					used[k] = v
				}
			}
			if _, ok := conf["spike_rate"]; ok { // a spike of no duration is refused: a short one
				used["fault_duration"] = 0.2
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			j, err := experiment.Run(ctx, exp, experiment.Options{Vars: used, Native: &k8s.Activities{Client: cs},
				LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if j.Status != experiment.StatusCompleted || j.Deviated {
				t.Errorf("status %s, deviated %t", j.Status, j.Deviated)
			}
			all := append(append(slices.Clone(j.Run), j.Rollbacks...), j.SteadyStates.Before.Probes...)
			for _, e := range append(all, j.SteadyStates.After.Probes...) {
				if e.Status != "succeeded" {
					t.Errorf("activity %s: %s %v", e.Name(), e.Status, e.Exception)
				}
			}
			created := 0
			for _, a := range cs.Actions() {
				if a.GetVerb() == "create" && a.GetResource().Resource == "networkpolicies" {
					created++
				}
			}
			ch := changes()
			switch {
			case created == 0 && len(ch) == 0:
				t.Error("the method put no fault in place")
			case len(ch) > 0 && (!ch[0].Active || ch[len(ch)-1].Active):
				t.Errorf("the sidecar's faults went %+v, want on first and off last", ch)
			}
			if left, what := api.Leftover(); left {
				t.Errorf("the rollbacks left a fault in the sidecar: %s", what)
			}
			if list, err := cs.NetworkingV1().NetworkPolicies("chaoslab").List(ctx, metav1.ListOptions{}); err != nil || len(list.Items) != 0 {
				t.Errorf("the rollbacks left NetworkPolicies %v (%v)", list, err)
			}
		})
	}
}
