package deploy_test

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/netpolicy"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const (
	k8sDir    = "k8s"
	namespace = "chaoslab"
	image     = "chaoslab:dev"
	configMap = "chaoslab-config"
)

// kustomization is the part of kustomization.yaml this project uses; decoding it strictly makes
// any other field (a patch, a generator) an error until this test learns about it.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
}

// manifests is every object of deploy/k8s, decoded strictly into its API type.
type manifests struct {
	kust        kustomization
	namespaces  []corev1.Namespace
	configMaps  map[string]corev1.ConfigMap
	deployments map[string]appsv1.Deployment
	services    map[string]corev1.Service
	count       int
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// splitDocs splits a multi-document YAML file, dropping documents that hold only comments.
func splitDocs(data []byte) []string {
	var out []string
	for _, doc := range docSeparator.Split(string(data), -1) {
		for _, line := range strings.Split(doc, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
				out = append(out, doc)
				break
			}
		}
	}
	return out
}

// decodeInto adds one YAML document to m: its kind picks the API type, then the document is
// decoded again strictly (unknown or duplicated fields are errors).
func (m *manifests) decodeInto(doc string) error {
	var tm struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
		return err
	}
	var obj any
	switch tm.APIVersion + " " + tm.Kind {
	case "v1 Namespace":
		obj = &corev1.Namespace{}
	case "v1 ConfigMap":
		obj = &corev1.ConfigMap{}
	case "v1 Service":
		obj = &corev1.Service{}
	case "apps/v1 Deployment":
		obj = &appsv1.Deployment{}
	default:
		return fmt.Errorf("unexpected object %s %s: teach this test its type", tm.APIVersion, tm.Kind)
	}
	if err := netpolicy.DecodeStrict([]byte(doc), obj); err != nil {
		return fmt.Errorf("%s: %w", tm.Kind, err)
	}
	m.count++
	switch o := obj.(type) {
	case *corev1.Namespace:
		m.namespaces = append(m.namespaces, *o)
	case *corev1.ConfigMap:
		m.configMaps[o.Name] = *o
	case *corev1.Service:
		m.services[o.Name] = *o
	case *appsv1.Deployment:
		m.deployments[o.Name] = *o
	}
	return nil
}

func newManifests() *manifests {
	return &manifests{
		configMaps:  map[string]corev1.ConfigMap{},
		deployments: map[string]appsv1.Deployment{},
		services:    map[string]corev1.Service{},
	}
}

// loadManifests reads kustomization.yaml and every resource it lists.
func loadManifests(t *testing.T) *manifests {
	t.Helper()
	m := newManifests()
	data, err := os.ReadFile(filepath.Join(k8sDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := netpolicy.DecodeStrict(data, &m.kust); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	for _, res := range m.kust.Resources {
		data, err := os.ReadFile(filepath.Join(k8sDir, res))
		if err != nil {
			t.Fatalf("kustomization.yaml lists %s: %v", res, err)
		}
		for i, doc := range splitDocs(data) {
			if err := m.decodeInto(doc); err != nil {
				t.Fatalf("%s document %d: %v", res, i+1, err)
			}
		}
	}
	return m
}

func TestKustomization(t *testing.T) {
	m := loadManifests(t)
	if m.kust.APIVersion != "kustomize.config.k8s.io/v1beta1" || m.kust.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml is %s %s", m.kust.APIVersion, m.kust.Kind)
	}
	if m.kust.Namespace != namespace {
		t.Errorf("namespace = %q, want %q (the guide, the experiment and observe-system.sh use it)", m.kust.Namespace, namespace)
	}
	if len(m.namespaces) != 1 || m.namespaces[0].Name != namespace {
		t.Errorf("want exactly the Namespace %q, got %v", namespace, m.namespaces)
	}
	// Every YAML file in deploy/k8s is listed, so none is silently left out of the render.
	files, err := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(m.kust.Resources, base) {
			t.Errorf("%s is not listed in kustomization.yaml resources", base)
		}
	}
}

// TestStrictDecodingRejectsUnknownFields proves the loader would catch a misspelt field.
func TestStrictDecodingRejectsUnknownFields(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"misspelt field", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {selectr: {app: x}}", `unknown field "selectr"`},
		{"field at the wrong level", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: {template: {containers: []}}", `unknown field "containers"`},
		{"unexpected kind", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}", "teach this test"},
		{"a value of the wrong type", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {RESILIENCE: on}", "cannot unmarshal bool"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := newManifests().decodeInto(tc.doc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// workload is what the manifests must say about each Deployment.
type workload struct {
	name       string // Deployment name and app label
	container  string // its main container's name
	binary     string // the binary its container runs, built by the Dockerfile from ./cmd/<binary>
	port       int32  // the code's default listen port (DESIGN.md §2); 0: no server
	service    bool   // exposed by a Service of the same name
	targetPort string // the Service's targetPort: a port name of the pod
	sidecar    bool   // the pod has the fault-proxy sidecar
}

var workloads = []workload{
	{name: "backend-service", container: "backend-service", binary: "backend-service", port: 8081, service: true, targetPort: "proxy", sidecar: true},
	{name: "client-service", container: "client-service", binary: "client-service", port: 8080, service: true, targetPort: "http"},
	{name: "chaoslab-load", container: "load", binary: "chaoslab"},
}

// mainContainer is the workload's main container.
func mainContainer(t *testing.T, pod corev1.PodSpec, w workload) corev1.Container {
	t.Helper()
	for _, c := range pod.Containers {
		if c.Name == w.container {
			return c
		}
	}
	t.Fatalf("no container named %s", w.container)
	return corev1.Container{}
}

func TestDeployments(t *testing.T) {
	m := loadManifests(t)
	if len(m.deployments) != len(workloads) {
		t.Errorf("got %d Deployments, want %d", len(m.deployments), len(workloads))
	}
	for _, w := range workloads {
		t.Run(w.name, func(t *testing.T) {
			d, ok := m.deployments[w.name]
			if !ok {
				t.Fatalf("no Deployment %q", w.name)
			}
			checkLabels(t, d, w)
			pod := d.Spec.Template.Spec
			want := 1
			if w.sidecar {
				want = 2
			}
			if len(pod.Containers) != want {
				t.Fatalf("want %d containers, got %d", want, len(pod.Containers))
			}
			c := mainContainer(t, pod, w)
			if want := "/usr/local/bin/" + w.binary; len(c.Command) == 0 || c.Command[0] != want {
				t.Errorf("command = %v, want it to start with %s", c.Command, want)
			}
			for _, c := range pod.Containers {
				if c.Image != image || c.ImagePullPolicy != corev1.PullIfNotPresent {
					t.Errorf("%s: image %q pull %q, want %q IfNotPresent (a kind-loaded image is never pulled)", c.Name, c.Image, c.ImagePullPolicy, image)
				}
				checkSecurity(t, pod, c)
				checkResources(t, c)
			}
			for _, ic := range pod.InitContainers {
				if ic.Image != image || ic.ImagePullPolicy != corev1.PullIfNotPresent {
					t.Errorf("init container %s: image %q pull %q, want %q IfNotPresent", ic.Name, ic.Image, ic.ImagePullPolicy, image)
				}
				checkSecurity(t, pod, ic)
				checkResources(t, ic)
			}
			if w.port != 0 {
				checkPortsAndProbes(t, c, w.port)
			}
		})
	}
}

func checkLabels(t *testing.T, d appsv1.Deployment, w workload) {
	t.Helper()
	if d.Labels["app"] != w.name {
		t.Errorf("Deployment label app=%q, want %q", d.Labels["app"], w.name)
	}
	if d.Spec.Selector == nil || len(d.Spec.Selector.MatchExpressions) != 0 ||
		len(d.Spec.Selector.MatchLabels) != 1 || d.Spec.Selector.MatchLabels["app"] != w.name {
		t.Errorf("selector = %v, want exactly app=%s (the guide's kubectl -l commands use it)", d.Spec.Selector, w.name)
	}
	if d.Spec.Template.Labels["app"] != w.name {
		t.Errorf("pod template label app=%q, want %q", d.Spec.Template.Labels["app"], w.name)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1 (the guide reads one pod's logs)", d.Spec.Replicas)
	}
}

func checkSecurity(t *testing.T, pod corev1.PodSpec, c corev1.Container) {
	t.Helper()
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("automountServiceAccountToken must be false: no container talks to the API server")
	}
	if pod.SecurityContext == nil || pod.SecurityContext.SeccompProfile == nil ||
		pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod seccompProfile must be RuntimeDefault")
	}
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("container has no securityContext")
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
		t.Errorf("runAsNonRoot=%v runAsUser=%v, want true and a non-zero UID", sc.RunAsNonRoot, sc.RunAsUser)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("readOnlyRootFilesystem must be true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation must be false")
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("privileged must not be set")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Errorf("capabilities = %v, want drop [ALL] and nothing added", sc.Capabilities)
	}
}

func checkResources(t *testing.T, c corev1.Container) {
	t.Helper()
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, okReq := c.Resources.Requests[r]
		lim, okLim := c.Resources.Limits[r]
		if !okReq || !okLim {
			t.Errorf("%s: request and limit must both be set", r)
			continue
		}
		if req.Cmp(lim) > 0 {
			t.Errorf("%s: request %s exceeds limit %s", r, req.String(), lim.String())
		}
	}
}

func checkPortsAndProbes(t *testing.T, c corev1.Container, port int32) {
	t.Helper()
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != port {
		t.Errorf("ports = %v, want one named http on %d (the code's default LISTEN_ADDR)", c.Ports, port)
	}
	probes := []struct {
		kind  string
		probe *corev1.Probe
		path  string
	}{
		{"readiness", c.ReadinessProbe, "/readyz"},
		{"liveness", c.LivenessProbe, "/healthz"},
	}
	for _, p := range probes {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s probe must be an httpGet", p.kind)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port != intstr.FromString("http") {
			t.Errorf("%s probe = %s port %s, want %s on port http", p.kind, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path)
		}
	}
}

func TestServices(t *testing.T) {
	m := loadManifests(t)
	for _, w := range workloads {
		if !w.service {
			continue
		}
		t.Run(w.name, func(t *testing.T) {
			s, ok := m.services[w.name]
			if !ok {
				t.Fatalf("no Service %q", w.name)
			}
			d := m.deployments[w.name]
			if len(s.Spec.Selector) == 0 {
				t.Fatal("Service has no selector")
			}
			for k, v := range s.Spec.Selector {
				if d.Spec.Template.Labels[k] != v {
					t.Errorf("Service selects %s=%s, which the pods of Deployment %s do not carry", k, v, w.name)
				}
			}
			if len(s.Spec.Ports) != 1 {
				t.Fatalf("want one port, got %v", s.Spec.Ports)
			}
			p := s.Spec.Ports[0]
			if p.Name != "http" || p.Port != w.port || p.TargetPort != intstr.FromString(w.targetPort) {
				t.Errorf("port = %+v, want name http, port %d, targetPort %s", p, w.port, w.targetPort)
			}
			if _, ok := podPorts(d.Spec.Template.Spec)[w.targetPort]; !ok {
				t.Errorf("targetPort %s is no port of the pod", w.targetPort)
			}
		})
	}
}

// podPorts maps the named ports of every container of a pod to their numbers.
func podPorts(pod corev1.PodSpec) map[string]int32 {
	named := map[string]int32{}
	for _, c := range pod.Containers {
		for _, p := range c.Ports {
			if p.Name != "" {
				named[p.Name] = p.ContainerPort
			}
		}
	}
	return named
}

// checkURLPointsAt checks that raw is http://<service name>:<service port><path>.
func checkURLPointsAt(t *testing.T, what, raw string, s corev1.Service, path string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%s %q: %v", what, raw, err)
	}
	if len(s.Spec.Ports) == 0 {
		t.Fatalf("%s: Service %q has no port", what, s.Name)
	}
	want := s.Name + ":" + strconv.Itoa(int(s.Spec.Ports[0].Port))
	if u.Scheme != "http" || u.Host != want || u.Path != path {
		t.Errorf("%s = %q, want http://%s%s", what, raw, want, path)
	}
}

func TestLoadGenerator(t *testing.T) {
	m := loadManifests(t)
	c := m.deployments["chaoslab-load"].Spec.Template.Spec.Containers[0]
	args := c.Command[1:]
	if len(args) == 0 || args[0] != "load" {
		t.Fatalf("command = %v, want chaoslab load ...", c.Command)
	}
	flags := map[string]string{}
	for i := 1; i < len(args); i += 2 {
		if !strings.HasPrefix(args[i], "--") || i+1 >= len(args) {
			t.Fatalf("arguments %v: want --flag value pairs", args[1:])
		}
		flags[args[i]] = args[i+1]
	}
	checkURLPointsAt(t, "--target", flags["--target"], m.services["client-service"], "/api/data")
	rps, err := strconv.ParseFloat(flags["--rps"], 64)
	if err != nil || rps <= 0 || rps > 10 {
		t.Errorf("--rps %q: want a modest rate in (0, 10]", flags["--rps"])
	}
	if flags["--duration"] != "0" {
		t.Errorf("--duration %q, want 0 (run until the pod stops)", flags["--duration"])
	}
	// The load must wait longer than the client's request deadline, or it reports its own
	// timeouts instead of the client's answers.
	timeout, err := time.ParseDuration(flags["--timeout"])
	requestTimeout, _ := time.ParseDuration(m.configMaps[configMap].Data["REQUEST_TIMEOUT"])
	if err != nil || timeout <= requestTimeout {
		t.Errorf("--timeout %q, want a duration above REQUEST_TIMEOUT %v", flags["--timeout"], requestTimeout)
	}
}

// TestKustomizeRenders runs `kubectl kustomize deploy/k8s` when kubectl is installed (it needs no
// cluster) and decodes the output strictly: every object must land in the chaoslab namespace.
func TestKustomizeRenders(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed: kubectl kustomize deploy/k8s not checked")
	}
	out, err := exec.Command(kubectl, "kustomize", k8sDir).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", k8sDir, err, stderrOf(err))
	}
	rendered := newManifests()
	for i, doc := range splitDocs(out) {
		if err := rendered.decodeInto(doc); err != nil {
			t.Fatalf("rendered document %d: %v", i+1, err)
		}
	}
	source := loadManifests(t)
	if rendered.count != source.count {
		t.Errorf("rendered %d objects, the sources hold %d", rendered.count, source.count)
	}
	for name, d := range rendered.deployments {
		if d.Namespace != namespace {
			t.Errorf("Deployment %s rendered in namespace %q", name, d.Namespace)
		}
	}
	for name, s := range rendered.services {
		if s.Namespace != namespace {
			t.Errorf("Service %s rendered in namespace %q", name, s.Namespace)
		}
	}
	for name, c := range rendered.configMaps {
		if c.Namespace != namespace {
			t.Errorf("ConfigMap %s rendered in namespace %q", name, c.Namespace)
		}
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
