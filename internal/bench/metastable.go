package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"chaoslab/chaos"
	"chaoslab/internal/experiment"
	"chaoslab/internal/lab"
	"chaoslab/internal/load"
	"chaoslab/internal/report"
	"chaoslab/internal/results"
	"chaoslab/internal/stack"
	"chaoslab/internal/topology"
)

// Metastable is the catalogue entry a sweep runs: steady load on a backend of finite capacity,
// a trigger (the backend service_time_factor times slower for fault_duration seconds), then a
// watch of watch_duration seconds.
const Metastable = "metastable"

// Trigger is one trigger of the metastable experiment.
type Trigger struct {
	Factor   float64       // service_time_factor: the backend's service time is multiplied by it
	Duration time.Duration // fault_duration: how long, whole seconds
}

// String names the trigger for a person: "4x for 10s".
func (t Trigger) String() string {
	return fmt.Sprintf("%sx for %s", strconv.FormatFloat(t.Factor, 'f', -1, 64), t.Duration)
}

// dir is the trigger's folder name: "x4-10s".
func (t Trigger) dir() string {
	return "x" + strconv.FormatFloat(t.Factor, 'f', -1, 64) + "-" + t.Duration.String()
}

// Triggers is the sweep's axis: every factor with every duration, ordered by factor, then by
// duration (the order of the table and the plot, and "smallest" for the tipping point).
func Triggers(factors []float64, durations []time.Duration) []Trigger {
	var ts []Trigger
	for _, f := range slices.Sorted(slices.Values(factors)) {
		for _, d := range slices.Sorted(slices.Values(durations)) {
			ts = append(ts, Trigger{Factor: f, Duration: d})
		}
	}
	return ts
}

// SweepProfile is a resilience profile of a sweep: RESILIENCE, with deadline propagation on
// (the default) or off.
type SweepProfile struct {
	Resilience string // RESILIENCE
	NoDeadline bool   // DEADLINE_PROPAGATION=off
}

// noDeadline is the suffix of a profile without deadline propagation: "retry:nodeadline".
const noDeadline = ":nodeadline"

// String is the profile as --profiles names it: "retry" or "retry:nodeadline".
func (p SweepProfile) String() string {
	if p.NoDeadline {
		return p.Resilience + noDeadline
	}
	return p.Resilience
}

// dir is the profile's folder name: "retry" or "retry-nodeadline".
func (p SweepProfile) dir() string { return strings.ReplaceAll(p.String(), ":", "-") }

// ParseSweepProfiles reads a comma-separated list of profiles: each a RESILIENCE value (off,
// on, adaptive, retry), optionally with ":nodeadline"; none twice.
func ParseSweepProfiles(s string) ([]SweepProfile, error) {
	allowed := []string{results.ResilienceOff, results.ResilienceOn, results.ResilienceAdaptive, results.ResilienceRetry}
	var ps []SweepProfile
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		p := SweepProfile{Resilience: strings.TrimSuffix(name, noDeadline), NoDeadline: strings.HasSuffix(name, noDeadline)}
		if !slices.Contains(allowed, p.Resilience) {
			return nil, fmt.Errorf("%q is not a profile: use %s, each optionally with %s (e.g. retry%s)", name, strings.Join(allowed, ", "), noDeadline, noDeadline)
		}
		if slices.Contains(ps, p) {
			return nil, fmt.Errorf("%s is listed twice", p)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// SweepConfig configures a sweep of the metastable experiment.
type SweepConfig struct {
	Triggers  []Trigger      // the trigger axis, in order (Triggers)
	Profiles  []SweepProfile // in the table's order
	Seeds     int            // runs per cell, seeds FirstSeed, FirstSeed+1, ...
	FirstSeed int64          // each run's RETRY_JITTER_SEED and BACKEND_SEED
	RPS       float64        // the open-loop load
	Warmup    time.Duration  // load before the experiment: the goodput's level before the trigger
	Watch     time.Duration  // watch_duration: the load after the trigger's end, whole seconds
	Recovery  time.Duration  // load after the rollbacks
	// StuckFor and BackHold are the goodput's windows (0: the report's, 30 s and 5 s); each
	// run records them, so its own analysis judges stuck and back with them.
	StuckFor, BackHold time.Duration
	Parallel           int               // runs at once, each its own local stack on its own ports
	OutDir             string            // each run's results folder goes under it
	ClientEnv          map[string]string // pipeline variables for every profile (the sweep sets RESILIENCE, DEADLINE_PROPAGATION and RETRY_JITTER_SEED)
	Serve              stack.ServeCommand
	LookupEnv          func(string) (string, bool)
	// OnRun is called after each run with the runs done so far; OnTrigger once every run of a
	// trigger is done, with its cells, in the triggers' order. Both from one goroutine.
	OnRun     func(done int, r SweepRun)
	OnTrigger func(cells []Cell)
}

// Total is the number of runs the sweep makes.
func (c SweepConfig) Total() int { return len(c.Triggers) * len(c.Profiles) * c.Seeds }

// SweepRun is one run of a sweep and what its own analysis (its summary.json) says.
type SweepRun struct {
	Trigger Trigger
	Profile SweepProfile
	Seed    int64
	Dir     string        // its results folder, relative to the sweep's OutDir
	Elapsed time.Duration // how long the run took

	Failed  string // the lab could not run it (a stack that did not start): nothing measured; "" when it ran
	skipped bool   // never started: the sweep was stopped first
	index   int    // its place in the plan

	// Measured: the analysis judged stuck (summary.json goodput.stuck is true or false) and the
	// lab saw no problem in the run. NotMeasured says why not, for a run that ran.
	Measured    bool
	NotMeasured string
	Stuck       bool           // goodput.stuck
	BackTo95    *time.Duration // goodput.back_to_95_ms; nil: never back within the run (or not measured)
	BeforePerS  *float64       // goodput.before_per_s: the level before the trigger
	// CallsAfter is the backend layer's calls per user request offered after the trigger's end
	// (layers[backend].after.per_request); AnsweredAfter the share of those requests answered
	// 200, by the backend or a fallback (phases.after.answered_200). nil: not known.
	CallsAfter, AnsweredAfter *float64
}

// sweepRunOf reads one run's figures from its summary (report.NewSummary of its analysis, the
// same value as its summary.json).
func sweepRunOf(r SweepRun, s report.Summary) SweepRun {
	g := s.Goodput
	switch {
	case s.Journal.Interrupted:
		r.NotMeasured = "interrupted"
	case len(s.Journal.Problems) > 0:
		r.NotMeasured = "the lab saw a problem: " + strings.Join(s.Journal.Problems, "; ")
	case g == nil:
		r.NotMeasured = "no goodput in the summary (the backend ran without its capacity model)"
	case g.Stuck == nil:
		r.NotMeasured = g.NotMeasured
	default:
		r.Measured, r.Stuck, r.BeforePerS = true, *g.Stuck, g.BeforePerS
		if g.BackTo95MS != nil {
			d := results.FromMS(*g.BackTo95MS)
			r.BackTo95 = &d
		}
		if n := len(s.Layers); n > 0 {
			r.CallsAfter = s.Layers[n-1].After.PerRequest
		}
		r.AnsweredAfter = s.Phases.After.Answered200
	}
	return r
}

// Sweep is a sweep's outcome: every run in the order they were planned, and the cells.
type Sweep struct {
	Config SweepConfig
	Runs   []SweepRun // those that ran or failed; a sweep cut short has fewer than Config.Total()
	Cells  []Cell     // one per trigger and profile, triggers first, in the config's order
	Start  time.Time  // when the sweep started
	End    time.Time  // when its last run ended
}

// job is one run to make.
type job struct {
	i       int
	trigger Trigger
	profile SweepProfile
	seed    int64
}

// plan lists the runs trigger by trigger; within a trigger, seed by seed, each seed's profiles
// one after the other, so that the profiles of a trigger meet the same moments of the machine.
func plan(cfg SweepConfig) []job {
	var jobs []job
	for _, t := range cfg.Triggers {
		for s := range cfg.Seeds {
			for _, p := range cfg.Profiles {
				jobs = append(jobs, job{i: len(jobs), trigger: t, profile: p, seed: cfg.FirstSeed + int64(s)})
			}
		}
	}
	return jobs
}

// RunSweep runs the sweep, cfg.Parallel runs at a time. It stops starting runs when ctx ends
// and returns what was done with ctx's error; a run the lab could not make is counted as
// failed, not returned as an error.
func RunSweep(ctx context.Context, cfg SweepConfig) (*Sweep, error) {
	en, ok := chaos.Lookup(Metastable)
	if !ok {
		return nil, fmt.Errorf("no catalogue entry %q", Metastable)
	}
	topo, err := entryTopology(en)
	if err != nil {
		return nil, err
	}
	if err := lab.MakeResultsDir(cfg.OutDir); err != nil {
		return nil, err
	}
	start := time.Now()
	jobs := plan(cfg)
	todo := make(chan job)
	done := make(chan SweepRun)
	var wg sync.WaitGroup
	for range max(1, cfg.Parallel) {
		wg.Go(func() {
			for j := range todo {
				done <- runOne(ctx, cfg, en, topo, j)
			}
		})
	}
	go func() {
		defer close(todo)
		for _, j := range jobs {
			select {
			case todo <- j:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(done) }()

	byIndex := make([]*SweepRun, len(jobs))
	c := &collector{cfg: cfg, perTrigger: len(cfg.Profiles) * cfg.Seeds}
	n := 0
	for r := range done {
		if r.skipped {
			continue
		}
		n++
		byIndex[r.index] = &r
		if cfg.OnRun != nil {
			cfg.OnRun(n, r)
		}
		c.emit(byIndex)
	}
	sw := &Sweep{Config: cfg, Start: start, End: time.Now()}
	for _, r := range byIndex {
		if r != nil {
			sw.Runs = append(sw.Runs, *r)
		}
	}
	sw.Cells = Cells(cfg.Triggers, cfg.Profiles, sw.Runs)
	return sw, context.Cause(ctx)
}

// collector hands each trigger's cells to OnTrigger once all of its runs are done, in order.
type collector struct {
	cfg        SweepConfig
	perTrigger int
	next       int // the next trigger to hand on
}

func (c *collector) emit(byIndex []*SweepRun) {
	for c.next < len(c.cfg.Triggers) {
		from := c.next * c.perTrigger
		var runs []SweepRun
		for _, r := range byIndex[from : from+c.perTrigger] {
			if r == nil {
				return
			}
			runs = append(runs, *r)
		}
		if c.cfg.OnTrigger != nil {
			c.cfg.OnTrigger(Cells(c.cfg.Triggers[c.next:c.next+1], c.cfg.Profiles, runs))
		}
		c.next++
	}
}

// entryTopology is the topology the catalogue entry names in its chaoslab extension.
func entryTopology(en chaos.Entry) (*topology.Topology, error) {
	exp, err := experiment.Parse(en.Data, "json")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", en.Name, err)
	}
	name := ""
	if ext := exp.Extension("chaoslab"); ext != nil {
		if v, ok := ext.Get("topology"); ok {
			name, _ = v.(string)
		}
	}
	if name == "" {
		return nil, fmt.Errorf("%s names no topology: the sweep needs a backend of finite capacity", en.Name)
	}
	return topology.Load(name)
}

// runOne makes one run of the entry on its own local stack and reads its figures.
func runOne(ctx context.Context, cfg SweepConfig, en chaos.Entry, topo *topology.Topology, j job) SweepRun {
	r := SweepRun{Trigger: j.trigger, Profile: j.profile, Seed: j.seed, index: j.i,
		Dir: filepath.Join(j.trigger.dir(), j.profile.dir(), fmt.Sprintf("seed-%d", j.seed))}
	if ctx.Err() != nil {
		r.skipped = true
		return r
	}
	start := time.Now()
	r = measure(ctx, cfg, en, topo, j, r)
	r.Elapsed = time.Since(start)
	return r
}

// measure runs j on its own stack and reads r's figures from the run's analysis.
func measure(ctx context.Context, cfg SweepConfig, en chaos.Entry, topo *topology.Topology, j job, r SweepRun) SweepRun {
	exp, err := experiment.Parse(en.Data, "json")
	if err != nil {
		r.Failed = err.Error()
		return r
	}
	seed := strconv.FormatInt(j.seed, 10)
	t := *topo
	t.Backend = maps.Clone(topo.Backend)
	t.Backend["BACKEND_SEED"] = seed // the service times' draws
	env := maps.Clone(cfg.ClientEnv)
	if env == nil {
		env = map[string]string{}
	}
	env["RESILIENCE"], env["RETRY_JITTER_SEED"] = j.profile.Resilience, seed
	if j.profile.NoDeadline {
		env["DEADLINE_PROPAGATION"] = "off"
	}
	vars := map[string]any{"service_time_factor": j.trigger.Factor, "fault_duration": wholeSecs(j.trigger.Duration), "watch_duration": wholeSecs(cfg.Watch)}
	out, err := lab.Run(ctx, lab.RunConfig{Stack: lab.Processes{Kind: "local", Serve: cfg.Serve, Topology: &t}, Experiment: exp,
		ExperimentName: en.Name + " (" + en.Path + ")", Vars: vars, RPS: cfg.RPS, LoadTimeout: load.DefaultTimeout,
		Warmup: cfg.Warmup, Recovery: cfg.Recovery, OutDir: filepath.Join(cfg.OutDir, r.Dir), ClientEnv: env,
		LookupEnv: cfg.LookupEnv, Stdout: io.Discard, Objectives: map[string]float64{},
		GoodputStuckFor: cfg.StuckFor, GoodputBackHold: cfg.BackHold})
	switch {
	case err != nil && !errors.Is(err, context.Canceled):
		r.Failed = err.Error()
		return r
	case out == nil || out.Analysis == nil:
		r.Failed = fmt.Sprintf("no analysis: %v", err)
		return r
	}
	return sweepRunOf(r, report.NewSummary(out.Analysis))
}

// wholeSecs is d in whole seconds (the experiment's pauses are numbers of seconds).
func wholeSecs(d time.Duration) int64 { return int64(math.Round(d.Seconds())) }
