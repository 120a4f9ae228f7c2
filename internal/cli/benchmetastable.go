package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"chaoslab/internal/bench"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/stack"
)

const benchMetastableHelp = `
Usage: chaoslab bench metastable [flags]

Finds the tipping point of a metastable failure: runs the catalogue's metastable experiment
(topology single: a backend of 4 workers, a queue of 50, exp:100ms) over a range of triggers
(--factors: the backend's service time multiplied; --durations: for how long) x --profiles x
--seeds, each run on its own local stack (on its own ports), and prints, per trigger and
profile, how often the goodput stayed stuck after the trigger and how soon it came back.
The table grows as each trigger's runs are done; the progress (runs done / total, elapsed,
estimated time left) goes to stderr, a bar on a terminal, a line per run otherwise. --out
holds every run's own results folder (TRIGGER/PROFILE/seed-N, with its report), sweep.json
(every cell and run) and sweep.html (P(stuck) against the trigger, one line per profile, each
profile's tipping point ringed, the table, a link to each run's report).

A profile is a RESILIENCE value (off, on, adaptive, retry), optionally with ":nodeadline" for
DEADLINE_PROPAGATION=off, e.g. --profiles retry,retry:nodeadline,on,adaptive. Run k of a cell
has seed --first-seed + k - 1 as its RETRY_JITTER_SEED (the client's retry jitter) and its
BACKEND_SEED (the backend's service times), so every cell meets the same draws.

` + bench.SweepDefinitions + `

Keep --recovery at least the client's REQUEST_TIMEOUT (15 s): the load stops after it, and a
request offered in the last seconds before that finishes its retries on a backend that no new
load reaches, so it may come back good although the system was stuck; the recovery keeps those
seconds out of the stuck window (which ends with the watch).

The runs share the machine: --parallel above 1 saves time but the runs slow each other down,
which moves the figures; compare profiles within one sweep (the runs of a trigger go seed by
seed, each seed's profiles one after the other).

Exit status: 0 every run made; 1 a run could not be made, or the sweep was stopped; 2 bad flags.
`

type benchMetastableFlags struct {
	factors, durations, profiles, out string
	seeds, parallel                   int
	firstSeed                         int64
	rps                               float64
	warmup, watch, recovery           time.Duration
	stuckFor, backHold                time.Duration
	env                               envFlag
}

// sweepOwnEnv maps the variables the sweep sets per run to the flag that sets each.
func sweepOwnEnv() map[string]string {
	return map[string]string{"RESILIENCE": "--profiles", "DEADLINE_PROPAGATION": "--profiles (e.g. retry:nodeadline)", "RETRY_JITTER_SEED": "--first-seed"}
}

func parseBenchMetastableFlags(e *env, args []string) (bench.SweepConfig, benchMetastableFlags, error) {
	f := benchMetastableFlags{env: envFlag{}}
	fs := newFlags("bench metastable", benchMetastableHelp, e.stdout)
	fs.StringVar(&f.factors, "factors", "2,4,8", "trigger sizes: the backend's service time factors, comma-separated (each at least 1)")
	fs.StringVar(&f.durations, "durations", "10s", "trigger durations, comma-separated, whole seconds")
	fs.StringVar(&f.profiles, "profiles", "retry,on,adaptive", "profiles, comma-separated: off, on, adaptive, retry, each optionally with :nodeadline")
	fs.IntVar(&f.seeds, "seeds", 10, "runs per trigger and profile, one seed each")
	fs.Int64Var(&f.firstSeed, "first-seed", 1, "the first run's seed (RETRY_JITTER_SEED and BACKEND_SEED)")
	fs.Float64Var(&f.rps, "rps", 20, "open-loop load, requests per second (the backend serves about 40/s)")
	fs.DurationVar(&f.warmup, "warmup", 5*time.Second, "load before the trigger: the goodput's level before it")
	fs.DurationVar(&f.watch, "watch", 30*time.Second, "watch_duration: load after the trigger's end (whole seconds, at least --stuck-for)")
	fs.DurationVar(&f.recovery, "recovery", 15*time.Second, "load after the rollbacks: keep it at least the client's REQUEST_TIMEOUT (15 s), see above")
	fs.DurationVar(&f.stuckFor, "stuck-for", 30*time.Second, "stuck = goodput below 50 % of before in each second of this long after the trigger's end (whole seconds)")
	fs.DurationVar(&f.backHold, "back-hold", 5*time.Second, "back to 95 % = this long in a row each at least 95 % of before (whole seconds)")
	fs.IntVar(&f.parallel, "parallel", 1, "runs at once, each its own local stack (at most 8)")
	fs.StringVar(&f.out, "out", "", "where the sweep's files and the runs' folders go (default ./chaoslab-results/metastable-<UTC timestamp>)")
	fs.Var(f.env, "env", "set a pipeline variable for client-service, for every profile: KEY=VALUE (repeatable)")
	pos, err := parse(fs, args)
	if err != nil {
		return bench.SweepConfig{}, f, err
	}
	if len(pos) > 0 {
		return bench.SweepConfig{}, f, cmdutil.Usagef("bench metastable takes no arguments, got %v", pos)
	}
	cfg, err := f.config()
	return cfg, f, err
}

// config checks the flags and makes the sweep's configuration.
func (f benchMetastableFlags) config() (bench.SweepConfig, error) {
	factors, err := parseFactors(f.factors)
	if err != nil {
		return bench.SweepConfig{}, err
	}
	durations, err := parseDurations(f.durations)
	if err != nil {
		return bench.SweepConfig{}, err
	}
	profiles, err := bench.ParseSweepProfiles(f.profiles)
	if err != nil {
		return bench.SweepConfig{}, cmdutil.Usagef("--profiles: %v", err)
	}
	whole := func(d time.Duration) bool { return d >= time.Second && d%time.Second == 0 }
	switch {
	case f.seeds < 1:
		return bench.SweepConfig{}, cmdutil.Usagef("--seeds must be at least 1, got %d", f.seeds)
	case f.firstSeed < 1:
		return bench.SweepConfig{}, cmdutil.Usagef("--first-seed must be at least 1 (0 means a seed from the clock), got %d", f.firstSeed)
	case !(f.rps > 0 && f.rps <= 10000):
		return bench.SweepConfig{}, cmdutil.Usagef("--rps must be above 0 and at most 10000, got %g", f.rps)
	case f.parallel < 1 || f.parallel > 8:
		return bench.SweepConfig{}, cmdutil.Usagef("--parallel must be 1 to 8, got %d", f.parallel)
	case f.warmup < time.Second || f.recovery < 0:
		return bench.SweepConfig{}, cmdutil.Usagef("--warmup must be at least 1s (the level before the trigger) and --recovery at least 0")
	case !whole(f.stuckFor) || !whole(f.backHold):
		return bench.SweepConfig{}, cmdutil.Usagef("--stuck-for and --back-hold must be whole seconds, at least 1s, got %v and %v", f.stuckFor, f.backHold)
	case !whole(f.watch) || f.watch < f.stuckFor || f.watch < f.backHold:
		return bench.SweepConfig{}, cmdutil.Usagef("--watch must be whole seconds and at least --stuck-for and --back-hold (else stuck is never measured), got %v", f.watch)
	}
	for k, flag := range sweepOwnEnv() {
		if _, set := f.env[k]; set {
			return bench.SweepConfig{}, cmdutil.Usagef("--env %s: the sweep sets it for each run; use %s", k, flag)
		}
	}
	if err := stack.CheckClientEnv(f.env); err != nil {
		return bench.SweepConfig{}, err
	}
	return bench.SweepConfig{Triggers: bench.Triggers(factors, durations), Profiles: profiles, Seeds: f.seeds, FirstSeed: f.firstSeed,
		RPS: f.rps, Warmup: f.warmup, Watch: f.watch, Recovery: f.recovery, StuckFor: f.stuckFor, BackHold: f.backHold,
		Parallel: f.parallel, OutDir: f.out, ClientEnv: f.env}, nil
}

// parseFactors reads --factors: numbers of at least 1, none twice.
func parseFactors(s string) ([]float64, error) {
	var out []float64
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(v >= 1 && v <= 1000) {
			return nil, cmdutil.Usagef("--factors: %q is not a service time factor: want a number from 1 to 1000, e.g. --factors 2,4,8", p)
		}
		if containsValue(out, v) {
			return nil, cmdutil.Usagef("--factors: %s is listed twice", strings.TrimSpace(p))
		}
		out = append(out, v)
	}
	return out, nil
}

// parseDurations reads --durations: whole seconds of at least 1s, none twice.
func parseDurations(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, p := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil || d < time.Second || d%time.Second != 0 {
			return nil, cmdutil.Usagef("--durations: %q is not a trigger duration: want whole seconds, at least 1s, e.g. --durations 5s,10s,20s", p)
		}
		if containsValue(out, d) {
			return nil, cmdutil.Usagef("--durations: %v is listed twice", d)
		}
		out = append(out, d)
	}
	return out, nil
}

func containsValue[T comparable](vs []T, v T) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// runOverhead is what a run takes beyond its load: starting the stack, the experiment's probes
// and rollbacks, stopping (an estimate for the time left before the first run is done).
const runOverhead = 3 * time.Second

func benchMetastableCmd(ctx context.Context, e *env, args []string) error {
	cfg, _, err := parseBenchMetastableFlags(e, args)
	if err != nil {
		return err
	}
	if cfg.OutDir == "" {
		cfg.OutDir = filepath.Join("chaoslab-results", "metastable-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	cfg.LookupEnv = lookupEnv(e.getenv)
	var trigger time.Duration
	for _, t := range cfg.Triggers {
		trigger += t.Duration
	}
	perRun := cfg.Warmup + trigger/time.Duration(len(cfg.Triggers)) + cfg.Watch + cfg.Recovery + runOverhead
	total := cfg.Total()
	fmt.Fprintf(e.stdout, "chaoslab bench metastable: %d trigger(s) x %d profile(s) x %d seed(s) = %d runs, %d at a time, about %v -> %s\n",
		len(cfg.Triggers), len(cfg.Profiles), cfg.Seeds, total, cfg.Parallel,
		bench.Estimate(bench.Left(0, total, cfg.Parallel, 0, perRun)), cfg.OutDir)
	fmt.Fprintln(e.stdout, bench.SweepHeader())
	p := bench.NewProgress(e.stdout, e.stderr, isTerminal(e.stderr), total, cfg.Parallel, perRun)
	cfg.OnRun = p.Run
	cfg.OnTrigger = func(cells []bench.Cell) {
		for _, c := range cells {
			p.Println(bench.SweepRow(c))
		}
	}
	sw, err := bench.RunSweep(ctx, cfg)
	p.Close()
	if sw == nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	for _, l := range bench.TippingLines(sw.Cells, cfg.Profiles) {
		fmt.Fprintln(e.stdout, l)
	}
	if werr := sw.Write(); werr != nil {
		return errors.Join(err, werr)
	}
	fmt.Fprintf(e.stdout, "sweep: %s, %s\n", filepath.Join(cfg.OutDir, bench.SweepJSON), filepath.Join(cfg.OutDir, bench.SweepHTML))
	if err != nil {
		return fmt.Errorf("the sweep was stopped after %d of %d runs: %w", len(sw.Runs), total, errors.Join(err, cmdutil.ErrFailed))
	}
	if failed := failedRuns(sw); failed > 0 {
		return fmt.Errorf("%d of %d runs could not be made (sweep.json says why): %w", failed, total, cmdutil.ErrFailed)
	}
	return nil
}

func failedRuns(sw *bench.Sweep) int {
	n := 0
	for _, r := range sw.Runs {
		if r.Failed != "" {
			n++
		}
	}
	return n
}

// isTerminal reports whether w is a terminal (a bar can be redrawn in place on it).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
