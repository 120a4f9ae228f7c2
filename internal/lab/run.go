package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"chaoslab/internal/experiment"
	"chaoslab/internal/load"
	"chaoslab/internal/report"
	"chaoslab/internal/results"
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
	Stack            string // local | netns
	Experiment       *experiment.Experiment
	ExperimentName   string // its path, or "built-in"
	Vars             map[string]any
	RollbackStrategy string        // "" = always
	RPS              float64       // load arrivals per second
	LoadTimeout      time.Duration // per load request
	Warmup           time.Duration // load before the experiment starts, so "before" has numbers
	Recovery         time.Duration // load after the rollbacks, to see the recovery
	OutDir           string        // the results folder to create
	Label            string        // results.LabelBaseline / LabelResilient in a compare run
	ClientEnv        map[string]string
	Serve            ServeCommand
	LookupEnv        func(string) (string, bool) // the environment the experiment sees (nil = os.LookupEnv)
	Stdout           io.Writer
	Logger           *slog.Logger
	Args             []string // the command line, recorded in run.json
}

// Outcome is how a run ended.
type Outcome struct {
	Dir      string
	Status   string // the journal's status
	Deviated bool
	Failure  string // why the run failed ("" when it passed)
	Analysis *report.Analysis
}

// Passed says whether the run is a success: experiment completed, steady state held before and
// after, the system recovered, no service died.
func (o *Outcome) Passed() bool { return o.Failure == "" }

// ExpectedDuration estimates how long a run takes, for the status line.
func (cfg *RunConfig) expectedDuration() time.Duration {
	d := cfg.Warmup + cfg.Recovery + 5*time.Second
	switch v := cfg.Vars["partition_duration"].(type) {
	case int64:
		return d + time.Duration(v)*time.Second
	case float64:
		return d + time.Duration(v*float64(time.Second))
	}
	return d + 30*time.Second
}

// Run starts the stack, the load and the experiment, keeps the load through the recovery window,
// writes the results folder and renders the report. It returns an error only when it could not
// run at all (bad output folder, a stack that did not start); a run that happened but failed is
// an Outcome whose Failure says why.
func Run(ctx context.Context, cfg RunConfig) (*Outcome, error) {
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if err := makeResultsDir(cfg.OutDir); err != nil {
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
	r := &runner{cfg: cfg, info: results.RunInfo{Label: cfg.Label, Title: cfg.Experiment.Title(), Experiment: cfg.ExperimentName,
		Stack: cfg.Stack, RPS: cfg.RPS, Recovery: cfg.Recovery.String(), Start: time.Now().UTC(), Vars: cfg.Vars, ChaoslabArgs: cfg.Args}}
	return r.run(ctx)
}

type runner struct {
	cfg      RunConfig
	info     results.RunInfo
	events   *results.EventLog
	stack    *Stack
	rec      load.Recorder
	status   *status
	failures []string
}

func (r *runner) fail(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *runner) run(ctx context.Context) (*Outcome, error) {
	ef, err := os.Create(filepath.Join(r.cfg.OutDir, results.EventsFile))
	if err != nil {
		return nil, fmt.Errorf("create the events file: %w", err)
	}
	defer ef.Close()
	r.events = results.NewEventLog(ef)
	r.info.ClientEnv, r.info.Resilience, r.info.Retry, r.info.CBWait = describeClient(r.cfg.ClientEnv)
	r.info.Seed, _ = strconv.ParseInt(r.info.ClientEnv["RETRY_JITTER_SEED"], 10, 64)

	fmt.Fprintf(r.cfg.Stdout, "chaoslab: %s (%s stack, %g rps, resilience %s) -> %s\n", r.info.Title, r.cfg.Stack, r.cfg.RPS, r.info.Resilience, r.cfg.OutDir)
	r.phase("starting")
	stack, err := StartStack(ctx, StackConfig{Kind: r.cfg.Stack, Dir: r.cfg.OutDir, ClientEnv: r.cfg.ClientEnv, Serve: r.cfg.Serve, Events: r.events, Logger: r.cfg.Logger,
		Notify: func(m string) { fmt.Fprintln(r.cfg.Stdout, "  "+m) }})
	if err != nil {
		return nil, fmt.Errorf("start the %s stack: %w (logs in %s)", r.cfg.Stack, err, r.cfg.OutDir)
	}
	r.stack = stack
	defer stack.Close(context.WithoutCancel(ctx))
	fmt.Fprintf(r.cfg.Stdout, "  client %s  backend %s  fault API %s\n", stack.ClientURL, stack.BackendURL, stack.FaultURL)

	r.status = startStatus(r.cfg.Stdout, r.cfg.expectedDuration(), &r.rec.Counter, stack.Breaker)
	journal := r.drive(ctx)
	r.status.close()

	return r.finish(ctx, journal)
}

// drive runs load, warm-up, experiment and recovery; it returns the journal (nil if the
// experiment never started).
func (r *runner) drive(ctx context.Context) *experiment.Journal {
	// A service that dies fails the run and stops the experiment (its rollbacks still run).
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	go func() {
		select {
		case c := <-r.stack.Died():
			r.fail("%s exited during the run (%s): pods should remain running", c.name, describeExit(c.exitErr))
			r.status.printf("!! %s exited during the run (%s)", c.name, describeExit(c.exitErr))
			cancelRun()
		case <-runCtx.Done():
		}
	}()

	loadCtx, stopLoad := context.WithCancel(context.WithoutCancel(ctx))
	loadDone := make(chan error, 1)
	go func() {
		lc := load.Config{Target: r.stack.ClientURL + "/api/data", RPS: r.cfg.RPS, Timeout: r.cfg.LoadTimeout}
		loadDone <- load.Run(loadCtx, lc, nil, r.rec.Add)
	}()
	defer func() {
		stopLoad()
		if err := <-loadDone; err != nil {
			r.fail("load: %v", err)
		}
	}()

	r.phase("warmup")
	if !sleepCtx(runCtx, r.cfg.Warmup) {
		return nil
	}
	r.snapshot(ctx, "before")
	r.phase("experiment")
	journal := r.runExperiment(runCtx)
	if runCtx.Err() != nil {
		return journal
	}
	if on, detail := r.stack.FaultActive(); on {
		r.status.printf("!! the rollbacks left a fault in place (%s): recovery cannot be measured; chaoslab removes it at exit", detail)
	}
	r.phase("recovery")
	sleepCtx(runCtx, r.cfg.Recovery)
	return journal
}

func (r *runner) runExperiment(ctx context.Context) *experiment.Journal {
	lookup := r.cfg.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	stackEnv := map[string]string{EnvClientURL: r.stack.ClientURL, EnvBackendURL: r.stack.BackendURL, EnvToxiproxyURL: r.stack.FaultURL}
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
	}
	j, err := experiment.Run(ctx, r.cfg.Experiment, opts)
	if err != nil {
		r.fail("experiment: %v", err)
		return nil
	}
	if err := j.WriteFile(filepath.Join(r.cfg.OutDir, results.JournalFile)); err != nil {
		r.fail("write journal: %v", err)
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
	if r.status != nil {
		r.status.setPhase(p)
	}
}

func (r *runner) snapshot(ctx context.Context, moment string) {
	snap := r.stack.Snapshot(context.WithoutCancel(ctx), moment)
	dir := filepath.Join(r.cfg.OutDir, results.ObservationsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		r.fail("observations: %v", err)
		return
	}
	if err := results.WriteJSONFile(filepath.Join(dir, moment+".json"), snap); err != nil {
		r.fail("observations: %v", err)
	}
}

// finish stops everything, writes the results and judges the run.
func (r *runner) finish(ctx context.Context, j *experiment.Journal) (*Outcome, error) {
	bg := context.WithoutCancel(ctx)
	r.phase("done")
	r.snapshot(bg, "after")
	if err := r.stack.Close(bg); err != nil {
		r.fail("cleanup: %v", err)
	}
	if err := writeRequests(filepath.Join(r.cfg.OutDir, results.RequestsFile), r.rec.Records()); err != nil {
		r.fail("%v", err)
	}
	if err := r.events.Err(); err != nil {
		r.fail("events: %v", err)
	}
	out := &Outcome{Dir: r.cfg.OutDir}
	r.judgeJournal(ctx, j, out)
	// run.json first: the analysis reads the configured schedule from it.
	if err := r.writeInfo(out); err != nil {
		return out, err
	}
	a, err := report.Analyze(r.cfg.OutDir)
	if err != nil {
		r.fail("analysis: %v", err)
	} else {
		out.Analysis = a
		fmt.Fprintln(r.cfg.Stdout)
		report.WriteSummary(r.cfg.Stdout, a)
		if j != nil && !a.Recovered && ctx.Err() == nil {
			r.fail("the system did not recover after the heal (breaker %s at the end)", a.FinalBreaker)
		}
	}
	if err := r.writeInfo(out); err != nil {
		return out, err
	}
	if r.cfg.Label == "" { // a compare run renders one report for both at the end
		if err := report.Render(r.cfg.OutDir); err != nil {
			return out, fmt.Errorf("render the report: %w", err)
		}
	}
	return out, nil
}

func (r *runner) writeInfo(out *Outcome) error {
	out.Failure = strings.Join(r.failures, "; ")
	r.info.End, r.info.Status, r.info.Deviated, r.info.Failure = time.Now().UTC(), out.Status, out.Deviated, out.Failure
	r.info.ExitCode = 0
	if out.Failure != "" {
		r.info.ExitCode = 1
	}
	return results.WriteJSONFile(filepath.Join(r.cfg.OutDir, results.RunFile), r.info)
}

func (r *runner) judgeJournal(ctx context.Context, j *experiment.Journal, out *Outcome) {
	if j == nil {
		if ctx.Err() != nil {
			r.fail("interrupted before the experiment started")
		}
		return
	}
	out.Status, out.Deviated = j.Status, j.Deviated
	switch {
	case ctx.Err() != nil || j.Status == "interrupted":
		r.fail("interrupted: the rollbacks ran, journal status %s", j.Status)
	case j.Status != "completed":
		r.fail("the experiment ended with status %s", j.Status)
	case !hypothesisBeforeMet(j):
		r.fail("the steady state was not met before the fault, so the method was skipped")
	case j.Deviated:
		r.fail("the steady state did not hold after the fault (deviated)")
	}
}

// hypothesisBeforeMet reads steady_states.before.steady_state_met from the journal (true when
// the experiment has no hypothesis).
func hypothesisBeforeMet(j *experiment.Journal) bool {
	b, err := json.Marshal(j)
	if err != nil {
		return false
	}
	var doc struct {
		SteadyStates struct {
			Before *struct {
				Met *bool `json:"steady_state_met"`
			} `json:"before"`
		} `json:"steady_states"`
	}
	if json.Unmarshal(b, &doc) != nil {
		return false
	}
	return doc.SteadyStates.Before == nil || doc.SteadyStates.Before.Met == nil || *doc.SteadyStates.Before.Met
}

func writeRequests(path string, recs []results.Record) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := results.WriteRequests(f, recs); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// makeResultsDir creates dir; an existing non-empty folder is refused so no results are lost.
func makeResultsDir(dir string) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("results folder %s already exists and is not empty: choose another --out", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create the results folder: %w", err)
	}
	return nil
}

// sleepCtx waits d or until ctx is done; it reports whether the whole wait passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
