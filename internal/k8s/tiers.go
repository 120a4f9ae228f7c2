package k8s

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"chaoslab/internal/results"
	"chaoslab/internal/topology"
)

// TierLabel is the label by which a run finds a tier of a topology on the cluster: its
// Deployment, the Deployment's pods and its Service carry chaoslab.io/tier=<the tier's name>
// (deploy/overlays/chain-3). The base deploy/k8s has none.
const TierLabel = "chaoslab.io/tier"

// TierContainer is the container of a tier's pod that runs client-service.
const TierContainer = results.ClientService

// Overlay is a kustomization of the repository that deploys a built-in topology, and the
// namespace it deploys into.
type Overlay struct {
	Path, Namespace string
}

// Overlays are the built-in topologies the repository deploys, by name (deploy/ tests check
// each against its directory).
func Overlays() map[string]Overlay {
	return map[string]Overlay{
		"chain-3": {Path: "deploy/overlays/chain-3", Namespace: "chaoslab-chain3"},
		"single":  {Path: "deploy/overlays/single", Namespace: "chaoslab-single"},
	}
}

// Tier is a tier of a topology as the cluster runs it.
type Tier struct {
	Name       string            // its TIER
	Calls      string            // the tier it calls, or results.BackendNode
	Entry      bool              // the load goes to it
	Deployment string            // its Deployment
	App        string            // its pods' app label, by which the run follows them
	Service    string            // its Service (port ServicePort), through which the run reaches it
	Env        map[string]string // the container's own variables (env, over the ConfigMap's), without TIER and BACKEND_URL
}

// Wiring is a topology found on the cluster: every tier's objects, in the topology's order.
type Wiring struct {
	Tiers      []Tier
	BackendEnv map[string]string // backend-service's container's variables (env)
}

// Tier returns the tier called name.
func (w *Wiring) Tier(name string) (Tier, bool) {
	i := slices.IndexFunc(w.Tiers, func(t Tier) bool { return t.Name == name })
	if i < 0 {
		return Tier{}, false
	}
	return w.Tiers[i], true
}

// Entries are the entry tiers, in the topology's order.
func (w *Wiring) Entries() []Tier {
	var out []Tier
	for _, t := range w.Tiers {
		if t.Entry {
			out = append(out, t)
		}
	}
	return out
}

// Callers are the tiers that call node (a tier's name or results.BackendNode).
func (w *Wiring) Callers(node string) []Tier {
	var out []Tier
	for _, t := range w.Tiers {
		if t.Calls == node {
			out = append(out, t)
		}
	}
	return out
}

// Apps are the app labels of the pods a run with this topology follows: the backend's and
// every tier's, sorted.
func (w *Wiring) Apps() []string {
	apps := []string{results.BackendService}
	for _, t := range w.Tiers {
		if !slices.Contains(apps, t.App) {
			apps = append(apps, t.App)
		}
	}
	slices.Sort(apps)
	return apps
}

// Record is the topology as run.json records it: the file's graph, with the variables each
// tier and the backend run with on the cluster (the Deployments' own env), not the file's.
func (w *Wiring) Record(topo *topology.Topology) *results.Topology {
	r := topo.Record()
	r.BackendEnv = nil
	if len(w.BackendEnv) > 0 {
		r.BackendEnv = w.BackendEnv
	}
	for i := range r.Tiers {
		r.Tiers[i].Env = nil
		if t, _ := w.Tier(r.Tiers[i].Name); len(t.Env) > 0 {
			r.Tiers[i].Env = t.Env
		}
	}
	return r
}

// EntryEnv is the variables the first entry tier runs with: clientEnv (the ConfigMap's, with a
// compare's RESILIENCE) under its Deployment's own.
func (w *Wiring) EntryEnv(clientEnv map[string]string) map[string]string {
	env := maps.Clone(clientEnv)
	if env == nil {
		env = map[string]string{}
	}
	if es := w.Entries(); len(es) > 0 {
		maps.Copy(env, es[0].Env)
	}
	return env
}

// ContainerEnv is the variables a container starts with, as far as the objects say: the
// ConfigMaps it reads with envFrom (configMaps: name -> data), in order, then its env (a
// value from elsewhere, valueFrom, is ""), which wins.
func ContainerEnv(c corev1.Container, configMaps map[string]map[string]string) map[string]string {
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			continue
		}
		for k, v := range configMaps[from.ConfigMapRef.Name] {
			env[from.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}

// ownEnv is a container's env entries, without the two a run sets per tier.
func ownEnv(c corev1.Container) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		if e.Name != "TIER" && e.Name != "BACKEND_URL" {
			env[e.Name] = e.Value
		}
	}
	return env
}

// container returns the container called name of a pod template.
func container(spec corev1.PodSpec, name string) (corev1.Container, bool) {
	i := slices.IndexFunc(spec.Containers, func(c corev1.Container) bool { return c.Name == name })
	if i < 0 {
		return corev1.Container{}, false
	}
	return spec.Containers[i], true
}

// WireTopology finds every tier of topo among a namespace's Deployments and Services by
// TierLabel, and checks that they run it: one Deployment and one Service per tier, the Service
// selecting the Deployment's pods on a port named http, the container client-service with
// TIER=<its name> and BACKEND_URL at the Service of the node it calls (backend-service for the
// backend), and every variable the topology gives a tier or the backend set to the same value.
// configMaps are the ConfigMaps the containers read (name -> data). It returns the wiring and
// every problem found, each saying what is wrong; nil problems means the cluster runs topo.
func WireTopology(topo *topology.Topology, deps []appsv1.Deployment, svcs []corev1.Service, configMaps map[string]map[string]string) (*Wiring, []string) {
	w := &Wiring{}
	var problems []string
	entries := topo.Entries()
	services := map[string]corev1.Service{} // node -> its Service
	for _, tr := range topo.Tiers {
		t := Tier{Name: tr.Name, Calls: tr.Calls, Entry: slices.Contains(entries, tr.Name)}
		d, why := tierDeployment(tr.Name, deps)
		if why != "" {
			problems = append(problems, why)
		} else {
			t.Deployment, t.App = d.Name, d.Spec.Template.Labels["app"]
		}
		s, why := tierService(tr.Name, svcs, d)
		if why != "" {
			problems = append(problems, why)
		} else {
			t.Service, services[tr.Name] = s.Name, s
		}
		w.Tiers = append(w.Tiers, t)
	}
	for i, tr := range topo.Tiers {
		if w.Tiers[i].Deployment == "" {
			continue
		}
		d := findDeployment(deps, w.Tiers[i].Deployment)
		c, ok := container(d.Spec.Template.Spec, TierContainer)
		if !ok {
			problems = append(problems, fmt.Sprintf("Deployment %s (tier %s) has no container %s", d.Name, tr.Name, TierContainer))
			continue
		}
		w.Tiers[i].Env = ownEnv(c)
		problems = append(problems, checkTierEnv(tr, d, ContainerEnv(c, configMaps), calledService(tr.Calls, services, svcs))...)
	}
	problems = append(problems, checkBackendEnv(w, topo, deps)...)
	return w, problems
}

// tierDeployment is the one Deployment labelled with the tier, or why there is none.
func tierDeployment(tier string, deps []appsv1.Deployment) (*appsv1.Deployment, string) {
	var found []*appsv1.Deployment
	for i := range deps {
		if deps[i].Labels[TierLabel] == tier {
			found = append(found, &deps[i])
		}
	}
	switch {
	case len(found) == 0:
		return nil, fmt.Sprintf("no Deployment of tier %s (label %s=%s)", tier, TierLabel, tier)
	case len(found) > 1:
		return nil, fmt.Sprintf("%d Deployments of tier %s (label %s=%s): %s; keep one", len(found), tier, TierLabel, tier, deploymentNames(found))
	case found[0].Spec.Template.Labels[TierLabel] != tier:
		return nil, fmt.Sprintf("Deployment %s (tier %s): its pods lack the label %s=%s, by which the run tags their records", found[0].Name, tier, TierLabel, tier)
	case found[0].Spec.Template.Labels["app"] == "":
		return nil, fmt.Sprintf("Deployment %s (tier %s): its pods have no app label, by which the run follows them", found[0].Name, tier)
	}
	return found[0], ""
}

func deploymentNames(ds []*appsv1.Deployment) string {
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.Name
	}
	return strings.Join(names, ", ")
}

func findDeployment(deps []appsv1.Deployment, name string) *appsv1.Deployment {
	for i := range deps {
		if deps[i].Name == name {
			return &deps[i]
		}
	}
	return nil
}

// tierService is the one Service labelled with the tier, with a port named http, selecting the
// pods of d (when d is known), or why there is none.
func tierService(tier string, svcs []corev1.Service, d *appsv1.Deployment) (corev1.Service, string) {
	var found []corev1.Service
	for _, s := range svcs {
		if s.Labels[TierLabel] == tier {
			found = append(found, s)
		}
	}
	switch {
	case len(found) == 0:
		return corev1.Service{}, fmt.Sprintf("no Service of tier %s (label %s=%s)", tier, TierLabel, tier)
	case len(found) > 1:
		return corev1.Service{}, fmt.Sprintf("%d Services of tier %s (label %s=%s); keep one", len(found), tier, TierLabel, tier)
	}
	s := found[0]
	if _, ok := servicePort(s, ServicePort); !ok {
		return corev1.Service{}, fmt.Sprintf("Service %s (tier %s) has no port named %s, through which the run reaches it", s.Name, tier, ServicePort)
	}
	if d != nil && (len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels))) {
		return corev1.Service{}, fmt.Sprintf("Service %s (tier %s) does not select the pods of Deployment %s (selector %v)", s.Name, tier, d.Name, s.Spec.Selector)
	}
	return s, ""
}

// servicePort is the port of s named name.
func servicePort(s corev1.Service, name string) (int32, bool) {
	for _, p := range s.Spec.Ports {
		if p.Name == name {
			return p.Port, true
		}
	}
	return 0, false
}

// calledService is the Service the callers of node reach it through: backend-service for the
// backend, else the tier's (nil when it was not found: that is reported already).
func calledService(node string, tiers map[string]corev1.Service, svcs []corev1.Service) *corev1.Service {
	if node == results.BackendNode {
		for _, s := range svcs {
			if s.Name == BackendSvcName {
				return &s
			}
		}
		return nil
	}
	if s, ok := tiers[node]; ok {
		return &s
	}
	return nil
}

// checkTierEnv checks a tier's variables as its container starts with them.
func checkTierEnv(tr topology.Tier, d *appsv1.Deployment, env map[string]string, called *corev1.Service) []string {
	dep := d.Name
	var problems []string
	if env["TIER"] != tr.Name {
		problems = append(problems, fmt.Sprintf("Deployment %s (tier %s) runs with TIER=%q: set TIER=%s, which every record of the tier carries", dep, tr.Name, env["TIER"], tr.Name))
	}
	if called != nil {
		port, _ := servicePort(*called, ServicePort)
		want := fmt.Sprintf("http://%s:%d", called.Name, port)
		if !pointsAt(env["BACKEND_URL"], called.Name, port) {
			problems = append(problems, fmt.Sprintf("Deployment %s (tier %s) calls %s, but its BACKEND_URL is %q: set it to %s", dep, tr.Name, tr.Calls, env["BACKEND_URL"], want))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(tr.Env)) {
		if got, ok := env[k]; !ok || got != tr.Env[k] {
			problems = append(problems, fmt.Sprintf("the topology sets %s=%s for tier %s, Deployment %s runs with %q: set it there (%s set env deployment/%s %s=%s)",
				k, tr.Env[k], tr.Name, dep, got, kubectlIn(d.Namespace), dep, k, tr.Env[k]))
		}
	}
	return problems
}

// kubectlIn is the kubectl command for namespace ns.
func kubectlIn(ns string) string {
	if ns == "" {
		return "kubectl"
	}
	return "kubectl -n " + ns
}

// pointsAt reports whether raw is http://<service>[.<namespace>...]:<port>, with or without a
// path.
func pointsAt(raw, service string, port int32) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return false
	}
	host, _, _ := strings.Cut(u.Hostname(), ".")
	p := u.Port()
	if p == "" {
		p = "80"
	}
	return host == service && p == strconv.Itoa(int(port))
}

// checkBackendEnv reads the backend container's variables into w and checks the topology's.
func checkBackendEnv(w *Wiring, topo *topology.Topology, deps []appsv1.Deployment) []string {
	d := findDeployment(deps, BackendDeployment)
	if d == nil {
		return nil // Preflight reports a missing backend
	}
	c, ok := container(d.Spec.Template.Spec, results.BackendService)
	if !ok {
		return []string{fmt.Sprintf("Deployment %s has no container %s", BackendDeployment, results.BackendService)}
	}
	w.BackendEnv = ownEnv(c)
	env := ContainerEnv(c, nil)
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(topo.Backend)) {
		if got, ok := env[k]; !ok || got != topo.Backend[k] {
			problems = append(problems, fmt.Sprintf("the topology sets %s=%s for the backend, Deployment %s runs with %q: set it there (%s set env deployment/%s %s=%s)",
				k, topo.Backend[k], BackendDeployment, got, kubectlIn(d.Namespace), BackendDeployment, k, topo.Backend[k]))
		}
	}
	return problems
}

// tierDeployments lists the names of the Deployments that carry TierLabel (nil when they
// cannot be listed: PreflightTopology says why).
func (c *Cluster) tierDeployments(ctx context.Context) []string {
	list, err := c.Client.AppsV1().Deployments(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: TierLabel})
	if err != nil {
		return nil
	}
	var names []string
	for _, d := range list.Items {
		names = append(names, d.Name)
	}
	slices.Sort(names)
	return names
}

// PreflightTopology checks that the namespace runs topo (WireTopology) and that every tier's
// Deployment is available, after Preflight checked the rest. Every problem is reported at
// once, with how to deploy the topology.
func (c *Cluster) PreflightTopology(ctx context.Context, topo *topology.Topology) (*Wiring, error) {
	deps, err := c.Client.AppsV1().Deployments(c.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list the Deployments of namespace %s (the tiers of %s): %w", c.Namespace, topo, err)
	}
	svcs, err := c.Client.CoreV1().Services(c.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list the Services of namespace %s (the tiers of %s): %w", c.Namespace, topo, err)
	}
	cms := map[string]map[string]string{}
	for _, name := range envFromConfigMaps(deps.Items) {
		cm, err := c.Client.CoreV1().ConfigMaps(c.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("read the ConfigMap %s (the tiers' variables): %w", name, err)
		}
		if err == nil {
			cms[name] = cm.Data
		}
	}
	w, problems := WireTopology(topo, deps.Items, svcs.Items, cms)
	for _, t := range w.Tiers {
		if t.Deployment == "" {
			continue
		}
		d := findDeployment(deps.Items, t.Deployment)
		if d.Status.AvailableReplicas < specReplicas(d) || specReplicas(d) == 0 {
			why := c.podTrouble(ctx, t.App)
			problems = append(problems, fmt.Sprintf("Deployment %s (tier %s) has %d of %d replicas available%s: kubectl -n %s get pods -l app=%s%s",
				d.Name, t.Name, d.Status.AvailableReplicas, specReplicas(d), troubleText(why), c.Namespace, t.App, troubleHint(why, c.Namespace)))
		}
	}
	if len(problems) > 0 {
		return nil, errors.New("namespace " + c.Namespace + " does not run the topology " + topo.String() + ":\n  - " +
			strings.Join(problems, "\n  - ") + "\n" + c.deployHint(topo))
	}
	return w, nil
}

// envFromConfigMaps names the ConfigMaps the Deployments' containers read with envFrom, sorted.
func envFromConfigMaps(deps []appsv1.Deployment) []string {
	var names []string
	for _, d := range deps {
		for _, ctr := range d.Spec.Template.Spec.Containers {
			for _, from := range ctr.EnvFrom {
				if from.ConfigMapRef != nil && !slices.Contains(names, from.ConfigMapRef.Name) {
					names = append(names, from.ConfigMapRef.Name)
				}
			}
		}
	}
	slices.Sort(names)
	return names
}

// deployHint says how to deploy topo: the repository's overlay for a built-in one, else what a
// tier needs.
func (c *Cluster) deployHint(topo *topology.Topology) string {
	if o, ok := Overlays()[topo.Name]; ok && topo.Source == "built-in "+topo.Name {
		hint := "deploy it: kubectl apply -k " + o.Path
		if c.Namespace != o.Namespace {
			hint += ", then run with --namespace " + o.Namespace + " (the overlay's namespace)"
		}
		return hint
	}
	return "deploy each tier as deploy/overlays/chain-3 does: a Deployment running client-service with TIER=<tier> and BACKEND_URL at the Service of the node it calls, and a Service on port http, all three labelled " + TierLabel + "=<tier>"
}
