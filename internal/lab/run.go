package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/experiment"
	"chaoslab/internal/live"
	"chaoslab/internal/load"
	"chaoslab/internal/report"
	"chaoslab/internal/results"
	"chaoslab/internal/stack"
	"chaoslab/internal/wait"
)

// Configuration keys through which an experiment reads the stack's addresses (from the
// environment, as under the real `chaos run`); the lab sets them to the stack it started.
const (
	EnvClientURL    = "CHAOSLAB_CLIENT_URL"
	EnvBackendURL   = "CHAOSLAB_BACKEND_URL"
	EnvToxiproxyURL = "CHAOSLAB_TOXIPROXY_URL"
)

// RunConfig configures one lab run.
type RunConfig struct {
	Stack            Stack // where the run happens: Processes{Kind: "local"}, the k8s stack, ...
	Experiment       *experiment.Experiment
	ExperimentName   string // its path, or "built-in"
	Vars             map[string]any
	RollbackStrategy string        // "" = always
	RPS              float64       // load arrivals per second
	LoadTimeout      time.Duration // per load request
	Warmup           time.Duration // load before the experiment starts, so "before" has numbers
	Recovery         time.Duration // load after the rollbacks, to see the recovery
	OutDir           string        // the results folder to create
	Label            string        // a compare run's profile label (results.LabelBaseline, LabelResilient, LabelAdaptive); "" otherwise
	ClientEnv        map[string]string
	Objectives       map[string]float64          // the bounds the run is judged against (report.ParseObjectives)
	Live             *live.Hub                   // the live page's feed; nil = no page
	LookupEnv        func(string) (string, bool) // the environment the experiment sees (nil = os.LookupEnv)
	Stdout           io.Writer
	Logger           *slog.Logger
	Args             []string // the command line, recorded in run.json
	// GoodputStuckFor and GoodputBackHold replace the goodput's windows of the analysis when
	// above 0 (results.RunInfo records them); 0: the report's defaults.
	GoodputStuckFor, GoodputBackHold time.Duration
	// Traces: whether the load sends a traceparent and the services' spans are received and
	// kept (spans.jsonl); the zero value is off.
	Traces TraceConfig
}

// Outcome is how a run ended: its analysis, whose Verdict is the one judgement of the run.
type Outcome struct {
	Dir      string
	Analysis *report.Analysis
}

// Passed says whether the run is a success (report.Judge: experiment completed, steady state
// held before and after, the system recovered, nothing went wrong in the lab).
func (o *Outcome) Passed() bool { return o.Analysis != nil && o.Analysis.Verdict.Passed }

// Failure says why the run failed, for a person ("" when it passed).
func (o *Outcome) Failure() string {
	if o.Analysis == nil {
		return "no analysis"
	}
	return o.Analysis.Verdict.Reason()
}

// expectedDuration estimates how long a run takes, for the status line, from the catalogue's
// parameters (30 s of fault when the experiment has none of them).
func (cfg *RunConfig) expectedDuration() time.Duration {
	conf := experiment.Configuration(cfg.Experiment, func(string) (string, bool) { return "", false }, cfg.Vars)
	num := func(k string) float64 {
		switch v := conf[k].(type) {
		case int64:
			return float64(v)
		case int:
			return float64(v)
		case float64:
			return v
		}
		return 0
	}
	fault := num("partition_duration") + num("fault_duration") + num("restart_after") + num("cycles")*(num("on_seconds")+num("off_seconds"))
	if fault == 0 {
		fault = 30
	}
	return cfg.Warmup + cfg.Recovery + 5*time.Second + time.Duration(fault*float64(time.Second))
}

// Run starts the stack, the load and the experiment, keeps the load through the recovery window,
// judges the run, writes the results folder and renders the report. It returns an error only
// when it could not run at all (bad output folder, a stack that did not start); a run that
// happened but failed is an Outcome whose verdict says why.
func Run(ctx context.Context, cfg RunConfig) (*Outcome, error) {
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Stack == nil {
		return nil, errors.New("lab.Run: no stack")
	}
	clientEnv, err := cfg.Stack.Prepare(ctx, cfg.ClientEnv)
	if err != nil {
		return nil, err
	}
	if err := MakeResultsDir(cfg.OutDir); err != nil {
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
	topo, entryEnv := graphOf(cfg.Stack, clientEnv)
	client, err := stack.DescribeClient(entryEnv)
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, clientEnv: clientEnv, info: results.RunInfo{Label: cfg.Label, Title: cfg.Experiment.Title(), Experiment: cfg.ExperimentName,
		Stack: cfg.Stack.Name(), RPS: cfg.RPS, Recovery: results.Duration(cfg.Recovery), LoadTimeout: results.Duration(cfg.LoadTimeout),
		Start: time.Now().UTC(), Vars: cfg.Vars, ChaoslabArgs: cfg.Args, Objectives: cfg.Objectives,
		ClientEnv: client.Env, Resilience: client.Resilience, Retry: client.Retry, CBWait: results.Duration(client.CBWait), HalfOpen: client.HalfOpenCalls,
		Topology: topo, GoodputStuckFor: results.Duration(cfg.GoodputStuckFor), GoodputBackHold: results.Duration(cfg.GoodputBackHold)}}
	r.info.Seed, _ = strconv.ParseInt(client.Env["RETRY_JITTER_SEED"], 10, 64)
	r.info.Warnings = Warnings(cfg, client)
	return r.run(ctx)
}

// Warnings says which settings weaken the evidence of a run, before it starts.
func Warnings(cfg RunConfig, client stack.ClientSettings) []string {
	var ws []string
	if cfg.LoadTimeout <= client.RequestTimeout {
		ws = append(ws, fmt.Sprintf("--load-timeout %v is not longer than the client's REQUEST_TIMEOUT %v: the load cuts requests the client is still working on and counts them as errors",
			cfg.LoadTimeout, client.RequestTimeout))
	}
	if results.HasBreaker(client.Resilience) && cfg.RPS > 0 {
		trials := time.Duration(float64(client.HalfOpenCalls) / cfg.RPS * float64(time.Second))
		if need := client.CBWait + trials; cfg.Recovery < need {
			ws = append(ws, fmt.Sprintf("--recovery %v is shorter than the breaker needs to close after the heal (CB_WAIT_DURATION %v + %d trial calls at %g rps = %v): the run may end before it recovers",
				cfg.Recovery, client.CBWait, client.HalfOpenCalls, cfg.RPS, need))
		}
	}
	return ws
}

type runner struct {
	cfg       RunConfig
	clientEnv map[string]string // the client's variables in force (Stack.Prepare)
	info      results.RunInfo
	events    *results.EventLog
	stack     Running
	endpoints Endpoints
	rec       load.Recorder
	status    *status
	before    *results.Snapshot
	after     *results.Snapshot
	capacity  *sampler // the backend's capacity model, read about once a second; nil when it has none
	traces    *tracePlan

	mu       sync.Mutex // guards problems: the service watcher and the run add to it
	problems []string
}

// problem records something that went wrong in the lab; every problem fails the run.
func (r *runner) problem(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

func (r *runner) takeProblems() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.problems...)
}

func (r *runner) run(ctx context.Context) (*Outcome, error) {
	ef, err := os.Create(filepath.Join(r.cfg.OutDir, results.EventsFile))
	if err != nil {
		return nil, fmt.Errorf("create the events file: %w", err)
	}
	defer ef.Close()
	r.events = results.NewEventLog(ef)
	if h := r.cfg.Live; h != nil {
		r.events.Observe(h.Event)
		h.Info(r.info)
	}

	fmt.Fprintf(r.cfg.Stdout, "chaoslab: %s (%s stack, %g rps, resilience %s) -> %s\n", r.info.Title, r.info.Stack, r.cfg.RPS, r.info.Resilience, r.cfg.OutDir)
	for _, w := range r.info.Warnings {
		fmt.Fprintln(r.cfg.Stdout, "  warning: "+w)
	}
	r.phase("starting")
	if r.traces, err = planTraces(r.cfg); err != nil {
		return nil, err
	}
	defer r.traces.close()
	r.info.Traces = r.traces.info
	st, err := r.cfg.Stack.Start(ctx, StartEnv{Dir: r.cfg.OutDir, ClientEnv: r.clientEnv, Events: r.events, Logger: r.cfg.Logger,
		Say: r.say, Problem: r.problem, ServiceEnv: r.traces.serviceEnv()})
	if err != nil {
		return nil, err
	}
	r.stack, r.endpoints = st, st.Endpoints()
	var onCapacity func(results.CapacitySample)
	if h := r.cfg.Live; h != nil {
		onCapacity = h.Capacity
	}
	r.capacity = startSampler(ctx, r.endpoints.Backend, r.cfg.Logger, onCapacity)
	closed := false
	defer func() {
		if !closed {
			st.Close(context.WithoutCancel(ctx))
		}
	}()
	if d := r.endpoints.Detail; d != "" {
		fmt.Fprintln(r.cfg.Stdout, "  "+d)
	} else {
		fmt.Fprintf(r.cfg.Stdout, "  client %s  backend %s  fault API %s\n", r.endpoints.Client, r.endpoints.Backend, r.endpoints.Faults)
	}
	if line := r.traces.startLine(); line != "" {
		fmt.Fprintln(r.cfg.Stdout, "  "+line)
	}

	r.status = startStatus(r.cfg.Stdout, r.cfg.expectedDuration(), &r.rec.Counter, st.Breaker)
	journal := r.drive(ctx)
	r.status.close()

	closed = true
	return r.finish(ctx, journal)
}

// say prints a line for the user without garbling the status line.
func (r *runner) say(msg string) {
	if r.status != nil {
		r.status.printf("  %s", msg)
		return
	}
	fmt.Fprintln(r.cfg.Stdout, "  "+msg)
}

// drive runs load, warm-up, experiment and recovery; it returns the journal (nil if the
// experiment never started).
func (r *runner) drive(ctx context.Context) *experiment.Journal {
	// A service that dies fails the run and stops the experiment (its rollbacks still run).
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	go func() {
		select {
		case x := <-r.stack.Died():
			r.problem("%s exited during the run (%s): pods should remain running", x.Service, x.How)
			r.status.printf("!! %s exited during the run (%s)", x.Service, x.How)
			cancelRun()
		case <-runCtx.Done():
		}
	}()

	loadCtx, stopLoad := context.WithCancel(context.WithoutCancel(ctx))
	loadDone := make(chan error, 1)
	go func() {
		lc := load.Config{Target: r.endpoints.Client + "/api/data", RPS: r.cfg.RPS, Timeout: r.cfg.LoadTimeout, TraceSample: r.traces.sample}
		onRecord := r.rec.Add
		if h := r.cfg.Live; h != nil {
			onRecord = func(rec results.Record) { r.rec.Add(rec); h.Record(rec) }
		}
		hc, err := EntryClient(r.endpoints.Entries) // a topology's entries share the load; nil: Client alone
		if err != nil {
			loadDone <- err
			return
		}
		loadDone <- load.Run(loadCtx, lc, hc, TagEntry(r.endpoints.Entries, onRecord))
	}()
	defer func() {
		stopLoad()
		if err := <-loadDone; err != nil {
			r.problem("load: %v", err)
		}
	}()

	r.phase("warmup")
	if !wait.For(runCtx, r.cfg.Warmup) {
		return nil
	}
	r.before = r.snapshot(ctx, "before")
	r.phase("experiment")
	started := time.Now()
	r.reportExperiment(ctx, started, true, nil)
	journal := r.runExperiment(runCtx)
	r.reportExperiment(context.WithoutCancel(ctx), started, false, journal)
	if runCtx.Err() != nil {
		return journal
	}
	if on, detail := r.stack.FaultLeft(); on {
		r.problem("the rollbacks left a fault in place (%s): recovery cannot be measured", detail)
		r.status.printf("!! the rollbacks left a fault in place (%s): recovery cannot be measured; chaoslab removes it at exit", detail)
	}
	r.phase("recovery")
	wait.For(runCtx, r.cfg.Recovery)
	return journal
}

func (r *runner) runExperiment(ctx context.Context) *experiment.Journal {
	lookup := r.cfg.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	stackEnv := r.endpoints.env()
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
		Native:   r.stack.Native(),
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
	if e.Action == "start" {
		r.status.printf("  %s: %s %s", e.Phase, e.Type, e.Name)
	}
}

func (r *runner) phase(p string) {
	r.events.Add(results.Event{Time: time.Now(), Kind: results.KindPhase, Phase: p})
	r.cfg.Logger.Info("phase", "phase", p)
	if r.status != nil {
		r.status.setPhase(p)
	}
}

func (r *runner) snapshot(ctx context.Context, moment string) *results.Snapshot {
	snap := r.stack.Snapshot(context.WithoutCancel(ctx), moment)
	return &snap
}

// finish stops everything, judges the run from memory, writes the results folder once and
// renders the report.
func (r *runner) finish(ctx context.Context, j *experiment.Journal) (*Outcome, error) {
	bg := context.WithoutCancel(ctx)
	r.phase("done")
	capacity := r.capacity.finish(bg)
	r.after = r.snapshot(bg, "after")
	if err := r.stack.Close(bg); err != nil {
		r.problem("cleanup: %v", err)
	}
	spans, err := r.traces.finish(bg) // the services have stopped: their spans are in
	if err != nil {
		r.problem("%v", err)
	}
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
	r.info.Problems = r.takeProblems()
	run := &results.Run{Dir: r.cfg.OutDir, Info: r.info, Records: r.rec.Records(), Events: r.events.Events(), Before: r.before, After: r.after,
		Capacity: capacity, Spans: spans}
	run.Sort()
	run.JoinAttempts()
	if err := run.Write(r.cfg.OutDir); err != nil {
		return nil, fmt.Errorf("write the results: %w", err)
	}
	a := report.Analyze(run, j)
	if line := r.traces.endLine(spans); line != "" {
		fmt.Fprintln(r.cfg.Stdout, "  "+line)
	}
	fmt.Fprintln(r.cfg.Stdout)
	report.WriteSummary(r.cfg.Stdout, a)
	out := &Outcome{Dir: r.cfg.OutDir, Analysis: a}
	if r.cfg.Label == "" { // a compare run renders one report for both at the end
		if err := report.RenderAnalysis(r.cfg.OutDir, a); err != nil {
			return out, fmt.Errorf("render the report: %w", err)
		}
	}
	if h := r.cfg.Live; h != nil {
		h.Done(filepath.Join(r.cfg.OutDir, results.ReportHTML), a.Verdict.Text())
	}
	return out, nil
}

// MakeResultsDir creates dir; an existing non-empty folder is refused (a usage error) so no
// results are lost.
func MakeResultsDir(dir string) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return cmdutil.Usagef("results folder %s already exists and is not empty: choose another --out", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create the results folder: %w", err)
	}
	return nil
}
