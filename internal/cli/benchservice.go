package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"chaoslab/internal/bench"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/results"
	"chaoslab/internal/stack"
)

const benchServiceHelp = `
Usage: chaoslab bench service [flags]

Measures client-service itself under load, on the local stack (backend-service, the embedded
fault proxy, client-service, as chaoslab run starts them): an open-loop part at fixed rates
against client-service healthy, with its breaker OPEN and HALF_OPEN, and a closed-loop
throughput part against client-service and against proxies in front of the same backend, taken
in interleaved slices so their ratios compare the same moments of the machine. A run takes the
healthy windows, then the closed loop, then the OPEN / HALF_OPEN cycles (last, so that no
request a partition held up reaches the backend inside a counted part). It prints one table,
writes every figure to --out/service.json (the services' logs and haproxy.cfg beside it), and
shows its progress on stderr.

The bench sets CB_WAIT_DURATION=1s for client-service (its default is 10s), so that a cycle of
the open loop lasts about two seconds; --env CB_WAIT_DURATION=... changes it. It needs a breaker:
RESILIENCE on (the default) or adaptive.

` + bench.ServiceDefinitions + `

--short takes tiny durations (one rate of 100/s, a 1s healthy window, 2 cycles, 4 workers,
2 rounds of 300ms slices) for CI; a flag given explicitly still wins. --min-ratio F makes the
bench fail when client-service's answers/s are below F times the reverse proxy's (median over
the runs): ratios, not absolute times, hold on a shared machine.

Exit status: 0 measured; 1 a measurement could not be made, a count check disagreed, or the
ratio is below --min-ratio; 2 bad flags.
`

type benchServiceFlags struct {
	rates, out, haproxy           string
	healthy, warmup, slice        time.Duration
	cycles, workers, rounds, runs int
	short                         bool
	minRatio                      float64
	env                           envFlag
}

// DefaultHAProxy is where Debian's haproxy package puts the binary.
const DefaultHAProxy = "/usr/sbin/haproxy"

// shortServiceFlags are --short's values, by flag name.
func shortServiceFlags() map[string]string {
	return map[string]string{"rates": "100", "healthy": "1s", "cycles": "2", "workers": "4", "warmup": "200ms", "slice": "300ms", "rounds": "2"}
}

func parseBenchServiceFlags(e *env, args []string) (bench.ServiceConfig, benchServiceFlags, error) {
	f := benchServiceFlags{env: envFlag{}}
	fs := newFlags("bench service", benchServiceHelp, e.stdout)
	fs.StringVar(&f.rates, "rates", "200,500", "open-loop rates, requests per second, comma-separated")
	fs.DurationVar(&f.healthy, "healthy", 5*time.Second, "the healthy window of the open loop, at each rate")
	fs.IntVar(&f.cycles, "cycles", 5, "partition -> OPEN -> heal -> HALF_OPEN -> CLOSED cycles at each rate (0: none)")
	fs.IntVar(&f.workers, "workers", 32, "closed loop: concurrent clients per target")
	fs.DurationVar(&f.warmup, "warmup", time.Second, "closed loop: each target's warm-up before the slices")
	fs.DurationVar(&f.slice, "slice", 5*time.Second, "closed loop: one target's turn")
	fs.IntVar(&f.rounds, "rounds", 3, "closed loop: rounds of one slice per target")
	fs.StringVar(&f.haproxy, "haproxy", DefaultHAProxy, "the haproxy binary for a third closed-loop target; skipped when the default is not installed; \"off\": never")
	fs.IntVar(&f.runs, "runs", 1, "repetitions of the whole bench: each cell then shows the median and [min - max]")
	fs.BoolVar(&f.short, "short", false, "tiny durations, for CI (explicit flags still win)")
	fs.Float64Var(&f.minRatio, "min-ratio", 0, "fail when client-service's closed-loop answers/s are below this times the reverse proxy's (0: no check)")
	fs.StringVar(&f.out, "out", "", "where service.json and the runs' logs go (default ./chaoslab-results/service-<UTC timestamp>)")
	fs.Var(f.env, "env", "set a variable for client-service: KEY=VALUE (repeatable)")
	pos, err := parse(fs, args)
	if err != nil {
		return bench.ServiceConfig{}, f, err
	}
	if len(pos) > 0 {
		return bench.ServiceConfig{}, f, cmdutil.Usagef("bench service takes no arguments, got %v", pos)
	}
	if f.short {
		if err := applyShort(fs); err != nil {
			return bench.ServiceConfig{}, f, err
		}
	}
	cfg, err := f.config(fs)
	return cfg, f, err
}

// applyShort sets --short's values on the flags not given explicitly.
func applyShort(fs *flag.FlagSet) error {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	for name, v := range shortServiceFlags() {
		if set[name] {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return fmt.Errorf("--short: --%s %s: %w", name, v, err)
		}
	}
	return nil
}

// config checks the flags and makes the bench's configuration.
func (f benchServiceFlags) config(fs *flag.FlagSet) (bench.ServiceConfig, error) {
	var rates []float64
	for _, p := range strings.Split(f.rates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !(v >= 1 && v <= 10000) {
			return bench.ServiceConfig{}, cmdutil.Usagef("--rates: %q is not a rate: want requests per second from 1 to 10000, e.g. --rates 200,500", p)
		}
		if containsValue(rates, v) {
			return bench.ServiceConfig{}, cmdutil.Usagef("--rates: %g is listed twice", v)
		}
		rates = append(rates, v)
	}
	switch {
	case f.healthy <= 0 || f.warmup < 0 || f.slice <= 0:
		return bench.ServiceConfig{}, cmdutil.Usagef("--healthy and --slice must be above 0 and --warmup at least 0, got %v, %v, %v", f.healthy, f.slice, f.warmup)
	case f.cycles < 0 || f.cycles > 100:
		return bench.ServiceConfig{}, cmdutil.Usagef("--cycles must be 0 to 100, got %d", f.cycles)
	case f.workers < 1 || f.workers > 1000:
		return bench.ServiceConfig{}, cmdutil.Usagef("--workers must be 1 to 1000, got %d", f.workers)
	case f.rounds < 1 || f.runs < 1:
		return bench.ServiceConfig{}, cmdutil.Usagef("--rounds and --runs must be at least 1, got %d and %d", f.rounds, f.runs)
	case !(f.minRatio >= 0):
		return bench.ServiceConfig{}, cmdutil.Usagef("--min-ratio must be at least 0, got %g", f.minRatio)
	}
	env := map[string]string{"CB_WAIT_DURATION": "1s"}
	maps.Copy(env, f.env)
	if !results.HasBreaker(clientResilience(env)) {
		return bench.ServiceConfig{}, cmdutil.Usagef("--env RESILIENCE=%s: the bench measures the breaker's OPEN and HALF_OPEN; use on or adaptive", env["RESILIENCE"])
	}
	if err := stack.CheckClientEnv(env); err != nil {
		return bench.ServiceConfig{}, err
	}
	haproxy, err := haproxyPath(fs, f.haproxy)
	if err != nil {
		return bench.ServiceConfig{}, err
	}
	return bench.ServiceConfig{Rates: rates, Healthy: f.healthy, Cycles: f.cycles, Workers: f.workers, Warmup: f.warmup,
		Slice: f.slice, Rounds: f.rounds, HAProxy: haproxy, Runs: f.runs, OutDir: f.out, ClientEnv: env}, nil
}

// clientResilience is the RESILIENCE client-service will run with.
func clientResilience(env map[string]string) string {
	if r, ok := env["RESILIENCE"]; ok {
		return r
	}
	return results.ResilienceOn
}

// haproxyPath resolves --haproxy: "" when off, or when the default is not installed (the table
// then has no haproxy row); a path given explicitly must be there.
func haproxyPath(fs *flag.FlagSet, p string) (string, error) {
	if p == "off" || p == "" {
		return "", nil
	}
	explicit := false
	fs.Visit(func(fl *flag.Flag) { explicit = explicit || fl.Name == "haproxy" })
	found, err := exec.LookPath(p)
	switch {
	case err == nil:
		return found, nil
	case explicit:
		return "", cmdutil.Usagef("--haproxy %s: %v (install Debian's haproxy, or --haproxy off)", p, err)
	}
	return "", nil
}

func benchServiceCmd(ctx context.Context, e *env, args []string) error {
	cfg, f, err := parseBenchServiceFlags(e, args)
	if err != nil {
		return err
	}
	if cfg.OutDir == "" {
		cfg.OutDir = filepath.Join("chaoslab-results", "service-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	targets := "client-service, reverse-proxy"
	if cfg.HAProxy != "" {
		targets += ", haproxy (" + cfg.HAProxy + ")"
	} else {
		targets += " (no haproxy: " + f.haproxy + " not found or off)"
	}
	fmt.Fprintf(e.stdout, "chaoslab bench service: RESILIENCE=%s, open loop at %s/s, closed loop against %s; %d run(s), about %v -> %s\n",
		clientResilience(cfg.ClientEnv), f.rates, targets, cfg.Runs, serviceEstimate(cfg).Round(time.Second), cfg.OutDir)
	start := time.Now()
	cfg.Progress = func(s string) { fmt.Fprintf(e.stderr, "[%6.1fs] %s\n", time.Since(start).Seconds(), s) }
	runs, err := bench.RunService(ctx, cfg)
	path, werr := bench.NewServiceFile(cfg, runs, err).Write(cfg.OutDir)
	if len(runs) > 0 {
		fmt.Fprintln(e.stdout)
		if perr := bench.WriteServiceTable(e.stdout, runs); perr != nil {
			err = errors.Join(err, perr)
		}
	}
	if werr != nil {
		return errors.Join(err, werr)
	}
	fmt.Fprintf(e.stdout, "results: %s\n", path)
	if err != nil {
		return fmt.Errorf("bench service: %w", errors.Join(err, cmdutil.ErrFailed))
	}
	return judgeService(runs, f.minRatio)
}

// judgeService fails the bench when a count check disagreed in any run, or when client-service's
// closed-loop ratio to the reverse proxy (median over the runs) is below minRatio.
func judgeService(runs []bench.ServiceRun, minRatio float64) error {
	for i, r := range runs {
		for _, c := range r.Counts {
			if !c.Agree() {
				return fmt.Errorf("run %d, %s: the backend served %d GET /api/data, the bench got %d backend answers and %d calls failed on the way: %w",
					i+1, c.Part, c.Served, c.Counted, c.Failed, cmdutil.ErrFailed)
			}
		}
	}
	if minRatio == 0 {
		return nil
	}
	ratio, ok := bench.MedianRatio(runs, bench.TargetClient, bench.TargetReverseProxy)
	if !ok || ratio < minRatio {
		return fmt.Errorf("client-service served %.2fx the reverse proxy's answers/s (median over %d run(s)), below --min-ratio %g: %w",
			ratio, len(runs), minRatio, cmdutil.ErrFailed)
	}
	return nil
}

// serviceEstimate is about how long the bench takes: per rate the healthy window and the cycles
// (about 2.5 s each with the bench's CB_WAIT_DURATION), then the closed loop, plus starting.
func serviceEstimate(cfg bench.ServiceConfig) time.Duration {
	targets := 2
	if cfg.HAProxy != "" {
		targets = 3
	}
	per := 2*time.Second + time.Duration(targets)*(cfg.Warmup+time.Duration(cfg.Rounds)*cfg.Slice)
	per += time.Duration(len(cfg.Rates)) * (cfg.Healthy + time.Duration(cfg.Cycles)*2500*time.Millisecond)
	return time.Duration(cfg.Runs) * per
}
