package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"chaoslab/internal/bench"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/results"
	"chaoslab/internal/stack"
)

const benchHelp = `
Usage: chaoslab bench [flags]

Measures resilience profiles against each other on the local stack, at the same load and with
the same faults, one profile after the other, and prints one table with each profile's figures
and the ratio of the last profile to the first (by default adaptive / on). For each profile:

  partition -> first fallback    network-partition: from the blackhole's injection to the first
                                 fallback answer
  heal -> first backend answer   from the blackhole's removal to the first backend answer
  healthy calls that timed out   backend calls in the healthy phase (--warmup) before each of the
                                 three faults that ended by a timeout, of all of them
  calls per request, 30% 503s    http-errors at 30 %: backend calls per request sent during the
                                 fault (retries included)
  backend answers / answered 200 the shares of those requests the backend answered, and that got
                                 a 200 at all (backend or fallback)
  latency step -> 99% backend    backend-latency-within-timeout at 300 ms: from the step to the
                                 first request from which on 99 % were answered by the backend
  healthy throughput             --workers closed-loop clients through client-service on a
                                 healthy stack: backend answers per second over --throughput,
                                 taken in 5 slices, the profiles' stacks in turn (A, B, A, B,
                                 ...) so that each meets the same moments of the machine; after
                                 1 s of warm-up each

Each figure comes from the run's own analysis (the same as chaoslab run's report); every run
keeps its results folder under --out. With --runs N the bench repeats; a cell is then the median
over the runs with [min - max], and a ratio is taken within each run. The machine's load moves
the figures: run it on a quiet machine, and compare ratios from one bench, not across machines.

chaoslab bench metastable (its own --help) sweeps the metastable experiment over trigger sizes
and durations x profiles x seeds instead, for each profile's tipping point. chaoslab bench
service (its own --help) measures client-service's latency and throughput under load instead.

Exit status: 0 measured; 1 a run failed; 2 bad flags.
`

type benchFlags struct {
	profiles                            string
	out                                 string
	rps                                 float64
	warmup, fault, recovery, throughput time.Duration
	workers, runs                       int
	env                                 envFlag
}

func parseBenchFlags(e *env, args []string) (benchFlags, []string, error) {
	f := benchFlags{env: envFlag{}}
	fs := newFlags("bench", benchHelp, e.stdout)
	fs.StringVar(&f.profiles, "profiles", "on,adaptive", "RESILIENCE profiles to measure, comma-separated; the first is the reference of the ratios")
	fs.StringVar(&f.out, "out", "", "where the runs' results folders go (default ./chaoslab-results/bench-<UTC timestamp>)")
	fs.Float64Var(&f.rps, "rps", 200, "open-loop load of the fault runs, requests per second")
	fs.DurationVar(&f.warmup, "warmup", 5*time.Second, "healthy load before each fault")
	fs.DurationVar(&f.fault, "fault", 5*time.Second, "how long each fault lasts (whole seconds)")
	fs.DurationVar(&f.recovery, "recovery", 12*time.Second, "load after each fault (keep it above CB_WAIT_DURATION, or on's recovery is not seen)")
	fs.DurationVar(&f.throughput, "throughput", 5*time.Second, "length of the closed-loop throughput measurement")
	fs.IntVar(&f.workers, "workers", 8, "concurrent closed-loop clients of the throughput measurement")
	fs.IntVar(&f.runs, "runs", 1, "repetitions of the whole bench, for the spread")
	fs.Var(f.env, "env", "set a pipeline variable for client-service, for every profile: KEY=VALUE (repeatable)")
	pos, err := parse(fs, args)
	if err != nil {
		return f, nil, err
	}
	if len(pos) > 0 {
		return f, nil, cmdutil.Usagef("bench takes no arguments, got %v", pos)
	}
	profiles := strings.Split(f.profiles, ",")
	allowed := []string{results.ResilienceOff, results.ResilienceOn, results.ResilienceAdaptive, results.ResilienceRetry}
	for i, p := range profiles {
		if !slices.Contains(allowed, p) {
			return f, nil, cmdutil.Usagef("--profiles: %q is not a profile: use %s", p, strings.Join(allowed, ", "))
		}
		if slices.Contains(profiles[:i], p) {
			return f, nil, cmdutil.Usagef("--profiles: %s is listed twice", p)
		}
	}
	switch {
	case f.rps <= 0:
		return f, nil, cmdutil.Usagef("--rps must be above 0, got %g", f.rps)
	case f.fault < time.Second || f.fault%time.Second != 0:
		return f, nil, cmdutil.Usagef("--fault must be whole seconds, at least 1s, got %v", f.fault)
	case f.warmup <= 0 || f.recovery <= 0 || f.throughput <= 0:
		return f, nil, cmdutil.Usagef("--warmup, --recovery and --throughput must be above 0")
	case f.workers < 1 || f.runs < 1:
		return f, nil, cmdutil.Usagef("--workers and --runs must be at least 1")
	}
	if _, set := f.env["RESILIENCE"]; set {
		return f, nil, cmdutil.Usagef("--env RESILIENCE: the bench sets it per profile; use --profiles")
	}
	return f, profiles, stack.CheckClientEnv(f.env)
}

func benchCmd(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && args[0] == "metastable" {
		return benchMetastableCmd(ctx, e, args[1:])
	}
	if len(args) > 0 && args[0] == "service" {
		return benchServiceCmd(ctx, e, args[1:])
	}
	f, profiles, err := parseBenchFlags(e, args)
	if err != nil {
		return err
	}
	if f.out == "" {
		f.out = filepath.Join("chaoslab-results", "bench-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	per := 3*(f.warmup+f.fault+f.recovery) + f.throughput + time.Second
	fmt.Fprintf(e.stdout, "chaoslab bench: %s at %g rps, %d run(s), about %v -> %s\n",
		strings.Join(profiles, ", "), f.rps, f.runs, (time.Duration(f.runs*len(profiles)) * per).Round(time.Second), f.out)
	runs, err := bench.Run(ctx, bench.Config{Profiles: profiles, RPS: f.rps, Warmup: f.warmup, Fault: f.fault,
		Recovery: f.recovery, Throughput: f.throughput, Workers: f.workers, Runs: f.runs, OutDir: f.out,
		ClientEnv: f.env, LookupEnv: lookupEnv(e.getenv), Stdout: e.stdout})
	if len(runs) > 0 {
		fmt.Fprintln(e.stdout)
		if werr := bench.WriteTable(e.stdout, runs); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}
