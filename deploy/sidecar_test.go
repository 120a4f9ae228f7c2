package deploy_test

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"chaoslab/internal/backend"
	"chaoslab/internal/sidecar"
	"chaoslab/internal/stack"
)

const faultProxy = "fault-proxy"

// backendPod is the backend Deployment's pod, its backend container and its fault-proxy sidecar.
func backendPod(t *testing.T) (corev1.PodTemplateSpec, corev1.Container, corev1.Container) {
	t.Helper()
	d, ok := loadManifests(t).deployments["backend-service"]
	if !ok {
		t.Fatal("no Deployment backend-service")
	}
	var backend, proxy *corev1.Container
	for i, c := range d.Spec.Template.Spec.Containers {
		switch c.Name {
		case "backend-service":
			backend = &d.Spec.Template.Spec.Containers[i]
		case faultProxy:
			proxy = &d.Spec.Template.Spec.Containers[i]
		}
	}
	if backend == nil || proxy == nil {
		t.Fatalf("containers %v, want backend-service and %s", d.Spec.Template.Spec.Containers, faultProxy)
	}
	return d.Spec.Template, *backend, *proxy
}

// portOf is the port number of an address such as :8082 or 127.0.0.1:8081.
func portOf(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(p)
	if err != nil || perr != nil {
		t.Fatalf("address %q has no port", addr)
	}
	return int32(n)
}

// TestFaultProxySidecar: the backend's pod runs `chaoslab serve fault-proxy` beside the backend,
// hardened like it and as its UID (the kill needs no capability then), sharing its process
// namespace; the sidecar's variables load, its ports are the ones it listens on, its upstream is
// the backend's port and its process name the backend's binary; its probes are its own.
func TestFaultProxySidecar(t *testing.T) {
	tmpl, backend, proxy := backendPod(t)
	pod := tmpl.Spec
	if pod.ShareProcessNamespace == nil || !*pod.ShareProcessNamespace {
		t.Error("shareProcessNamespace must be true: the sidecar finds the backend in /proc")
	}
	if got := tmpl.Annotations["kubectl.kubernetes.io/default-container"]; got != "backend-service" {
		t.Errorf("default-container annotation = %q, want backend-service (kubectl logs -l app=backend-service)", got)
	}
	if want := []string{"/usr/local/bin/chaoslab", "serve", faultProxy}; !slices.Equal(proxy.Command, want) {
		t.Errorf("command = %q, want %q", proxy.Command, want)
	}
	if *proxy.SecurityContext.RunAsUser != *backend.SecurityContext.RunAsUser {
		t.Errorf("the sidecar runs as UID %d, the backend as %d: without CAP_KILL the sidecar can signal only its own UID",
			*proxy.SecurityContext.RunAsUser, *backend.SecurityContext.RunAsUser)
	}
	env := map[string]string{}
	for _, e := range proxy.Env {
		if e.ValueFrom != nil {
			t.Errorf("env %s comes from elsewhere: this test cannot check it", e.Name)
		}
		env[e.Name] = e.Value
	}
	cfg, err := sidecar.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("the sidecar's variables: %v", err)
	}
	if cfg.LogFormat != "json" {
		t.Errorf("LOG_FORMAT %q, want json: the fault records are read by programs", cfg.LogFormat)
	}
	ports := podPorts(pod)
	backendPort := ports["http"]
	checks := []struct{ what, got, want string }{
		{"LISTEN_ADDR's port vs port proxy", strconv.Itoa(int(portOf(t, cfg.ListenAddr))), strconv.Itoa(int(ports["proxy"]))},
		{"FAULT_API_ADDR's port vs port faults", strconv.Itoa(int(portOf(t, cfg.FaultAPIAddr))), strconv.Itoa(int(ports["faults"]))},
		{"UPSTREAM vs the backend's port", cfg.Upstream, "127.0.0.1:" + strconv.Itoa(int(backendPort))},
		{"BACKEND_PROCESS vs the backend's binary", cfg.Process, filepath.Base(backend.Command[0])},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %s, want %s", c.what, c.got, c.want)
		}
	}
	for _, p := range []struct {
		kind  string
		probe *corev1.Probe
		path  string
	}{{"readiness", proxy.ReadinessProbe, "/readyz"}, {"liveness", proxy.LivenessProbe, "/healthz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port != intstr.FromString("faults") {
			t.Errorf("%s probe = %+v, want GET %s on port faults", p.kind, p.probe, p.path)
		}
	}
}

// TestFaultAPIService: the fault API is a ClusterIP Service of the backend's pods, port 8474
// (the experiments' default), named http as the services' ports (a run reaches it through the
// API server's service proxy), and nothing exposes it outside the cluster.
func TestFaultAPIService(t *testing.T) {
	m := loadManifests(t)
	s, ok := m.services["backend-faults"]
	if !ok {
		t.Fatal("no Service backend-faults")
	}
	if s.Spec.Type != "" && s.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("type %s, want ClusterIP: the fault API breaks the backend", s.Spec.Type)
	}
	if len(s.Spec.ExternalIPs) != 0 || s.Spec.LoadBalancerIP != "" {
		t.Errorf("external addresses %v %q, want none", s.Spec.ExternalIPs, s.Spec.LoadBalancerIP)
	}
	if len(s.Spec.Ports) != 2 {
		t.Fatalf("ports %v, want the fault API and the backend directly", s.Spec.Ports)
	}
	if d := s.Spec.Ports[1]; d.Name != "direct" || d.Port != 8081 || d.TargetPort != intstr.FromString("http") || d.NodePort != 0 {
		t.Errorf("port = %+v, want direct 8081 -> the backend container's http, no node port", d)
	}
	p := s.Spec.Ports[0]
	if p.Name != "http" || p.Port != 8474 || p.TargetPort != intstr.FromString("faults") || p.NodePort != 0 {
		t.Errorf("port = %+v, want http 8474 -> faults, no node port", p)
	}
	tmpl, _, _ := backendPod(t)
	for k, v := range s.Spec.Selector {
		if tmpl.Labels[k] != v {
			t.Errorf("selects %s=%s, which the backend's pods do not carry", k, v)
		}
	}
	if want := portOf(t, sidecar.Defaults()["FAULT_API_ADDR"]); p.Port != want {
		t.Errorf("port %d, want the fault API's default %d (CHAOSLAB_TOXIPROXY_URL's default)", p.Port, want)
	}
}

// TestNoNetworkPolicyInDeploy: deploy/k8s ships no NetworkPolicy. Policies add up: one that
// selects the backend's pods must admit the client, and would undo the partition's policy.
func TestNoNetworkPolicyInDeploy(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if strings.TrimSpace(line) == "kind: NetworkPolicy" {
				t.Errorf("%s holds a NetworkPolicy", f)
			}
		}
	}
}

// TestBackendPayload: the backend's answers are padded as on the laptop, so the catalogue's
// slow-body trickle (chaos/k8s/slow-body-experiment.json) has a body to slow down, and the value
// loads.
func TestBackendPayload(t *testing.T) {
	_, b, _ := backendPod(t)
	env := map[string]string{}
	for _, e := range b.Env {
		env[e.Name] = e.Value
	}
	if got, want := env["PAYLOAD_BYTES"], strconv.Itoa(stack.BackendPayload); got != want {
		t.Errorf("PAYLOAD_BYTES = %q, want %s (stack.BackendPayload)", got, want)
	}
	if _, err := backend.LoadConfig(func(k string) string { return env[k] }); err != nil {
		t.Errorf("the backend's variables: %v", err)
	}
}
