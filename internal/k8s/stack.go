package k8s

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"chaoslab/internal/experiment"
	"chaoslab/internal/lab"
	"chaoslab/internal/results"
	"chaoslab/internal/stack"
	"chaoslab/internal/topology"
	"chaoslab/internal/wait"
)

// EnvNamespace is the configuration key through which the Kubernetes experiments read their
// namespace; the run sets it to the cluster's.
const EnvNamespace = "CHAOSLAB_NAMESPACE"

// StackName is the --stack value of a run on a Kubernetes cluster (deploy/k8s applied).
const StackName = "k8s"

// InconclusiveWhy says why a run whose partition was never proven proves nothing; Inconclusive
// is its verdict reason.
const (
	InconclusiveWhy = "the network plugin does not enforce NetworkPolicy"
	Inconclusive    = "inconclusive: " + InconclusiveWhy
)

// Stack is the runner's plug for a cluster where deploy/k8s is applied (lab.Stack). Prepare
// checks the prerequisites and removes what killed runs left; Start pauses the in-cluster load
// generator for the run and waits for its pods to exit, reaches the services through the API
// server, follows the pods and their logs, turns the client's attempt records on, and proves
// that a partition took effect; Close removes everything the run created, also when the run
// was interrupted.
type Stack struct {
	Cluster *Cluster
	// VerifyTimeout bounds how long the partition may take to show in the client's
	// /api/diagnostics/backend (default 30 s: BACKEND_CONN_MAX_AGE, 5 s in deploy/k8s, retires
	// a pooled connection well within it).
	VerifyTimeout time.Duration
	// AvailableTimeout bounds the wait for the lab's Deployments to be available before the run
	// (a container restarting after an earlier run's kill); 0 = DefaultAvailableTimeout.
	AvailableTimeout time.Duration
	// Stdout is where Prepare says what it removed (nil = nowhere).
	Stdout io.Writer
	// Topology, when set, is the call graph of client-service tiers the namespace runs
	// (deploy/overlays/chain-3 for chain-3): Prepare checks that it does (WireTopology); the
	// run's load and probes reach the first entry tier, every tier's pods are followed and their
	// records tagged with their tier, every tier's attempt records are on and every tier is in
	// the snapshots; the status line shows the entry tier's breaker. nil = today's two services.
	Topology *topology.Topology

	compareRun string  // set by Compare: the run id whose ConfigMap change the leftovers keep
	resilience string  // the RESILIENCE the run asked for ("" = the ConfigMap's)
	wiring     *Wiring // the Topology as Prepare found it on the cluster
}

// Name is "k8s".
func (s *Stack) Name() string { return StackName }

// Prepare checks the prerequisites, removes the leftovers of killed runs and reads the client's
// variables from the ConfigMap. The run may only choose RESILIENCE (a compare does): the other
// variables are the ConfigMap's.
func (s *Stack) Prepare(ctx context.Context, clientEnv map[string]string) (map[string]string, error) {
	for k := range clientEnv {
		if k != "RESILIENCE" {
			return nil, fmt.Errorf("%s: on Kubernetes the client's variables come from the ConfigMap %s (kubectl -n %s edit configmap %s, then a rollout restart)", k, ConfigMapName, s.Cluster.Namespace, ConfigMapName)
		}
	}
	c := s.Cluster
	timeout := s.AvailableTimeout
	if timeout == 0 {
		timeout = DefaultAvailableTimeout
	}
	var tiers []string
	if s.Topology != nil {
		tiers = c.tierDeployments(ctx)
	}
	if err := c.WaitAvailable(ctx, timeout, s.say, tiers...); err != nil && ctx.Err() != nil {
		return nil, err
	} // an unreachable cluster is Preflight's to explain
	if err := c.Preflight(ctx); err != nil {
		return nil, err
	}
	s.wiring = nil
	if s.Topology != nil {
		w, err := c.PreflightTopology(ctx, s.Topology)
		if err != nil {
			return nil, err
		}
		s.wiring = w
	}
	removed, err := c.removeLeftovers(ctx, s.compareRun)
	for _, what := range removed {
		s.say("removed a leftover of an earlier run: " + what)
	}
	if err != nil {
		return nil, fmt.Errorf("remove the leftovers of earlier runs: %w", err)
	}
	env, err := c.ClientEnv(ctx)
	if err != nil {
		return nil, err
	}
	s.resilience = clientEnv["RESILIENCE"]
	if s.resilience != "" {
		env["RESILIENCE"] = s.resilience
	}
	if s.Topology != nil {
		if err := stack.CheckTopology(s.Topology, env, StackName); err != nil {
			return nil, err
		}
	}
	return env, nil
}

// Graph is the topology the namespace runs, as run.json records it, and the variables of its
// first entry tier (lab.Tiered); without a Topology, none and clientEnv.
func (s *Stack) Graph(clientEnv map[string]string) (*results.Topology, map[string]string) {
	if s.Topology == nil || s.wiring == nil {
		return nil, clientEnv
	}
	return s.wiring.Record(s.Topology), s.wiring.EntryEnv(clientEnv)
}

func (s *Stack) say(msg string) {
	if s.Stdout != nil {
		fmt.Fprintln(s.Stdout, "  "+msg)
	}
}

// ClientEnv reads the client's pipeline variables from the ConfigMap the client pods use.
func (c *Cluster) ClientEnv(ctx context.Context) (map[string]string, error) {
	cm, err := c.Client.CoreV1().ConfigMaps(c.Namespace).Get(ctx, ConfigMapName, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read the ConfigMap %s in namespace %s (the client's pipeline variables): %w", ConfigMapName, c.Namespace, err)
	}
	env := map[string]string{}
	for k, v := range cm.Data {
		if k != "BACKEND_URL" { // the in-cluster address; DescribeClient does not need it
			env[k] = v
		}
	}
	return env, nil
}

// running is a run on the cluster: what Start made, undone by Close.
type running struct {
	s        *Stack
	c        *Cluster
	run      string
	env      lab.StartEnv
	verify   time.Duration
	events   *results.EventLog
	obs      *Observer
	client   *Proxy // client-service, or with a topology the first entry tier
	backend  *Proxy
	faults   *Proxy
	wiring   *Wiring           // the topology on the cluster (nil: today's two services)
	tiers    map[string]*Proxy // with a topology: every tier, by name
	entryEnv map[string]string // the variables of the client whose breaker the run shows
	verifyWG sync.WaitGroup
	watchCtx context.Context // the fault watchers' and the observer's lifetime
	undo     []func(ctx context.Context)

	mu       sync.Mutex
	policies map[string]bool // NetworkPolicies of this run now in place
	crashed  map[string]bool // apps whose pods terminate_pods deleted, until they are replaced
}

// Start reaches the services and starts following them; see Stack.
func (s *Stack) Start(ctx context.Context, env lab.StartEnv) (lab.Running, error) {
	verify := s.VerifyTimeout
	if verify == 0 {
		verify = 30 * time.Second
	}
	r := &running{s: s, c: s.Cluster, run: NewRunID(time.Now()), env: env, verify: verify, events: env.Events, policies: map[string]bool{},
		crashed: map[string]bool{}, wiring: s.wiring}
	_, r.entryEnv = s.Graph(env.ClientEnv)
	watchCtx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
	r.watchCtx = watchCtx
	r.undo = append(r.undo, func(context.Context) { stopWatch() })
	if err := r.start(ctx); err != nil {
		r.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return r, nil
}

func (r *running) say(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.env.Logger.Info(msg)
	r.env.Say(msg)
}

func (r *running) start(ctx context.Context) error {
	r.say("k8s stack: context %s, namespace %s, run %s", r.c.Context, r.c.Namespace, r.run)
	if p := r.s.resilience; p != "" {
		run := r.s.compareRun
		if run == "" {
			run = r.run
		}
		if err := r.c.SetResilience(ctx, run, p, func(m string) { r.say("%s", m) }); err != nil {
			return err
		}
	}
	paused, err := r.c.PauseLoad(ctx, r.run)
	if err != nil {
		return err
	}
	if paused {
		r.say("paused Deployment %s (scaled to 0) for the run: only chaoslab's own load reaches the client", LoadDeployment)
		r.undo = append(r.undo, func(ctx context.Context) {
			if err := r.c.ResumeLoad(ctx, r.run); err != nil {
				r.env.Problem("cleanup: %v", err)
				r.say("!! %v: chaoslab recover --stack k8s puts it back", err)
			}
		})
	}
	if err := r.c.WaitLoadStopped(ctx, LoadStopTimeout); err != nil {
		return err
	}
	if err := r.serve(); err != nil {
		return err
	}
	if err := r.observe(); err != nil {
		return err
	}
	for _, c := range r.clients() {
		if err := waitReady(ctx, c.proxy.URL+"/readyz", 30*time.Second); err != nil {
			return fmt.Errorf("%s through the API server: %w", c.service, err)
		}
	}
	r.attemptRecords(ctx)
	return nil
}

// serve starts the proxies through the API server to the client (with a topology: to every
// tier), the backend and its fault sidecar.
func (r *running) serve() error {
	var err error
	if r.wiring == nil {
		if r.client, err = r.serveOne(ClientServiceName, ServicePort, nil); err != nil {
			return err
		}
	} else {
		r.tiers = map[string]*Proxy{}
		for _, t := range r.wiring.Tiers {
			if r.tiers[t.Name], err = r.serveOne(t.Service, ServicePort, nil); err != nil {
				return err
			}
		}
		r.client = r.tiers[r.wiring.Entries()[0].Name]
	}
	if r.backend, err = r.serveOne(FaultsServiceName, DirectPort, nil); err != nil {
		return err
	}
	r.faults, err = r.serveOne(FaultsServiceName, FaultsPort, r.faultRequest)
	return err
}

func (r *running) serveOne(name, port string, before func(*http.Request)) (*Proxy, error) {
	px, err := r.c.ServeService(name, port, r.env.Logger, before)
	if err != nil {
		return nil, err
	}
	r.undo = append(r.undo, func(context.Context) { px.Close() })
	return px, nil
}

// client is a client-service the run reaches: today's client, or a tier of a topology.
type client struct {
	tier    string // "" for today's client
	service string // its Service
	proxy   *Proxy
}

// clients are the client-services the run reaches: client-service, or every tier in the
// topology's order.
func (r *running) clients() []client {
	if r.wiring == nil {
		return []client{{service: ClientServiceName, proxy: r.client}}
	}
	out := make([]client, 0, len(r.wiring.Tiers))
	for _, t := range r.wiring.Tiers {
		out = append(out, client{tier: t.Name, service: t.Service, proxy: r.tiers[t.Name]})
	}
	return out
}

// faultRequest is told of every request to the fault sidecar: a kill through it is the
// experiment's, so the container's restart that follows is expected, not a problem.
func (r *running) faultRequest(req *http.Request) {
	if r.wiring != nil {
		r.tierFault(req)
	}
	if req.Method != http.MethodPost {
		return
	}
	if svc, ok := strings.CutSuffix(strings.TrimPrefix(req.URL.Path, "/processes/"), "/kill"); ok && !strings.Contains(svc, "/") {
		r.obs.ExpectRestart(svc)
	}
}

// observe follows the pods and their logs into the run's files and events until Close. With a
// topology each tier's log is <tier>.log, as on the local stack.
func (r *running) observe() error {
	logs := map[string]io.Writer{}
	files := []string{results.ClientService, results.BackendService, FaultProxyContainer}
	if r.wiring != nil {
		files = []string{results.BackendService, FaultProxyContainer}
		for _, t := range r.wiring.Tiers {
			files = append(files, t.Name)
		}
	}
	for _, app := range files {
		f, err := os.Create(filepath.Join(r.env.Dir, app+".log"))
		if err != nil {
			return fmt.Errorf("create the log of %s: %w", app, err)
		}
		r.undo = append(r.undo, func(context.Context) { f.Close() })
		logs[app] = f
	}
	r.obs = NewObserver(r.c, r.events, logs, r.env.Logger.With("component", "observer"), r.env.Problem)
	if r.wiring != nil {
		r.obs.FollowTiers(r.wiring.Apps(), r.wiring.Entries()[0].Name)
	}
	obsCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.obs.Run(obsCtx)
	}()
	r.undo = append(r.undo, func(context.Context) { stop(); <-done })
	return nil
}

// Endpoints are the local ends of the proxies through the API server; with a topology the
// load is spread over the entry tiers, and the first one is the client the experiment sees.
func (r *running) Endpoints() lab.Endpoints {
	ep := lab.Endpoints{Client: r.client.URL, Backend: r.backend.URL, Faults: r.faults.URL,
		Env:    map[string]string{EnvNamespace: r.c.Namespace},
		Detail: fmt.Sprintf("client %s  backend %s  fault API %s  (through the API server's service proxy)", r.client.URL, r.backend.URL, r.faults.URL)}
	if r.wiring == nil {
		return ep
	}
	var parts []string
	for _, t := range r.wiring.Tiers {
		what := "calls " + t.Calls
		if t.Entry {
			what = "entry, " + what
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s)", t.Name, r.tiers[t.Name].URL, what))
		if t.Entry {
			ep.Entries = append(ep.Entries, lab.Entry{Tier: t.Name, URL: r.tiers[t.Name].URL})
		}
	}
	ep.Detail = fmt.Sprintf("tiers %s  backend %s  fault API %s  (through the API server's service proxy)", strings.Join(parts, ", "), r.backend.URL, r.faults.URL)
	return ep
}

// Native runs chaosk8s's activities with client-go; what they create carries the run's label.
func (r *running) Native() experiment.Native {
	return &Activities{Client: r.c.Client, Labels: RunLabels(r.run), OnCreate: r.created, OnDelete: r.deleted, OnTerminate: r.terminated}
}

// Died is nil: the kubelet restarts what dies, and the observer reports it as a problem.
func (r *running) Died() <-chan lab.Exit { return nil }

// Breaker is the client's (with a topology: the first entry tier's) breaker state as its log
// last said.
func (r *running) Breaker() string {
	if !results.HasBreaker(r.entryEnv["RESILIENCE"]) {
		return "off"
	}
	return r.obs.Breaker()
}

// FaultLeft lists the run's NetworkPolicies still in place and what the sidecar still injects.
func (r *running) FaultLeft() (bool, string) {
	var left []string
	if ps := r.policiesInPlace(); len(ps) > 0 {
		left = append(left, "NetworkPolicy "+strings.Join(ps, ", "))
	}
	if on, detail := sidecarLeftover(r.watchCtx, r.faults.URL); on {
		left = append(left, detail)
	}
	return len(left) > 0, strings.Join(left, "; ")
}

// Close removes what the run created that is still there (its rollbacks should have), waits
// for the partition checks, stops following the pods and puts the load generator back.
func (r *running) Close(ctx context.Context) error {
	if r.faults != nil {
		if err := resetSidecar(ctx, r.faults.URL); err != nil {
			r.env.Problem("cleanup: the fault sidecar: %v", err)
		}
	}
	if r.client != nil {
		r.attemptRecordsOff(ctx)
	}
	r.undo[0](ctx) // the watchers end with watchCtx
	r.verifyWG.Wait()
	r.cleanup(ctx)
	for i := len(r.undo) - 1; i > 0; i-- {
		r.undo[i](ctx)
	}
	return nil
}

// cleanup removes the run's objects its rollbacks left.
func (r *running) cleanup(ctx context.Context) {
	removed, err := r.c.RemoveRunObjects(ctx, r.run)
	for _, what := range removed {
		r.say("removed %s: the experiment's rollbacks had left it", what)
		r.deleted("NetworkPolicy", r.c.Namespace, strings.TrimPrefix(strings.Fields(what)[1], r.c.Namespace+"/"))
	}
	if err != nil {
		r.env.Problem("cleanup: %v", err)
		r.say("!! cleanup: %v: run chaoslab recover --stack k8s", err)
	}
}

// created is told of a NetworkPolicy an activity created: the fault is on, and must be proven.
func (r *running) created(kind, ns, name string) {
	if kind != "NetworkPolicy" {
		return
	}
	r.mu.Lock()
	r.policies[name] = true
	r.mu.Unlock()
	now := time.Now()
	r.events.Add(results.Event{Time: now, Kind: results.KindFault, Action: "on", Name: "partition", Message: fmt.Sprintf("NetworkPolicy %s/%s created (run %s)", ns, name, r.run)})
	r.tellSidecar()
	r.say("fault on: NetworkPolicy %s created; checking the client's /api/diagnostics/backend", name)
	r.verifyWG.Add(1)
	go func() {
		defer r.verifyWG.Done()
		r.verifyPartition(name, now)
	}()
}

func (r *running) deleted(kind, ns, name string) {
	if kind != "NetworkPolicy" {
		return
	}
	r.mu.Lock()
	delete(r.policies, name)
	r.mu.Unlock()
	r.events.Add(results.Event{Time: time.Now(), Kind: results.KindFault, Action: "off", Name: "partition", Message: fmt.Sprintf("NetworkPolicy %s/%s removed", ns, name)})
	r.tellSidecar()
	r.say("fault off: NetworkPolicy %s removed", name)
}

// terminated is told of the pods terminate_pods deleted: a crash fault, on until the
// Deployments of those pods are fully available again.
func (r *running) terminated(ns string, pods []corev1.Pod) {
	apps := map[string]bool{}
	var names []string
	for _, p := range pods {
		names = append(names, p.Name)
		if a := p.Labels["app"]; a != "" {
			apps[a] = true
		}
	}
	r.mu.Lock()
	maps.Copy(r.crashed, apps)
	r.mu.Unlock()
	r.events.Add(results.Event{Time: time.Now(), Kind: results.KindFault, Action: "on", Name: "crash", Message: "pods deleted: " + strings.Join(names, ", ")})
	r.tellSidecar()
	r.say("fault on: pods deleted: %s", strings.Join(names, ", "))
	r.verifyWG.Add(1)
	go func() {
		defer r.verifyWG.Done()
		a := &Activities{Client: r.c.Client}
		for _, app := range sortedKeys(apps) {
			// the Deployment of a pod has its app label's name in deploy/k8s
			if ok, _ := a.waitReplaced(r.watchCtx, ns, app, names, 5*time.Minute); !ok {
				r.say("!! the Deployment %s was not fully available again by the end of the run", app)
				return
			}
		}
		r.mu.Lock()
		for app := range apps {
			delete(r.crashed, app)
		}
		r.mu.Unlock()
		r.events.Add(results.Event{Time: time.Now(), Kind: results.KindFault, Action: "off", Name: "crash", Message: "replacement pods ready"})
		r.tellSidecar()
		r.say("fault off: replacement pods ready")
	}()
}

func sortedKeys(m map[string]bool) []string {
	ks := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// policiesInPlace lists the run's NetworkPolicies still in place.
func (r *running) policiesInPlace() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return sortedKeys(r.policies)
}

// diagnostics is the client's /api/diagnostics/backend answer.
type diagnostics struct {
	Reachable bool   `json:"reachable"`
	Error     string `json:"error"`
}

// verifyPartition polls the client's /api/diagnostics/backend (a fresh connection to the
// backend; with a topology, that of every tier calling the backend) until it says unreachable,
// the policy is removed, or the verify timeout passes: then the run is inconclusive, never a
// pass.
func (r *running) verifyPartition(policy string, since time.Time) {
	deadline := since.Add(r.verify)
	hc := &http.Client{Timeout: 5 * time.Second}
	last := ""
	for time.Now().Before(deadline) {
		r.mu.Lock()
		inPlace := r.policies[policy]
		r.mu.Unlock()
		if !inPlace {
			break
		}
		d, err := r.backendDiagnostics(hc)
		if err != nil {
			last = err.Error()
		} else if !d.Reachable {
			took := time.Since(since).Round(100 * time.Millisecond)
			r.events.Add(results.Event{Time: time.Now(), Kind: results.KindFault, Action: "verified", Name: "partition",
				Message: fmt.Sprintf("the client cannot reach the backend %v after the policy: %s", took, d.Error)})
			r.say("partition verified after %v: the client's fresh connection to the backend failed (%s)", took, d.Error)
			return
		} else {
			last = "reachable"
		}
		if !wait.For(r.watchCtx, 500*time.Millisecond) {
			return // the run ended (interrupted) before the check could conclude
		}
	}
	r.env.Problem("%s (the client still reached the backend %v after NetworkPolicy %s was created; last check: %s)", Inconclusive, r.verify, policy, last)
	r.say("!! %s: the client still reached the backend %v after NetworkPolicy %s was created", Inconclusive, r.verify, policy)
}

// backendDiagnostics asks the callers of the backend whether they reach it: the client, or with
// a topology every tier that calls the backend; reachable when one of them still does.
func (r *running) backendDiagnostics(hc *http.Client) (diagnostics, error) {
	if r.wiring == nil {
		return getDiagnostics(hc, r.client.URL+"/api/diagnostics/backend")
	}
	var d diagnostics
	for _, t := range r.wiring.Callers(results.BackendNode) {
		td, err := getDiagnostics(hc, r.tiers[t.Name].URL+"/api/diagnostics/backend")
		if err != nil {
			return td, fmt.Errorf("tier %s: %w", t.Name, err)
		}
		if td.Reachable {
			return diagnostics{Reachable: true}, nil
		}
		if d.Error == "" {
			d.Error = "tier " + t.Name + ": " + td.Error
		}
	}
	return d, nil
}

func getDiagnostics(hc *http.Client, url string) (diagnostics, error) {
	var d diagnostics
	resp, err := hc.Get(url)
	if err != nil {
		return d, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return d, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		return d, fmt.Errorf("GET %s: %w", url, err)
	}
	return d, nil
}

// Snapshot observes both services (with a topology: the backend and every tier) through the
// API server, like observe-system.sh.
func (r *running) Snapshot(ctx context.Context, moment string) results.Snapshot {
	ctx = context.WithoutCancel(ctx)
	snap := results.Snapshot{Time: time.Now().UTC(), Moment: moment, Services: map[string]results.ServiceSnapshot{}}
	hc := &http.Client{Timeout: 5 * time.Second}
	services := map[string]*Proxy{results.ClientService: r.client, results.BackendService: r.backend}
	if r.wiring != nil {
		services = map[string]*Proxy{results.BackendService: r.backend}
		for name, p := range r.tiers {
			services[name] = p
		}
	}
	for app, p := range services {
		var ss results.ServiceSnapshot
		ss.Running, ss.Restarts = r.obs.Running(app)
		ss.Healthz = statusOf(ctx, hc, p.URL+"/healthz")
		ss.Readyz = statusOf(ctx, hc, p.URL+"/readyz")
		if app != results.BackendService {
			if b, err := fetchBody(ctx, hc, p.URL+"/api/resilience"); err != nil {
				ss.Error = err.Error()
			} else if json.Valid(b) {
				ss.Resilience = b
			}
		}
		snap.Services[app] = ss
	}
	return snap
}

var (
	_ lab.Stack  = (*Stack)(nil)
	_ lab.Tiered = (*Stack)(nil)
)
