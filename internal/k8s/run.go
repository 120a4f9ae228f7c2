package k8s

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"chaoslab/internal/experiment"
	"chaoslab/internal/lab"
	"chaoslab/internal/load"
	"chaoslab/internal/report"
	"chaoslab/internal/results"
	"chaoslab/internal/stack"
)

// EnvNamespace is the configuration key through which the Kubernetes experiments read their
// namespace; the run sets it to the cluster's.
const EnvNamespace = "CHAOSLAB_NAMESPACE"

// InconclusiveWhy says why a run whose partition was never proven proves nothing; Inconclusive
// is its verdict reason.
const (
	InconclusiveWhy = "the network plugin does not enforce NetworkPolicy"
	Inconclusive    = "inconclusive: " + InconclusiveWhy
)

// RunConfig configures one run on a cluster.
type RunConfig struct {
	Cluster          *Cluster
	Experiment       *experiment.Experiment
	ExperimentName   string
	Vars             map[string]any
	RollbackStrategy string
	RPS              float64
	LoadTimeout      time.Duration
	Warmup           time.Duration
	Recovery         time.Duration
	OutDir           string
	Label            string // results.LabelBaseline / LabelResilient in a compare run
	Objectives       map[string]float64
	LookupEnv        func(string) (string, bool)
	Stdout           io.Writer
	Logger           *slog.Logger
	Args             []string
	// VerifyTimeout bounds how long the partition may take to show in the client's
	// /api/diagnostics/backend (default 30 s: BACKEND_CONN_MAX_AGE, 5 s in deploy/k8s, retires
	// a pooled connection well within it).
	VerifyTimeout time.Duration

	compareRun string // set by Compare: the run id whose ConfigMap change the leftovers keep
}

// Outcome is a finished run: lab.Outcome, plus whether the partition was left unproven.
type Outcome struct {
	lab.Outcome
	Inconclusive bool
}

type runner struct {
	cfg      RunConfig
	c        *Cluster
	run      string
	info     results.RunInfo
	events   *results.EventLog
	rec      load.Recorder
	obs      *Observer
	client   *Proxy
	backend  *Proxy
	before   *results.Snapshot
	after    *results.Snapshot
	verifyWG sync.WaitGroup
	watchCtx context.Context // the fault watchers' lifetime: the run's, until its recovery window ends

	mu           sync.Mutex
	problems     []string
	policies     map[string]bool // NetworkPolicies of this run now in place
	unproven     bool
	inconclusive bool
}

func (r *runner) problem(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func (r *runner) say(format string, args ...any) {
	fmt.Fprintf(r.cfg.Stdout, "  "+format+"\n", args...)
	r.cfg.Logger.Info(fmt.Sprintf(format, args...))
}

// Run runs the experiment against the cluster with load and evidence, as lab.Run does on the
// local stack: the same results folder, report and verdict. It checks the prerequisites first,
// removes what killed runs left, pauses the in-cluster load generator for the run, reaches the
// services through the API server, follows the pods and their logs, proves that a partition
// took effect, and removes everything it created, also when ctx is cancelled.
func Run(ctx context.Context, cfg RunConfig) (*Outcome, error) {
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.VerifyTimeout == 0 {
		cfg.VerifyTimeout = 30 * time.Second
	}
	c := cfg.Cluster
	if err := c.Preflight(ctx); err != nil {
		return nil, err
	}
	if err := lab.MakeResultsDir(cfg.OutDir); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		f, err := os.Create(filepath.Join(cfg.OutDir, "chaoslab.log"))
		if err != nil {
			return nil, fmt.Errorf("create chaoslab.log: %w", err)
		}
		defer f.Close()
		cfg.Logger = slog.New(slog.NewTextHandler(f, nil))
	}
	r := &runner{cfg: cfg, c: c, run: NewRunID(time.Now()), policies: map[string]bool{}}
	bg := context.WithoutCancel(ctx)
	removed, err := c.removeLeftovers(ctx, cfg.compareRun)
	for _, what := range removed {
		r.say("removed a leftover of an earlier run: %s", what)
	}
	if err != nil {
		return nil, fmt.Errorf("remove the leftovers of earlier runs: %w", err)
	}
	env, err := c.ClientEnv(ctx)
	if err != nil {
		return nil, err
	}
	client, err := stack.DescribeClient(env)
	if err != nil {
		return nil, fmt.Errorf("the ConfigMap %s: %w", ConfigMapName, err)
	}
	r.info = results.RunInfo{Label: cfg.Label, Title: cfg.Experiment.Title(), Experiment: cfg.ExperimentName, Stack: "k8s",
		RPS: cfg.RPS, Recovery: results.Duration(cfg.Recovery), LoadTimeout: results.Duration(cfg.LoadTimeout), Start: time.Now().UTC(),
		Vars: cfg.Vars, ChaoslabArgs: cfg.Args, Objectives: cfg.Objectives, ClientEnv: client.Env, Resilience: client.Resilience,
		Retry: client.Retry, CBWait: results.Duration(client.CBWait), HalfOpen: client.HalfOpenCalls}
	r.info.Seed, _ = strconv.ParseInt(client.Env["RETRY_JITTER_SEED"], 10, 64)
	r.info.Warnings = lab.Warnings(lab.RunConfig{RPS: cfg.RPS, LoadTimeout: cfg.LoadTimeout, Recovery: cfg.Recovery}, client)
	return r.start(ctx, bg)
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

func (r *runner) start(ctx, bg context.Context) (*Outcome, error) {
	cfg := r.cfg
	ef, err := os.Create(filepath.Join(cfg.OutDir, results.EventsFile))
	if err != nil {
		return nil, fmt.Errorf("create the events file: %w", err)
	}
	defer ef.Close()
	r.events = results.NewEventLog(ef)
	fmt.Fprintf(cfg.Stdout, "chaoslab: %s (k8s stack: context %s, namespace %s, run %s; %g rps, resilience %s) -> %s\n",
		r.info.Title, r.c.Context, r.c.Namespace, r.run, cfg.RPS, r.info.Resilience, cfg.OutDir)
	for _, w := range r.info.Warnings {
		fmt.Fprintln(cfg.Stdout, "  warning: "+w)
	}
	r.phase("starting")

	paused, err := r.c.PauseLoad(ctx, r.run)
	if err != nil {
		return nil, err
	}
	if paused {
		r.say("paused Deployment %s (scaled to 0) for the run: only chaoslab's own load reaches the client", LoadDeployment)
		defer func() {
			if err := r.c.ResumeLoad(bg, r.run); err != nil {
				r.problem("cleanup: %v", err)
				fmt.Fprintf(cfg.Stdout, "  !! %v: chaoslab recover --stack k8s puts it back\n", err)
			}
		}()
	}
	defer r.cleanup(bg)

	if r.client, err = r.c.ServeService(ClientServiceName, ServicePort, cfg.Logger); err != nil {
		return nil, err
	}
	defer r.client.Close()
	if r.backend, err = r.c.ServeService(BackendSvcName, ServicePort, cfg.Logger); err != nil {
		return nil, err
	}
	defer r.backend.Close()
	r.say("client %s  backend %s  (through the API server's service proxy)", r.client.URL, r.backend.URL)

	logs := map[string]io.Writer{}
	for _, app := range []string{results.ClientService, results.BackendService} {
		f, err := os.Create(filepath.Join(cfg.OutDir, app+".log"))
		if err != nil {
			return nil, fmt.Errorf("create the log of %s: %w", app, err)
		}
		defer f.Close()
		logs[app] = f
	}
	obsCtx, stopObs := context.WithCancel(bg)
	r.obs = NewObserver(r.c, r.events, logs, cfg.Logger.With("component", "observer"), r.problem)
	obsDone := make(chan struct{})
	go func() {
		defer close(obsDone)
		r.obs.Run(obsCtx)
	}()
	defer func() {
		stopObs()
		<-obsDone
	}()
	if err := waitReady(ctx, r.client.URL+"/readyz", 30*time.Second); err != nil {
		return nil, fmt.Errorf("client-service through the API server: %w", err)
	}

	watchCtx, stopWatch := context.WithCancel(bg)
	r.watchCtx = watchCtx
	journal := r.drive(ctx)
	stopWatch()
	r.verifyWG.Wait()
	return r.finish(ctx, journal)
}

// drive runs the load, the warm-up, the experiment and the recovery window.
func (r *runner) drive(ctx context.Context) *experiment.Journal {
	cfg := r.cfg
	loadCtx, stopLoad := context.WithCancel(context.WithoutCancel(ctx))
	loadDone := make(chan error, 1)
	go func() {
		lc := load.Config{Target: r.client.URL + "/api/data", RPS: cfg.RPS, Timeout: cfg.LoadTimeout}
		loadDone <- load.Run(loadCtx, lc, nil, r.rec.Add)
	}()
	defer func() {
		stopLoad()
		if err := <-loadDone; err != nil {
			r.problem("load: %v", err)
		}
	}()
	stopTicker := r.ticker()
	defer stopTicker()

	r.phase("warmup")
	if !sleepFor(ctx, cfg.Warmup) {
		return nil
	}
	r.before = r.snapshot(ctx, "before")
	r.phase("experiment")
	journal := r.runExperiment(ctx)
	if ctx.Err() != nil {
		return journal
	}
	if left := r.policiesInPlace(); len(left) > 0 {
		r.problem("the rollbacks left a fault in place (NetworkPolicy %s): recovery cannot be measured", strings.Join(left, ", "))
		fmt.Fprintf(cfg.Stdout, "  !! the rollbacks left NetworkPolicy %s in place: chaoslab removes it at exit\n", strings.Join(left, ", "))
	}
	r.phase("recovery")
	sleepFor(ctx, cfg.Recovery)
	return journal
}

// ticker prints a status line every 5 seconds.
func (r *runner) ticker() (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				tot := r.rec.Counter.Totals()
				br := r.obs.Breaker()
				if r.info.Resilience == results.ResilienceOff {
					br = "off"
				}
				if br == "" {
					br = "-"
				}
				fmt.Fprintf(r.cfg.Stdout, "  %d requests, %d backend, %d fallback, %d errors | breaker %s\n", tot.Requests, tot.Backend, tot.Fallbacks, tot.Errors, br)
			}
		}
	}()
	return func() { close(done); <-finished }
}

func (r *runner) runExperiment(ctx context.Context) *experiment.Journal {
	lookup := r.cfg.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	stackEnv := map[string]string{lab.EnvClientURL: r.client.URL, lab.EnvBackendURL: r.backend.URL, EnvNamespace: r.c.Namespace}
	acts := &Activities{Client: r.c.Client, Labels: RunLabels(r.run), OnCreate: r.created, OnDelete: r.deleted, OnTerminate: r.terminated}
	opts := experiment.Options{
		Vars:             r.cfg.Vars,
		RollbackStrategy: r.cfg.RollbackStrategy,
		LookupEnv: func(k string) (string, bool) {
			if v, ok := stackEnv[k]; ok {
				return v, true
			}
			return lookup(k)
		},
		Logger:   r.cfg.Logger.With("component", "experiment"),
		Observer: r.observe,
		Native:   acts,
	}
	j, err := experiment.Run(ctx, r.cfg.Experiment, opts)
	if err != nil {
		r.problem("experiment: %v", err)
		return nil
	}
	if err := j.WriteFile(filepath.Join(r.cfg.OutDir, results.JournalFile)); err != nil {
		r.problem("write journal: %v", err)
	}
	return j
}

func (r *runner) observe(e experiment.ActivityEvent) {
	r.events.Add(results.Event{Time: e.Time, Kind: results.KindActivity, Name: e.Name, Action: e.Action, Status: e.Status, Phase: e.Phase, Error: e.Err})
	switch {
	case e.Action == "start":
		fmt.Fprintf(r.cfg.Stdout, "  %s: %s %s\n", e.Phase, e.Type, e.Name)
	case e.Status == "failed" || e.Err != "":
		fmt.Fprintf(r.cfg.Stdout, "    -> %s %s\n", orText(e.Status, "aborted"), e.Err)
	}
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// created is told of a NetworkPolicy an activity created: the fault is on, and must be proven.
func (r *runner) created(kind, ns, name string) {
	if kind != "NetworkPolicy" {
		return
	}
	r.mu.Lock()
	r.policies[name] = true
	r.mu.Unlock()
	now := time.Now()
	r.events.Add(results.Event{Time: now, Kind: results.KindFault, Action: "on", Name: "partition", Message: fmt.Sprintf("NetworkPolicy %s/%s created (run %s)", ns, name, r.run)})
	r.say("fault on: NetworkPolicy %s created; checking the client's /api/diagnostics/backend", name)
	r.verifyWG.Add(1)
	go func() {
		defer r.verifyWG.Done()
		r.verify(name, now)
	}()
}

func (r *runner) deleted(kind, ns, name string) {
	if kind != "NetworkPolicy" {
		return
	}
	r.mu.Lock()
	delete(r.policies, name)
	r.mu.Unlock()
	r.events.Add(results.Event{Time: time.Now(), Kind: results.KindFault, Action: "off", Name: "partition", Message: fmt.Sprintf("NetworkPolicy %s/%s removed", ns, name)})
	r.say("fault off: NetworkPolicy %s removed", name)
}

// terminated is told of the pods terminate_pods deleted: a crash fault, on until the
// Deployments of those pods are fully available again.
func (r *runner) terminated(ns string, pods []corev1.Pod) {
	apps := map[string]bool{}
	var names []string
	for _, p := range pods {
		names = append(names, p.Name)
		if a := p.Labels["app"]; a != "" {
			apps[a] = true
		}
	}
	now := time.Now()
	r.events.Add(results.Event{Time: now, Kind: results.KindFault, Action: "on", Name: "crash", Message: "pods deleted: " + strings.Join(names, ", ")})
	r.say("fault on: pods deleted: %s", strings.Join(names, ", "))
	r.verifyWG.Add(1)
	go func() {
		defer r.verifyWG.Done()
		a := &Activities{Client: r.c.Client}
		for app := range apps {
			// the Deployment of a pod has its app label's name in deploy/k8s
			if ok, _ := a.waitReplaced(r.watchCtx, ns, app, names, 5*time.Minute); !ok {
				r.say("!! the Deployment %s was not fully available again by the end of the run", app)
				return
			}
		}
		r.events.Add(results.Event{Time: time.Now(), Kind: results.KindFault, Action: "off", Name: "crash", Message: "replacement pods ready"})
		r.say("fault off: replacement pods ready")
	}()
}

// policiesInPlace lists the run's NetworkPolicies still in place.
func (r *runner) policiesInPlace() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for n := range r.policies {
		out = append(out, n)
	}
	return out
}

// diagnostics is the client's /api/diagnostics/backend answer.
type diagnostics struct {
	Reachable bool   `json:"reachable"`
	Error     string `json:"error"`
}

// verify polls the client's /api/diagnostics/backend (a fresh connection to the backend) until
// it says unreachable, the policy is removed, or VerifyTimeout passes: then the run is
// inconclusive, never a pass.
func (r *runner) verify(policy string, since time.Time) {
	deadline := since.Add(r.cfg.VerifyTimeout)
	hc := &http.Client{Timeout: 5 * time.Second}
	last := ""
	for time.Now().Before(deadline) {
		r.mu.Lock()
		inPlace := r.policies[policy]
		r.mu.Unlock()
		if !inPlace {
			break
		}
		d, err := getDiagnostics(hc, r.client.URL+"/api/diagnostics/backend")
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
		if !sleepFor(r.watchCtx, 500*time.Millisecond) {
			return // the run ended (interrupted) before the check could conclude
		}
	}
	r.mu.Lock()
	r.inconclusive = true
	r.mu.Unlock()
	r.problem("%s (the client still reached the backend %v after NetworkPolicy %s was created; last check: %s)", Inconclusive, r.cfg.VerifyTimeout, policy, last)
	fmt.Fprintf(r.cfg.Stdout, "  !! %s: the client still reached the backend %v after NetworkPolicy %s was created\n", Inconclusive, r.cfg.VerifyTimeout, policy)
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

func (r *runner) phase(p string) {
	r.events.Add(results.Event{Time: time.Now(), Kind: results.KindPhase, Phase: p})
	r.cfg.Logger.Info("phase", "phase", p)
}

// snapshot observes both services through the API server, like observe-system.sh.
func (r *runner) snapshot(ctx context.Context, moment string) *results.Snapshot {
	ctx = context.WithoutCancel(ctx)
	snap := &results.Snapshot{Time: time.Now().UTC(), Moment: moment, Services: map[string]results.ServiceSnapshot{}}
	hc := &http.Client{Timeout: 5 * time.Second}
	for app, p := range map[string]*Proxy{results.ClientService: r.client, results.BackendService: r.backend} {
		var ss results.ServiceSnapshot
		ss.Running, ss.Restarts = r.obs.Running(app)
		ss.Healthz = statusOf(ctx, hc, p.URL+"/healthz")
		ss.Readyz = statusOf(ctx, hc, p.URL+"/readyz")
		if app == results.ClientService {
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

func statusOf(ctx context.Context, hc *http.Client, url string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func fetchBody(ctx context.Context, hc *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d %v", url, resp.StatusCode, err)
	}
	return b, nil
}

// cleanup removes what the run created that is still there (its rollbacks should have).
func (r *runner) cleanup(ctx context.Context) {
	removed, err := r.c.RemoveRunObjects(ctx, r.run)
	for _, what := range removed {
		r.say("removed %s: the experiment's rollbacks had left it", what)
		r.deleted("NetworkPolicy", r.c.Namespace, strings.TrimPrefix(strings.Fields(what)[1], r.c.Namespace+"/"))
	}
	if err != nil {
		r.problem("cleanup: %v", err)
		fmt.Fprintf(r.cfg.Stdout, "  !! cleanup: %v: run chaoslab recover --stack k8s\n", err)
	}
}

// finish writes the results folder once, judges the run and renders the report.
func (r *runner) finish(ctx context.Context, j *experiment.Journal) (*Outcome, error) {
	bg := context.WithoutCancel(ctx)
	r.phase("done")
	r.after = r.snapshot(bg, "after")
	r.cleanup(bg)
	if err := r.events.Err(); err != nil {
		r.problem("events: %v", err)
	}
	if ctx.Err() != nil {
		r.info.Interrupted = true
		if j == nil {
			r.problem("interrupted before the experiment started")
		}
	}
	if j != nil {
		r.info.Status, r.info.Deviated = j.Status, j.Deviated
	}
	r.info.End = time.Now().UTC()
	r.mu.Lock()
	r.info.Problems = append([]string(nil), r.problems...)
	inconclusive := r.inconclusive
	r.mu.Unlock()
	run := &results.Run{Dir: r.cfg.OutDir, Info: r.info, Records: r.rec.Records(), Events: r.events.Events(), Before: r.before, After: r.after}
	run.Sort()
	run.JoinAttempts()
	if err := run.Write(r.cfg.OutDir); err != nil {
		return nil, fmt.Errorf("write the results: %w", err)
	}
	a := report.Analyze(run, j)
	fmt.Fprintln(r.cfg.Stdout)
	report.WriteSummary(r.cfg.Stdout, a)
	out := &Outcome{Outcome: lab.Outcome{Dir: r.cfg.OutDir, Analysis: a}, Inconclusive: inconclusive}
	if r.cfg.Label == "" {
		if err := report.RenderAnalysis(r.cfg.OutDir, a); err != nil {
			return out, fmt.Errorf("render the report: %w", err)
		}
	}
	return out, nil
}

// waitReady polls url until it answers 200 or timeout passes.
func waitReady(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{Timeout: 5 * time.Second}
	for {
		if statusOf(ctx, hc, url) == http.StatusOK {
			return nil
		}
		if !sleepFor(ctx, 500*time.Millisecond) {
			return fmt.Errorf("%s did not answer 200 within %v", url, timeout)
		}
	}
}

// sleepFor waits d or until ctx is done; it reports whether the whole wait passed.
func sleepFor(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
