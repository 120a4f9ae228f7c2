package deploy_test

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"chaoslab/internal/backend"
	"chaoslab/internal/client"
	"chaoslab/internal/k8s"
	"chaoslab/internal/topology"
)

// overlaysDir holds the kustomizations that deploy a built-in topology over deploy/k8s. They
// cannot live under deploy/k8s: kustomize refuses a base that contains its overlay (a cycle).
const overlaysDir = "overlays"

// renderOverlay renders deploy/overlays/NAME with kubectl kustomize (it needs no cluster) and
// decodes every object strictly; it skips without kubectl.
func renderOverlay(t *testing.T, name string) *manifests {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl not installed: kubectl kustomize deploy/overlays/" + name + " not checked")
	}
	dir := filepath.Join(overlaysDir, name)
	out, err := exec.Command(kubectl, "kustomize", dir).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderrOf(err))
	}
	m := newManifests()
	for i, doc := range splitDocs(out) {
		if err := m.decodeInto(doc); err != nil {
			t.Fatalf("%s: rendered document %d: %v", dir, i+1, err)
		}
	}
	return m
}

// TestOverlaysAreTheStacksList: every directory of deploy/overlays is a built-in topology the
// k8s stack names in its preflight hint (k8s.Overlays), at that path, and the other way round.
func TestOverlaysAreTheStacksList(t *testing.T) {
	entries, err := os.ReadDir(overlaysDir)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	if listed := slices.Sorted(maps.Keys(k8s.Overlays())); !slices.Equal(dirs, listed) {
		t.Errorf("deploy/overlays has %v, k8s.Overlays() lists %v", dirs, listed)
	}
	for name, o := range k8s.Overlays() {
		if o.Path != "deploy/"+overlaysDir+"/"+name {
			t.Errorf("k8s.Overlays()[%s].Path = %s, want deploy/%s/%s", name, o.Path, overlaysDir, name)
		}
		if !slices.Contains(topology.Names(), name) {
			t.Errorf("overlay %s is not a built-in topology (%v)", name, topology.Names())
		}
	}
}

// TestOverlays: each overlay (deploy/overlays/chain-3, single) runs its built-in topology
// (internal/topology/builtin/NAME.yaml, the one source of the graph) as the k8s stack's own
// preflight checks it on a cluster (k8s.WireTopology on the rendered objects: every tier's
// Deployment and Service found by its label, TIER, BACKEND_URL at the next tier's Service, the
// topology's variables, the backend's included); in its own namespace; with nothing of the base
// lost.
func TestOverlays(t *testing.T) {
	for name := range k8s.Overlays() {
		t.Run(name, func(t *testing.T) { checkOverlay(t, name) })
	}
}

func checkOverlay(t *testing.T, name string) {
	m := renderOverlay(t, name)
	topo, err := topology.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	w, problems := k8s.WireTopology(topo, slices.Collect(maps.Values(m.deployments)), slices.Collect(maps.Values(m.services)), configMapData(m))
	if len(problems) > 0 {
		t.Fatalf("the overlay does not run chain-3:\n  %s", strings.Join(problems, "\n  "))
	}
	tiers := map[string]string{}
	for _, tr := range w.Tiers {
		tiers[tr.Deployment] = tr.Name
	}
	for name, d := range m.deployments {
		if tier := d.Labels[k8s.TierLabel]; tier != "" && tiers[name] != tier {
			t.Errorf("Deployment %s is labelled tier %s, which %s does not have", name, tier, topo.Name)
		}
	}

	ns := k8s.Overlays()[topo.Name].Namespace
	if len(m.namespaces) != 1 || m.namespaces[0].Name != ns {
		t.Errorf("namespaces %v, want only %s", m.namespaces, ns)
	}
	for name, d := range m.deployments {
		if d.Namespace != ns {
			t.Errorf("Deployment %s in namespace %q, want %s", name, d.Namespace, ns)
		}
	}
	for name, s := range m.services {
		if s.Namespace != ns {
			t.Errorf("Service %s in namespace %q, want %s", name, s.Namespace, ns)
		}
	}
	base := loadManifests(t)
	for name := range base.deployments {
		if _, ok := m.deployments[name]; !ok {
			t.Errorf("the base's Deployment %s is missing", name)
		}
	}
	for name := range base.services {
		if _, ok := m.services[name]; !ok {
			t.Errorf("the base's Service %s is missing", name)
		}
	}
	if want := base.count + 2*(len(topo.Tiers)-1); m.count != want {
		t.Errorf("rendered %d objects, want the base's %d and a Deployment and a Service per added tier (%d)", m.count, base.count, want)
	}
}

// configMapData is every ConfigMap's data by name.
func configMapData(m *manifests) map[string]map[string]string {
	out := map[string]map[string]string{}
	for name, cm := range m.configMaps {
		out[name] = cm.Data
	}
	return out
}

// TestOverlayTiersAreTheClient: in each overlay, each tier's pod is the base's client-service pod
// but for its labels and the variables the overlay sets (so hardening, probes, resources and
// ports cannot drift), and its variables load with client-service's own loader.
func TestOverlayTiersAreTheClient(t *testing.T) {
	for name := range k8s.Overlays() {
		t.Run(name, func(t *testing.T) { checkOverlayTiers(t, renderOverlay(t, name)) })
	}
}

func checkOverlayTiers(t *testing.T, m *manifests) {
	base := loadManifests(t).deployments["client-service"].Spec.Template
	for name, d := range m.deployments {
		tier := d.Labels[k8s.TierLabel]
		if tier == "" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			got := d.Spec.Template.DeepCopy()
			c := got.Spec.Containers[0]
			env := k8s.ContainerEnv(c, configMapData(m))
			if _, err := client.LoadConfig(func(k string) string { return env[k] }); err != nil {
				t.Errorf("client.LoadConfig on tier %s's variables: %v", tier, err)
			}
			for _, e := range c.Env {
				if e.Name != "TIER" && e.Name != "BACKEND_URL" {
					t.Errorf("tier %s sets %s: the tiers share the ConfigMap's variables, so --compare and a ConfigMap edit reach every tier", tier, e.Name)
				}
			}
			got.Labels, got.Spec.Containers[0].Env = base.Labels, base.Spec.Containers[0].Env
			if want := base.DeepCopy(); !reflect.DeepEqual(got, want) {
				t.Errorf("tier %s's pod differs from the base client-service's beyond its labels and env:\n got %+v\nwant %+v", tier, got, want)
			}
			if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 || d.Spec.Selector.MatchLabels["app"] != d.Spec.Template.Labels["app"] {
				t.Errorf("replicas %v selector %v: want 1 replica selected by its app label", d.Spec.Replicas, d.Spec.Selector)
			}
		})
	}
}

// TestChain3Capacity: the backend runs with a small finite capacity (8 workers, a queue of 32,
// exp:2ms), which backend-service's own loader accepts; the rest of the backend is the base's.
func TestChain3Capacity(t *testing.T) {
	m := renderOverlay(t, "chain-3")
	d := m.deployments["backend-service"]
	var c corev1.Container
	for _, ct := range d.Spec.Template.Spec.Containers {
		if ct.Name == "backend-service" {
			c = ct
		}
	}
	env := k8s.ContainerEnv(c, nil)
	cfg, err := backend.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("backend.LoadConfig on the overlay's backend: %v", err)
	}
	if cfg.Capacity.Workers != 8 || cfg.Capacity.Queue != 32 || cfg.Capacity.ServiceTime.String() != "exp:2ms" {
		t.Errorf("capacity %d workers, queue %d, service time %s; want 8, 32, exp:2ms", cfg.Capacity.Workers, cfg.Capacity.Queue, cfg.Capacity.ServiceTime)
	}
	if env["PAYLOAD_BYTES"] != "2048" {
		t.Errorf("PAYLOAD_BYTES %q: the base's variables must stay", env["PAYLOAD_BYTES"])
	}
	baseDep := loadManifests(t).deployments["backend-service"]
	if len(d.Spec.Template.Spec.Containers) != len(baseDep.Spec.Template.Spec.Containers) {
		t.Errorf("the backend's pod has %d containers, the base's %d (the fault-proxy sidecar)", len(d.Spec.Template.Spec.Containers), len(baseDep.Spec.Template.Spec.Containers))
	}
}

// TestOverlayLoad: in each overlay the in-cluster load goes to the first entry tier's Service,
// and waits for it.
func TestOverlayLoad(t *testing.T) {
	for name := range k8s.Overlays() {
		t.Run(name, func(t *testing.T) { checkOverlayLoad(t, name) })
	}
}

func checkOverlayLoad(t *testing.T, name string) {
	m := renderOverlay(t, name)
	topo, err := topology.Load(name)
	if err != nil {
		t.Fatal(err)
	}
	entry := entryService(t, m, topo.Entries()[0])
	_, flags := loadArgs(t, m)
	checkURLPointsAt(t, "--target", flags["--target"], entry, "/api/data")
	checkURLPointsAt(t, "--wait-ready", flags["--wait-ready"], entry, "/readyz")
	base := loadManifests(t).deployments["chaoslab-load"]
	_, baseFlags := loadArgs(t, loadManifests(t))
	for _, f := range []string{"--rps", "--duration", "--timeout"} {
		if flags[f] != baseFlags[f] {
			t.Errorf("%s %q, the base's %q: only the target changes", f, flags[f], baseFlags[f])
		}
	}
	if got := m.deployments["chaoslab-load"].Spec.Template.Spec.Containers[0].Command[0]; got != base.Spec.Template.Spec.Containers[0].Command[0] {
		t.Errorf("load command %s, want the base's", got)
	}
}

// entryService is the Service of tier.
func entryService(t *testing.T, m *manifests, tier string) corev1.Service {
	t.Helper()
	for _, s := range m.services {
		if s.Labels[k8s.TierLabel] == tier {
			return s
		}
	}
	t.Fatalf("no Service of tier %s", tier)
	return corev1.Service{}
}
