package k8s

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// Labels every object chaoslab creates carries: RunLabel names the run (its id), ManagedByLabel
// says who made it, so a later run or `chaoslab recover --stack k8s` finds what a killed run left.
const (
	RunLabel       = "chaoslab.io/run"
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedBy      = "chaoslab"
)

// Activities runs chaosk8s 0.39 functions with client-go: the same arguments, the same outputs
// (what chaostoolkit-lib records in the journal) and the same failures (an error is the
// ActivityFailed the Python function raises).
type Activities struct {
	Client kubernetes.Interface
	// Labels are added to every object an activity creates (the run's labels); nil = none.
	Labels map[string]string
	// OnCreate and OnDelete are told of every object an activity created or deleted (kind and
	// name, in ns); nil = nobody.
	OnCreate, OnDelete func(kind, ns, name string)
	// OnTerminate is told of the pods terminate_pods deleted; nil = nobody.
	OnTerminate func(ns string, pods []corev1.Pod)
	// Rand picks the pods of terminate_pods with rand (nil = a random seed).
	Rand *rand.Rand
}

// activity is one native chaosk8s function: its parameters with their Python defaults, and its body.
type activity struct {
	params map[string]any
	run    func(a *Activities, ctx context.Context, args *args) (any, error)
}

func catalogue() map[string]map[string]activity {
	return map[string]map[string]activity{
		"chaosk8s.networking.actions": {
			"create_network_policy": {params: map[string]any{"spec": nil, "spec_path": nil, "ns": "default"}, run: (*Activities).createNetworkPolicy},
			"remove_network_policy": {params: map[string]any{"name": required{}, "ns": "default"}, run: (*Activities).removeNetworkPolicy},
		},
		"chaosk8s.pod.actions": {
			"terminate_pods": {params: map[string]any{"label_selector": nil, "name_pattern": nil, "all": false, "rand": false,
				"mode": "fixed", "qty": int64(1), "grace_period": int64(-1), "ns": "default", "order": "alphabetic"}, run: (*Activities).terminatePods},
		},
		"chaosk8s.pod.probes": {
			"pods_in_phase": {params: map[string]any{"label_selector": required{}, "phase": "Running", "ns": "default", "raise_on_invalid_phase": true},
				run: (*Activities).podsInPhase},
			"pods_not_in_phase": {params: map[string]any{"label_selector": required{}, "phase": "Running", "ns": "default", "raise_on_in_phase": true},
				run: (*Activities).podsNotInPhase},
			"count_pods": {params: map[string]any{"label_selector": required{}, "phase": nil, "ns": "default"}, run: (*Activities).countPods},
		},
		"chaosk8s.deployment.probes": {
			"deployment_available_and_healthy": {params: map[string]any{"name": required{}, "ns": "default", "label_selector": nil, "raise_on_unavailable": true},
				run: (*Activities).deploymentAvailableAndHealthy},
			"deployment_fully_available": {params: map[string]any{"name": required{}, "ns": "default", "label_selector": nil, "timeout": int64(30), "raise_on_not_fully_available": true},
				run: (*Activities).deploymentFullyAvailable},
		},
	}
}

// required marks a parameter without a default.
type required struct{}

// Supports reports whether module.fn runs natively.
func (a *Activities) Supports(module, fn string) bool {
	_, ok := catalogue()[module][fn]
	return ok
}

// Supported lists the native functions as module.func, sorted.
func Supported() []string {
	var out []string
	for m, fns := range catalogue() {
		for f := range fns {
			out = append(out, m+"."+f)
		}
	}
	sort.Strings(out)
	return out
}

// Call runs module.fn with the experiment's arguments (JSON values: string, bool, int64,
// float64, nil, []any, map[string]any). An unknown function, a missing or mistyped argument and
// a failed API call are errors, as the Python function's TypeError or ActivityFailed would be.
func (a *Activities) Call(ctx context.Context, module, fn string, in map[string]any) (any, error) {
	act, ok := catalogue()[module][fn]
	if !ok {
		return nil, fmt.Errorf("%s.%s is not run natively by chaoslab (it runs %s): use `chaos run`", module, fn, strings.Join(Supported(), ", "))
	}
	merged := args{fn: fn, vals: map[string]any{}}
	for k, v := range act.params {
		if _, isReq := v.(required); !isReq {
			merged.vals[k] = v
		}
	}
	for k, v := range in {
		if _, known := act.params[k]; !known {
			return nil, fmt.Errorf("%s() got an unexpected keyword argument '%s'", fn, k)
		}
		merged.vals[k] = v
	}
	for k, v := range act.params {
		if _, isReq := v.(required); isReq {
			if _, given := merged.vals[k]; !given {
				return nil, fmt.Errorf("%s() missing 1 required positional argument: '%s'", fn, k)
			}
		}
	}
	return act.run(a, ctx, &merged)
}

// args are one call's arguments, the defaults filled in. Reading one that has the wrong type
// records the first such error in err and gives the zero value: an activity reads all its
// arguments, then checks err once.
type args struct {
	fn   string
	vals map[string]any
	err  error
}

func (g *args) fail(format string, a ...any) {
	if g.err == nil {
		g.err = fmt.Errorf(format, a...)
	}
}

// str is the string argument k, and whether it was given (not None).
func (g *args) str(k string) (string, bool) {
	switch v := g.vals[k].(type) {
	case nil:
		return "", false
	case string:
		return v, true
	default:
		g.fail("%s: argument %s must be a string, got %T %v", g.fn, k, v, v)
		return "", false
	}
}

func (g *args) boolean(k string) bool {
	switch v := g.vals[k].(type) {
	case nil:
		return false
	case bool:
		return v
	default:
		g.fail("%s: argument %s must be true or false, got %T %v", g.fn, k, v, v)
		return false
	}
}

func (g *args) integer(k string) int64 {
	switch v := g.vals[k].(type) {
	case int64:
		return v
	case int:
		return int64(v)
	case float64:
		if v == math.Trunc(v) {
			return int64(v)
		}
		g.fail("%s: argument %s must be a whole number, got %v", g.fn, k, v)
	default:
		g.fail("%s: argument %s must be a number, got %T %v (give a configuration value a type: --var %s:int=...)", g.fn, k, v, v, k)
	}
	return 0
}

// ns is the namespace argument ("default" when absent, as in chaosk8s).
func (g *args) ns() string {
	if ns, ok := g.str("ns"); ok && ns != "" {
		return ns
	}
	return "default"
}

// createNetworkPolicy is chaosk8s.networking.actions.create_network_policy: the policy from
// spec (a dict) or from the JSON/YAML file spec_path (which wins when it exists), created in ns.
// It returns None.
func (a *Activities) createNetworkPolicy(ctx context.Context, g *args) (any, error) {
	ns := g.ns()
	spec := g.vals["spec"]
	path, ok := g.str("spec_path")
	if g.err != nil {
		return nil, g.err
	}
	if ok && path != "" {
		if data, rerr := os.ReadFile(path); rerr == nil {
			switch strings.ToLower(filepath.Ext(path)) {
			case ".json", ".yml", ".yaml":
				var v any
				if err := yaml.Unmarshal(data, &v); err != nil {
					return nil, fmt.Errorf("create_network_policy: spec_path %s: %w", path, err)
				}
				spec = v
			default:
				return nil, fmt.Errorf("create_network_policy: cannot process %s (a .json, .yml or .yaml file)", path)
			}
		}
	}
	if spec == nil {
		return nil, errors.New("create_network_policy: neither spec nor a readable spec_path was given")
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("create_network_policy: spec: %w", err)
	}
	var np networkingv1.NetworkPolicy
	if err := json.Unmarshal(raw, &np); err != nil {
		return nil, fmt.Errorf("create_network_policy: spec is not a NetworkPolicy: %w", err)
	}
	if len(a.Labels) > 0 {
		if np.Labels == nil {
			np.Labels = map[string]string{}
		}
		maps.Copy(np.Labels, a.Labels)
	}
	created, err := a.Client.NetworkingV1().NetworkPolicies(ns).Create(ctx, &np, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create_network_policy: create NetworkPolicy %q in namespace %s: %w", np.Name, ns, err)
	}
	if a.OnCreate != nil {
		a.OnCreate("NetworkPolicy", ns, created.Name)
	}
	return nil, nil
}

// removeNetworkPolicy is chaosk8s.networking.actions.remove_network_policy: it deletes the
// policy (a missing one is an error, as the API's 404 is in Python) and returns None.
func (a *Activities) removeNetworkPolicy(ctx context.Context, g *args) (any, error) {
	ns := g.ns()
	name, _ := g.str("name")
	if g.err != nil {
		return nil, g.err
	}
	if err := a.Client.NetworkingV1().NetworkPolicies(ns).Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		return nil, fmt.Errorf("remove_network_policy: delete NetworkPolicy %q in namespace %s: %w", name, ns, err)
	}
	if a.OnDelete != nil {
		a.OnDelete("NetworkPolicy", ns, name)
	}
	return nil, nil
}

// terminatePods is chaosk8s.pod.actions.terminate_pods: select pods by label_selector and/or
// the regular expression name_pattern, order them (alphabetic: as listed; oldest: by creation),
// keep all, or qty of them (mode fixed) or qty percent (mode percentage, rounded up), at random
// with rand; delete them with grace_period seconds (< 0: the pod's own). It returns the names of
// the pods it deleted.
func (a *Activities) terminatePods(ctx context.Context, g *args) (any, error) {
	ns := g.ns()
	sel, _ := g.str("label_selector")
	pattern, _ := g.str("name_pattern")
	all := g.boolean("all")
	random := g.boolean("rand")
	mode, _ := g.str("mode")
	order, _ := g.str("order")
	qty := g.integer("qty")
	grace := g.integer("grace_period")
	if g.err != nil {
		return nil, g.err
	}
	if mode != "fixed" && mode != "percentage" {
		return nil, fmt.Errorf("terminate_pods: mode %s is not supported (fixed or percentage)", mode)
	}
	if order != "alphabetic" && order != "oldest" {
		return nil, fmt.Errorf("terminate_pods: order %s is not supported (alphabetic or oldest)", order)
	}
	var re *regexp.Regexp
	if pattern != "" {
		var err error
		if re, err = regexp.Compile(pattern); err != nil {
			return nil, fmt.Errorf("terminate_pods: name_pattern %q: %w", pattern, err)
		}
	}
	list, err := a.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("terminate_pods: list pods %q in namespace %s: %w", sel, ns, err)
	}
	pods := slices.Clone(list.Items)
	sort.SliceStable(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name }) // the API server lists by name
	if re != nil {
		pods = slices.DeleteFunc(pods, func(p corev1.Pod) bool { return !re.MatchString(p.Name) })
	}
	if order == "oldest" {
		sort.SliceStable(pods, func(i, j int) bool { return pods[i].CreationTimestamp.Before(&pods[j].CreationTimestamp) })
	}
	if !all {
		n := qty
		if mode == "percentage" {
			n = int64(math.Ceil(float64(qty) * float64(len(pods)) / 100))
		}
		n = max(0, min(n, int64(len(pods))))
		if random {
			r := a.Rand
			if r == nil {
				r = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
			}
			r.Shuffle(len(pods), func(i, j int) { pods[i], pods[j] = pods[j], pods[i] })
		}
		pods = pods[:n]
	}
	opts := metav1.DeleteOptions{}
	if grace >= 0 {
		opts.GracePeriodSeconds = &grace
	}
	deleted := []any{}
	for _, p := range pods {
		if err := a.Client.CoreV1().Pods(ns).Delete(ctx, p.Name, opts); err != nil {
			return nil, fmt.Errorf("terminate_pods: delete pod %s in namespace %s: %w", p.Name, ns, err)
		}
		deleted = append(deleted, p.Name)
	}
	if a.OnTerminate != nil && len(pods) > 0 {
		a.OnTerminate(ns, pods)
	}
	return deleted, nil
}

func (a *Activities) listPods(ctx context.Context, g *args) ([]corev1.Pod, string, string, error) {
	ns := g.ns()
	sel, _ := g.str("label_selector")
	if g.err != nil {
		return nil, "", "", g.err
	}
	list, err := a.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, "", "", fmt.Errorf("%s: list pods %q in namespace %s: %w", g.fn, sel, ns, err)
	}
	return list.Items, sel, ns, nil
}

// podsInPhase is chaosk8s.pod.probes.pods_in_phase: true when every pod of label_selector is in
// phase; no pod at all is an error; a pod in another phase is an error, or false without
// raise_on_invalid_phase.
func (a *Activities) podsInPhase(ctx context.Context, g *args) (any, error) {
	phase, _ := g.str("phase")
	raise := g.boolean("raise_on_invalid_phase")
	pods, sel, _, err := a.listPods(ctx, g)
	if err != nil {
		return nil, err
	}
	if len(pods) == 0 {
		return nil, fmt.Errorf("no pods '%s' were found", sel)
	}
	for _, p := range pods {
		if string(p.Status.Phase) != phase {
			if raise {
				return nil, fmt.Errorf("pod '%s' is in phase '%s' but should be '%s'", sel, p.Status.Phase, phase)
			}
			return false, nil
		}
	}
	return true, nil
}

// podsNotInPhase is chaosk8s.pod.probes.pods_not_in_phase: true when no pod of label_selector is in phase.
func (a *Activities) podsNotInPhase(ctx context.Context, g *args) (any, error) {
	phase, _ := g.str("phase")
	raise := g.boolean("raise_on_in_phase")
	pods, sel, _, err := a.listPods(ctx, g)
	if err != nil {
		return nil, err
	}
	if len(pods) == 0 {
		return nil, fmt.Errorf("no pods '%s' were found", sel)
	}
	for _, p := range pods {
		if string(p.Status.Phase) == phase {
			if raise {
				return nil, fmt.Errorf("pod '%s' should not be in phase '%s'", sel, p.Status.Phase)
			}
			return false, nil
		}
	}
	return true, nil
}

// countPods is chaosk8s.pod.probes.count_pods: how many pods match label_selector (and phase).
func (a *Activities) countPods(ctx context.Context, g *args) (any, error) {
	phase, _ := g.str("phase")
	pods, _, _, err := a.listPods(ctx, g)
	if err != nil {
		return nil, err
	}
	n := int64(0)
	for _, p := range pods {
		if phase == "" || string(p.Status.Phase) == phase {
			n++
		}
	}
	return n, nil
}

// deployment reads the Deployment name in ns, if it also matches label_selector (chaosk8s lists
// with field selector metadata.name=NAME and the label selector).
func (a *Activities) deployment(ctx context.Context, g *args) (*appsv1.Deployment, string, error) {
	ns := g.ns()
	name, _ := g.str("name")
	sel, _ := g.str("label_selector")
	if g.err != nil {
		return nil, name, g.err
	}
	list, err := a.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{LabelSelector: sel,
		FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
	if err != nil {
		return nil, name, fmt.Errorf("%s: list Deployment %s in namespace %s: %w", g.fn, name, ns, err)
	}
	for i := range list.Items { // a fake clientset ignores field selectors
		if list.Items[i].Name == name {
			return &list.Items[i], name, nil
		}
	}
	return nil, name, nil
}

func specReplicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

// deploymentAvailableAndHealthy is chaosk8s.deployment.probes.deployment_available_and_healthy:
// true when the Deployment's available replicas equal its spec's; a missing Deployment is an
// error; an unhealthy one is an error, or false without raise_on_unavailable.
func (a *Activities) deploymentAvailableAndHealthy(ctx context.Context, g *args) (any, error) {
	raise := g.boolean("raise_on_unavailable")
	d, name, err := a.deployment(ctx, g)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, fmt.Errorf("Deployment '%s' was not found", name)
	}
	if d.Status.AvailableReplicas != specReplicas(d) {
		if raise {
			return nil, fmt.Errorf("Deployment '%s' is not healthy", name)
		}
		return false, nil
	}
	return true, nil
}

// deploymentFullyAvailable is chaosk8s.deployment.probes.deployment_fully_available: it watches
// the Deployment for up to timeout seconds and returns true as soon as its ready replicas equal
// its spec's (the first state seen counts, as in chaosk8s); otherwise it fails with "deployment
// 'NAME' failed to recover within Ns", or returns false without raise_on_not_fully_available.
func (a *Activities) deploymentFullyAvailable(ctx context.Context, g *args) (any, error) {
	ns := g.ns()
	name, _ := g.str("name")
	sel, _ := g.str("label_selector")
	timeout := g.integer("timeout")
	raise := g.boolean("raise_on_not_fully_available")
	if g.err != nil {
		return nil, g.err
	}
	ok, err := a.waitDeployment(ctx, ns, name, sel, time.Duration(timeout)*time.Second)
	if err != nil {
		return nil, err
	}
	if ok {
		return true, nil
	}
	if raise {
		return nil, fmt.Errorf("deployment '%s' failed to recover within %ds", name, timeout)
	}
	return false, nil
}

// waitDeployment watches the Deployment until its ready replicas equal its spec's (true) or the
// timeout passes (false).
func (a *Activities) waitDeployment(ctx context.Context, ns, name, sel string, timeout time.Duration) (bool, error) {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ready := func(d *appsv1.Deployment) bool {
		if d.Name != name {
			return false
		}
		if sel != "" {
			s, err := labels.Parse(sel)
			if err != nil || !s.Matches(labels.Set(d.Labels)) {
				return false
			}
		}
		return d.Status.ReadyReplicas == specReplicas(d)
	}
	opts := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String(), LabelSelector: sel}
	for {
		// List first, then watch from that version: the first state seen counts, as the Python
		// watch's first ADDED event does.
		list, err := a.Client.AppsV1().Deployments(ns).List(wctx, opts)
		if err != nil {
			if wctx.Err() != nil && ctx.Err() == nil {
				return false, nil
			}
			return false, fmt.Errorf("deployment_fully_available: list Deployment %s in namespace %s: %w", name, ns, err)
		}
		for i := range list.Items {
			if ready(&list.Items[i]) {
				return true, nil
			}
		}
		wopts := opts
		wopts.ResourceVersion = list.ResourceVersion
		w, err := a.Client.AppsV1().Deployments(ns).Watch(wctx, wopts)
		if err != nil {
			if wctx.Err() != nil && ctx.Err() == nil {
				return false, nil
			}
			return false, fmt.Errorf("deployment_fully_available: watch Deployment %s in namespace %s: %w", name, ns, err)
		}
		done, ok := watchUntil(wctx, w, ready)
		w.Stop()
		if done {
			return ok, nil
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if wctx.Err() != nil {
			return false, nil
		}
		// The watch ended early (the API server closed it): list and watch again.
	}
}

// watchUntil reads events until one satisfies ready (true, true), the context ends (true, false)
// or the watch closes (false, false).
func watchUntil(ctx context.Context, w watch.Interface, ready func(*appsv1.Deployment) bool) (done, ok bool) {
	for {
		select {
		case <-ctx.Done():
			return true, false
		case ev, open := <-w.ResultChan():
			if !open {
				return false, false
			}
			if d, isDep := ev.Object.(*appsv1.Deployment); isDep && ev.Type != watch.Deleted && ready(d) {
				return true, true
			}
		}
	}
}

// waitReplaced waits until the Deployment name has as many ready replicas as its spec, counting
// none of the pods in gone (deleted ones the Deployment status may still count for a moment).
func (a *Activities) waitReplaced(ctx context.Context, ns, name string, gone []string, timeout time.Duration) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		d, err := a.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			pods, perr := a.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
			if perr == nil {
				ready := int32(0)
				for _, p := range pods.Items {
					if !slices.Contains(gone, p.Name) && p.DeletionTimestamp == nil && isReady(&p) {
						ready++
					}
				}
				if ready >= specReplicas(d) {
					return true, nil
				}
			}
		}
		t := time.NewTimer(500 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
	}
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
