package deploy_test

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"chaoslab/internal/k8s"
	"chaoslab/internal/netpolicy"
)

const monitoringDir = k8sDir + "/monitoring"

// serviceMonitor is the part of the Prometheus Operator's ServiceMonitor
// (monitoring.coreos.com/v1) this project uses; decoded strictly, any other field is an error
// until this test learns what it means for the targets.
type serviceMonitor struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace,omitempty"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		NamespaceSelector struct {
			MatchNames []string `json:"matchNames"`
		} `json:"namespaceSelector"`
		Selector struct {
			MatchLabels map[string]string `json:"matchLabels"`
		} `json:"selector"`
		Endpoints []struct {
			Port        string `json:"port"`
			Path        string `json:"path"`
			Interval    string `json:"interval"`
			Relabelings []struct {
				SourceLabels []string `json:"sourceLabels"`
				Regex        string   `json:"regex"`
				Action       string   `json:"action"`
			} `json:"relabelings"`
		} `json:"endpoints"`
	} `json:"spec"`
}

func loadServiceMonitor(t *testing.T) (serviceMonitor, kustomization) {
	t.Helper()
	var kust kustomization
	data, err := os.ReadFile(filepath.Join(monitoringDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := netpolicy.DecodeStrict(data, &kust); err != nil {
		t.Fatalf("%s/kustomization.yaml: %v", monitoringDir, err)
	}
	if !slices.Equal(kust.Resources, []string{"servicemonitor.yaml"}) {
		t.Fatalf("%s lists %v, want servicemonitor.yaml only", monitoringDir, kust.Resources)
	}
	var sm serviceMonitor
	data, err = os.ReadFile(filepath.Join(monitoringDir, "servicemonitor.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := netpolicy.DecodeStrict(data, &sm); err != nil {
		t.Fatalf("servicemonitor.yaml: %v", err)
	}
	if sm.APIVersion != "monitoring.coreos.com/v1" || sm.Kind != "ServiceMonitor" {
		t.Fatalf("servicemonitor.yaml is %s %s", sm.APIVersion, sm.Kind)
	}
	return sm, kust
}

// metricsPorts names, for each container that serves /metrics, its port.
var metricsPorts = map[string]string{"client-service": "http", "backend-service": "http", "fault-proxy": "faults"}

// scrapeTargets simulates the Operator: every Service of ns the selector matches, each endpoint's
// port by name, the relabelings applied; each target as deployment/container:port(number).
func scrapeTargets(t *testing.T, sm serviceMonitor, m *manifests, ns string) []string {
	t.Helper()
	if !slices.Contains(sm.Spec.NamespaceSelector.MatchNames, ns) {
		return nil
	}
	var targets []string
	for _, svc := range m.services {
		if !labels.SelectorFromSet(sm.Spec.Selector.MatchLabels).Matches(labels.Set(svc.Labels)) {
			continue
		}
		for _, ep := range sm.Spec.Endpoints {
			for _, p := range svc.Spec.Ports {
				if p.Name != ep.Port || dropped(t, ep.Relabelings, svc.Name) {
					continue
				}
				if ep.Path != "/metrics" {
					t.Errorf("endpoint %s: path %q, want /metrics", ep.Port, ep.Path)
				}
				targets = append(targets, backingContainer(t, m, svc, p))
			}
		}
	}
	slices.Sort(targets)
	return targets
}

// dropped applies the relabelings this project uses (keep or drop by the Service's name).
func dropped(t *testing.T, rs []struct {
	SourceLabels []string `json:"sourceLabels"`
	Regex        string   `json:"regex"`
	Action       string   `json:"action"`
}, service string) bool {
	t.Helper()
	for _, r := range rs {
		if !slices.Equal(r.SourceLabels, []string{"__meta_kubernetes_service_name"}) {
			t.Fatalf("relabeling on %v: teach this test what it does", r.SourceLabels)
		}
		match := regexp.MustCompile("^(?:" + r.Regex + ")$").MatchString(service)
		switch r.Action {
		case "drop":
			if match {
				return true
			}
		case "keep":
			if !match {
				return true
			}
		default:
			t.Fatalf("relabeling action %q: teach this test what it does", r.Action)
		}
	}
	return false
}

// backingContainer finds the container behind a Service port: the Deployment whose pods the
// Service selects and the container whose named port is the target port.
func backingContainer(t *testing.T, m *manifests, svc corev1.Service, p corev1.ServicePort) string {
	t.Helper()
	var found []string
	for _, d := range m.deployments {
		if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == p.TargetPort.String() || cp.ContainerPort == p.TargetPort.IntVal {
					found = append(found, d.Name+"/"+c.Name+":"+cp.Name+"("+strconv.Itoa(int(cp.ContainerPort))+")")
				}
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("Service %s port %s: backed by %v, want one container port", svc.Name, p.Name, found)
	}
	return found[0]
}

// wantTargets is every container port that serves /metrics, once each.
func wantTargets(m *manifests) []string {
	var want []string
	for _, d := range m.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			port, ok := metricsPorts[c.Name]
			if !ok {
				continue
			}
			for _, cp := range c.Ports {
				if cp.Name == port {
					want = append(want, d.Name+"/"+c.Name+":"+cp.Name+"("+strconv.Itoa(int(cp.ContainerPort))+")")
				}
			}
		}
	}
	slices.Sort(want)
	return want
}

// The ServiceMonitor, outside deploy/k8s's kustomization, finds through the Services' labels
// and port names every /metrics of the base and of each overlay exactly once: each client tier,
// the backend itself (not through its fault proxy) and the sidecar's fault API.
func TestServiceMonitor(t *testing.T) {
	sm, kust := loadServiceMonitor(t)
	base := loadManifests(t)
	if slices.ContainsFunc(base.kust.Resources, func(r string) bool { return strings.Contains(r, "monitoring") }) {
		t.Errorf("deploy/k8s/kustomization.yaml lists %v: the ServiceMonitor must stay out (clusters without the Operator's CRDs refuse it)", base.kust.Resources)
	}
	if kust.Namespace != base.kust.Namespace {
		t.Errorf("the ServiceMonitor's namespace %q, want the base's %q", kust.Namespace, base.kust.Namespace)
	}
	wantNS := []string{base.kust.Namespace}
	for _, o := range k8s.Overlays() {
		wantNS = append(wantNS, o.Namespace)
	}
	if got := slices.Sorted(slices.Values(sm.Spec.NamespaceSelector.MatchNames)); !slices.Equal(got, slices.Sorted(slices.Values(wantNS))) {
		t.Errorf("namespaceSelector %v, want the base's and every overlay's namespace %v", got, wantNS)
	}
	check := func(t *testing.T, m *manifests, ns string) {
		got, want := scrapeTargets(t, sm, m, ns), wantTargets(m)
		if len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("the ServiceMonitor scrapes\n  %v\nwant every /metrics once\n  %v", got, want)
		}
	}
	t.Run("base", func(t *testing.T) { check(t, base, base.kust.Namespace) })
	for name, o := range k8s.Overlays() {
		t.Run(name, func(t *testing.T) { check(t, renderOverlay(t, name), o.Namespace) })
	}
	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		out, err := exec.Command(kubectl, "kustomize", monitoringDir).Output()
		if err != nil {
			t.Fatalf("kubectl kustomize %s: %v\n%s", monitoringDir, err, stderrOf(err))
		}
		if !strings.Contains(string(out), "kind: ServiceMonitor") || !strings.Contains(string(out), "namespace: "+base.kust.Namespace) {
			t.Errorf("kubectl kustomize %s:\n%s", monitoringDir, out)
		}
	}
}

// Every pod that serves /metrics carries the prometheus.io/* annotations of its main container's
// port (the backend's own, not the sidecar's: the convention names one port), and the load's
// pods, which serve none, carry none.
func TestScrapeAnnotations(t *testing.T) {
	check := func(t *testing.T, m *manifests) {
		for _, d := range m.deployments {
			checkScrapeAnnotations(t, d)
		}
	}
	t.Run("base", func(t *testing.T) { check(t, loadManifests(t)) })
	for name := range k8s.Overlays() {
		t.Run(name, func(t *testing.T) { check(t, renderOverlay(t, name)) })
	}
}

func checkScrapeAnnotations(t *testing.T, d appsv1.Deployment) {
	t.Helper()
	ann := d.Spec.Template.Annotations
	// The main container is the one named after its Deployment (an overlay's patch of the
	// sidecar may list the sidecar first), else the first.
	cs := d.Spec.Template.Spec.Containers
	main := cs[0]
	if i := slices.IndexFunc(cs, func(c corev1.Container) bool { return c.Name == d.Name }); i >= 0 {
		main = cs[i]
	}
	port, serves := metricsPorts[main.Name]
	if !serves {
		if ann["prometheus.io/scrape"] != "" {
			t.Errorf("Deployment %s (container %s, no /metrics) is annotated for scraping", d.Name, main.Name)
		}
		return
	}
	want := map[string]string{"prometheus.io/scrape": "true", "prometheus.io/path": "/metrics"}
	for _, cp := range main.Ports {
		if cp.Name == port {
			want["prometheus.io/port"] = strconv.Itoa(int(cp.ContainerPort))
		}
	}
	got := map[string]string{}
	for k, v := range ann {
		if strings.HasPrefix(k, "prometheus.io/") {
			got[k] = v
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("Deployment %s: pod annotations %v, want %v", d.Name, got, want)
	}
}
