package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"chaoslab/chaos"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/experiment"
	"chaoslab/internal/junit"
	"chaoslab/internal/k8s"
	"chaoslab/internal/lab"
	"chaoslab/internal/live"
	"chaoslab/internal/load"
	"chaoslab/internal/netns"
	"chaoslab/internal/report"
	"chaoslab/internal/results"
	"chaoslab/internal/stack"
	"chaoslab/internal/topology"
)

const runHelp = `
Usage: chaoslab run [flags] [EXPERIMENT | NAME]
       chaoslab run --suite [flags]

Runs a Chaos Toolkit experiment (JSON or YAML file), or an experiment of the built-in catalogue
by NAME (chaoslab list: backend-latency, http-errors, backend-crash, ...). Without either it runs
the built-in network partition (chaos/local/network-partition-experiment.json): the client is cut
off from the backend for partition_duration seconds (default 30) while a steady load runs.
--suite runs every catalogue entry in turn on one stack, each into its own folder, and writes an
index (index.md, index.html) with one row per experiment: its verdict and key figures, linking to
its report. Entries the stack cannot run are listed with the reason. Exit 1 if any entry failed.

--stack local (default) starts backend-service and client-service as child processes with an
embedded Toxiproxy between them, on free ports, and hands the experiment their addresses through
CHAOSLAB_CLIENT_URL, CHAOSLAB_BACKEND_URL and CHAOSLAB_TOXIPROXY_URL. It sends open-loop load
(--rps), warms up, runs the experiment, keeps the load for --recovery after the rollbacks, and
writes a results folder: journal.json, requests.csv, events.jsonl, observations/, the services'
logs, report.md and report.html. --stack netns does the same with each service in its own Linux
network namespace and the partition made with iptables (root only). --stack none starts nothing
and sends no load: it runs the experiment exactly as ` + "`chaos run`" + ` would and writes only the journal.

--traces on (the default; local stack): the load sends a W3C traceparent with each request, the
services send their spans to a receiver chaoslab runs on loopback, and the folder also holds
spans.jsonl, a trace_id column in requests.csv and, in the report, the waterfall of chosen
requests. With OTEL_EXPORTER_OTLP_ENDPOINT set the spans go there instead (not overridden).

Pipeline variables (RESILIENCE, RETRY_INITIAL_BACKOFF, CB_WAIT_DURATION, ...) are read from the
environment or set with --env KEY=VALUE, e.g. --env RESILIENCE=off for the baseline.

--topology FILE|NAME (--stack local) starts a call graph of client-service tiers instead of one
client: chain-3 (edge -> mid -> client -> backend), fan-in (three entry tiers sharing one
backend), or a YAML/JSON file listing tiers, each {name, calls, env}. An experiment may name one
in its chaoslab extension ("topology": "chain-3"); the flag wins. Each tier is client-service
with its own variables over --env, TIER=<name> and its own log (<name>.log); the load is spread
over the entry tiers, round robin. Every hop has a Toxiproxy proxy named after the node it
fronts: "backend" (so every catalogue experiment works unchanged at the backend) and one per
called tier, with an L7 injector behind it; an experiment faults a tier with
${toxiproxy_url}/proxies/${fault_target}/toxics, "target": "${fault_target}" in an HTTP fault
or /processes/${fault_target}/kill, and --var fault_target=mid. The report adds the calls per
user request at each layer.
With --stack k8s the tiers are not started but found: the namespace must run the topology
(kubectl apply -k deploy/overlays/chain-3, then --namespace chaoslab-chain3), each tier a
Deployment and a Service labelled chaoslab.io/tier=<name>; faults are at the backend only.

--compare runs the experiment once per profile of RESILIENCE, each into its own folder (off into
baseline/, on into resilient/, adaptive into adaptive/), and writes one report with the runs side
by side on one time scale. --compare alone runs off,on,adaptive; --compare off,on (or
--compare=off,on) runs the profiles listed, in that order: at least two, each once. It passes when
every profile but off passed: the baseline, without the patterns, is expected to deviate.

Rollbacks are the safety net: Ctrl-C or SIGTERM stops the method, still runs the rollbacks, records
status "interrupted" in the journal, writes the results, and exits 1. chaoslab's default rollback
strategy is "always" (the real chaos run's is "default", which skips them after a failure or an
interruption). No fault outlives chaoslab.

Exit status: 0 completed, steady state held, system recovered; 1 otherwise; 2 bad usage or input.
Examples:
  chaoslab run
  chaoslab run --var partition_duration:int=10 --rps 50
  chaoslab run --compare
  chaoslab run --compare off,on http-errors
  chaoslab run http-errors --var error_percentage:int=50
  chaoslab run --suite --compare
  chaoslab run --stack none --journal-path out.json my-experiment.json
`

type runFlags struct {
	stack, out, strategy, journal string
	junit                         string
	rps                           float64
	warmup, recovery, loadTimeout time.Duration
	compare, suite, ui            bool
	uiAddr                        string
	seed                          int64
	compareArg                    compareFlag      // --compare as given
	profiles                      []report.Profile // --compare's profiles (nil without it)
	vars                          varsFlag
	env                           envFlag
	objectives                    objectiveFlag
	k8s                           k8sFlags  // --stack k8s: --kubeconfig, --context, --namespace (k8s.go)
	plug                          lab.Stack // where the runs happen (prepareLab)

	topology string             // --topology as given
	topo     *topology.Topology // the topology the runs start (checkRunFlags); nil = today's two services

	traces      tracesFlag // --traces on|off
	traceSample float64    // --trace-sample: the share of the load's requests sampled
}

func runCmd(ctx context.Context, e *env, args []string) error {
	f := runFlags{vars: varsFlag{}, env: envFlag{}, objectives: objectiveFlag{}, traces: tracesFlag{on: true}}
	fs := newFlags("run", runHelp+"\nObjectives (NAME=BOUND; a fraction is 0 to 1):\n"+objectivesHelp(), e.stdout)
	fs.StringVar(&f.stack, "stack", "local", "where to run: "+strings.Join(stack.KindNames(), " | ")+" | k8s (a cluster where deploy/k8s is applied: --kubeconfig, --context, --namespace) | none (no stack, no load: like chaos run)")
	fs.Var(f.vars, "var", "override a configuration value: key[:type]=value, type str (default), int or float (repeatable)")
	fs.Var(f.env, "env", "set a pipeline variable for client-service: KEY=VALUE (repeatable)")
	fs.Float64Var(&f.rps, "rps", 20, "load: requests per second (open loop)")
	fs.StringVar(&f.out, "out", "", "results folder (default ./chaoslab-results/<UTC timestamp>)")
	fs.StringVar(&f.strategy, "rollback-strategy", "always", "when to run the rollbacks: always | default | never | deviated")
	fs.StringVar(&f.journal, "journal-path", "", "where to write the journal (default: journal.json in the results folder; ./journal.json with --stack none)")
	fs.DurationVar(&f.warmup, "warmup", 5*time.Second, "load before the experiment starts")
	fs.DurationVar(&f.recovery, "recovery", 20*time.Second, "load after the rollbacks, to watch the recovery")
	fs.DurationVar(&f.loadTimeout, "load-timeout", load.DefaultTimeout, "timeout of one load request (keep it longer than the client's REQUEST_TIMEOUT)")
	fs.Int64Var(&f.seed, "seed", 0, "seed of the client's retry jitter (RETRY_JITTER_SEED), recorded in run.json; 0 = pick one")
	fs.Var(&f.compareArg, "compare", "run once per profile of RESILIENCE and write one report comparing them: alone, off,on,adaptive; or a list of two or more, e.g. --compare off,on")
	fs.StringVar(&f.junit, "junit", "", "also write the judgement as JUnit XML to FILE, for CI: a test case per objective, steady-state probe and recovery")
	fs.Var(f.objectives, "objective", "judge the run against NAME=BOUND, overriding the experiment's objectives (repeatable; list below)")
	fs.BoolVar(&f.ui, "ui", false, "serve a live page on 127.0.0.1 while the run goes on (the timeline, the breaker, counters, activities); it stays up with a link to the report until Ctrl-C")
	fs.StringVar(&f.uiAddr, "ui-addr", "127.0.0.1:0", "address of the live page (with --ui; loopback only)")
	fs.BoolVar(&f.suite, "suite", false, "run every catalogue entry in turn and write an index (index.md, index.html)")
	fs.StringVar(&f.topology, "topology", "", topologyHelp+"; overrides the experiment's own")
	fs.Var(&f.traces, "traces", "on: the load sends a W3C traceparent with each request (requests.csv's trace_id) and the services send their spans to a receiver on loopback, kept in spans.jsonl and drawn in the report (local stack); to your collector instead when OTEL_EXPORTER_OTLP_ENDPOINT is set | off")
	fs.Float64Var(&f.traceSample, "trace-sample", 1, "with --traces on: the share of the load's requests flagged sampled (above 0, at most 1); the services follow the flag")
	addK8sFlags(fs, &f.k8s)
	pos, err := parse(fs, joinCompareValue(args))
	if err != nil {
		return err
	}
	if f.profiles, err = f.compareArg.profiles(); err != nil {
		return err
	}
	f.compare = f.profiles != nil
	if f.suite {
		return runSuite(ctx, e, f, pos, args)
	}
	exp, name, err := loadExperiment(pos, f.stack)
	if err != nil {
		return err
	}
	if err := checkRunFlags(&f, exp, e); err != nil {
		return err
	}
	if f.stack == "none" {
		return runNoStack(ctx, e, exp, f)
	}
	return runLab(ctx, e, exp, name, f, args)
}

// loadExperiment reads the named file, or the catalogue entry of that name, or the built-in
// partition when none is named; a catalogue entry the stack cannot run is refused with the reason.
func loadExperiment(pos []string, stackKind string) (*experiment.Experiment, string, error) {
	if stackKind == k8sStack && len(pos) == 0 {
		return loadK8sPartition()
	}
	switch len(pos) {
	case 0:
		exp, err := experiment.Parse([]byte(chaos.LocalPartitionExperiment), "json")
		if err != nil {
			return nil, "", fmt.Errorf("the built-in experiment: %w", err)
		}
		return exp, "built-in (" + chaos.LocalPartitionExperimentPath + ")", nil
	case 1:
		if _, err := os.Stat(pos[0]); err != nil {
			if en, ok := chaos.Lookup(pos[0]); ok {
				return catalogueExperiment(en, stackKind)
			}
		}
		exp, err := experiment.Load(pos[0])
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, "", cmdutil.Usagef("experiment %s: no such file, and not a catalogue name (one of %s; chaoslab list)", pos[0], strings.Join(chaos.Names(), ", "))
			}
			if errors.Is(err, cmdutil.ErrUsage) {
				return nil, "", err
			}
			return nil, "", cmdutil.Usagef("experiment %s: %v", pos[0], err)
		}
		return exp, pos[0], nil
	default:
		return nil, "", cmdutil.Usagef("one experiment at a time, got %d: %v", len(pos), pos)
	}
}

// catalogueExperiment parses a catalogue entry, if the stack supports it: on Kubernetes, its
// file in chaos/k8s.
func catalogueExperiment(en chaos.Entry, stackKind string) (*experiment.Experiment, string, error) {
	if ok, why := en.Supports(stackKind); !ok && stackKind != "none" {
		return nil, "", cmdutil.Usagef("%s cannot run with --stack %s: %s", en.Name, stackKind, why)
	}
	if stackKind == k8sStack {
		k, ok := chaos.KubernetesEntry(en.Name)
		if !ok {
			return nil, "", fmt.Errorf("%s lists --stack k8s but has no file in chaos/k8s", en.Name)
		}
		en = k
	}
	exp, err := experiment.Parse(en.Data, "json")
	if err != nil {
		return nil, "", fmt.Errorf("the built-in experiment %s: %w", en.Name, err)
	}
	return exp, en.Name + " (" + en.Path + ")", nil
}

// checkLabFlags checks the flags every stack reads: the rollback strategy, the rate (at most
// maxRPS; why says what bounds it) and the durations.
func checkLabFlags(f *runFlags, maxRPS float64, why string) error {
	switch f.strategy {
	case "always", "default", "never", "deviated":
	default:
		return cmdutil.Usagef("--rollback-strategy %q: use always, default, never or deviated", f.strategy)
	}
	if f.rps <= 0 || f.rps > maxRPS {
		return cmdutil.Usagef("--rps %g: must be > 0 and <= %g%s", f.rps, maxRPS, why)
	}
	if f.warmup < 0 || f.recovery < 0 || f.loadTimeout <= 0 {
		return cmdutil.Usagef("--warmup and --recovery must be >= 0 and --load-timeout > 0")
	}
	if !(f.traceSample > 0 && f.traceSample <= 1) {
		return cmdutil.Usagef("--trace-sample %g: the share of requests sampled, above 0 and at most 1 (--traces=off sends no traceparent)", f.traceSample)
	}
	return nil
}

// checkRunFlags rejects bad input before anything starts.
func checkRunFlags(f *runFlags, exp *experiment.Experiment, e *env) (err error) {
	if f.topo, err = topologyFor(exp, f.topology, f.stack); err != nil {
		return err
	}
	conf := experiment.Configuration(exp, lookupEnv(e.getenv), f.vars)
	if err := stack.CheckFaultTarget(conf[stack.FaultTarget], f.topo, f.stack); err != nil {
		return err
	}
	if f.stack == k8sStack {
		return checkK8sFlags(f, exp, e)
	}
	if _, ok := stack.Kinds()[f.stack]; !ok && f.stack != "none" {
		return cmdutil.Usagef("--stack %q: use %s, k8s or none", f.stack, strings.Join(stack.KindNames(), ", "))
	}
	if err := checkLabFlags(f, 10000, ""); err != nil {
		return err
	}
	if f.compare && f.stack == "none" {
		return cmdutil.Usagef("--compare needs a stack to run each profile: use --stack local or netns")
	}
	if f.ui && (f.compare || f.suite || f.stack == "none") {
		return cmdutil.Usagef("--ui shows one run on a stack: drop --compare, --suite and --stack none")
	}
	if f.junit != "" && f.stack == "none" {
		return cmdutil.Usagef("--junit needs a stack: --stack none writes only the journal, nothing is judged")
	}
	if _, err := experiment.Validate(exp, experiment.Options{Vars: f.vars, LookupEnv: lookupEnv(e.getenv)}); err != nil {
		return err
	}
	if err := experiment.CheckRunnable(exp); err != nil {
		return err
	}
	if _, err := objectivesFor(exp, f.objectives); err != nil {
		return err
	}
	if f.stack != "none" {
		if err := stack.CheckClientEnv(f.env); err != nil {
			return err
		}
	}
	return nil
}

func lookupEnv(getenv func(string) string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v := getenv(k)
		if v == "" {
			return os.LookupEnv(k)
		}
		return v, true
	}
}

// runNoStack is `chaos run`: the experiment alone, the journal, the exit status.
func runNoStack(ctx context.Context, e *env, exp *experiment.Experiment, f runFlags) error {
	path := f.journal
	if path == "" {
		path = "journal.json"
	}
	logger := slog.New(slog.NewTextHandler(e.stdout, &slog.HandlerOptions{Level: slog.LevelInfo}))
	j, err := experiment.Run(ctx, exp, experiment.Options{Vars: f.vars, RollbackStrategy: f.strategy, LookupEnv: lookupEnv(e.getenv), Logger: logger})
	if err != nil {
		return err
	}
	if err := j.WriteFile(path); err != nil {
		return fmt.Errorf("write the journal: %w", err)
	}
	fmt.Fprintf(e.stdout, "Experiment ended with status: %s (deviated: %t); journal: %s\n", j.Status, j.Deviated, path)
	if j.ExitCode() != 0 {
		return fmt.Errorf("experiment %s%s: %w", j.Status, map[bool]string{true: ", deviated"}[j.Deviated], cmdutil.ErrFailed)
	}
	return nil
}

func runLab(ctx context.Context, e *env, exp *experiment.Experiment, name string, f runFlags, args []string) (err error) {
	if err := prepareLab(ctx, e, &f); err != nil {
		return err
	}
	cfg := labConfig(e, f, args)
	cfg.Experiment, cfg.ExperimentName = exp, name
	if cfg.Objectives, err = objectivesFor(exp, f.objectives); err != nil {
		return err
	}
	if f.ui {
		srv, err := startLive(e, &cfg, f.uiAddr)
		if err != nil {
			return err
		}
		defer func() {
			lingerLive(ctx, e, srv, cfg.OutDir)
			srv.Close(context.WithoutCancel(ctx))
		}()
	}
	runs, err := runOne(ctx, cfg, f.profiles)
	if f.junit != "" {
		jruns := []junit.Run{{Name: shortName(name), Err: fmt.Sprint(err)}}
		if err == nil {
			jruns = junit.FromRuns(shortName(name), runs)
		}
		if jerr := junit.WriteFile(f.junit, "chaoslab run "+shortName(name), jruns); jerr != nil {
			return errors.Join(err, jerr)
		}
	}
	if err != nil {
		return err
	}
	if f.journal != "" && !f.compare {
		if err := copyFile(filepath.Join(cfg.OutDir, results.JournalFile), f.journal); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stdout, "\nresults: %s\nreport:  %s\n", cfg.OutDir, filepath.Join(cfg.OutDir, results.ReportHTML))
	if inconclusive(runs) {
		fmt.Fprintf(e.stderr, "chaoslab: INCONCLUSIVE: %s: the client never lost the backend, so the run proves nothing (check with chaos/README.md's manual Option 1, or use a cluster whose network plugin enforces policies)\n", k8s.InconclusiveWhy)
		return errors.Join(cmdutil.ErrFailed, cmdutil.ErrSilent)
	}
	if !report.RunsPassed(runs) {
		fmt.Fprintf(e.stderr, "chaoslab: FAILED: %s\n", report.RunsFailure(runs))
		return fmt.Errorf("%w", errors.Join(cmdutil.ErrFailed, cmdutil.ErrSilent))
	}
	return nil
}

// startLive serves the live page of the run cfg describes and prints its URL.
func startLive(e *env, cfg *lab.RunConfig, addr string) (*live.Server, error) {
	cfg.Live = live.NewHub()
	srv, err := live.Start(live.Config{Addr: addr, Hub: cfg.Live, ResultsDir: cfg.OutDir})
	if err != nil {
		return nil, cmdutil.Usagef("--ui-addr: %v", err)
	}
	fmt.Fprintf(e.stdout, "live page: %s\n", srv.URL())
	return srv, nil
}

// lingerLive keeps the live page up after the run, with its link to the report, until Ctrl-C.
func lingerLive(ctx context.Context, e *env, srv *live.Server, dir string) {
	if ctx.Err() != nil {
		return
	}
	fmt.Fprintf(e.stdout, "live page: %s shows the verdict and links %s; Ctrl-C to exit\n", srv.URL(), filepath.Join(dir, results.ReportHTML))
	<-ctx.Done()
}

// prepareLab checks what a stack needs, makes its plug and fixes the jitter seed, once for
// every run. On Kubernetes the client's variables are the ConfigMap's (the seed too).
func prepareLab(ctx context.Context, e *env, f *runFlags) error {
	if f.out == "" {
		f.out = filepath.Join("chaoslab-results", time.Now().UTC().Format("20060102T150405Z"))
	}
	if f.stack == k8sStack {
		c, err := f.k8s.cluster(e.getenv)
		if err != nil {
			return err
		}
		f.plug = &k8s.Stack{Cluster: c, Stdout: e.stdout, Topology: f.topo}
		return nil
	}
	f.plug = lab.Processes{Kind: f.stack, Topology: f.topo}
	if f.stack == "netns" {
		if err := netns.Preflight(ctx); err != nil {
			return err
		}
	}
	if _, set := f.env["RETRY_JITTER_SEED"]; !set {
		if f.seed <= 0 {
			f.seed = time.Now().UnixNano()%1_000_000_000 + 1
		}
		f.env["RETRY_JITTER_SEED"] = strconv.FormatInt(f.seed, 10)
	}
	return nil
}

// labConfig is the lab run the flags ask for, without its experiment.
func labConfig(e *env, f runFlags, args []string) lab.RunConfig {
	return lab.RunConfig{Stack: f.plug, Vars: f.vars, RollbackStrategy: f.strategy,
		RPS: f.rps, LoadTimeout: f.loadTimeout, Warmup: f.warmup, Recovery: f.recovery, OutDir: f.out, ClientEnv: f.env,
		LookupEnv: lookupEnv(e.getenv), Stdout: e.stdout, Args: args, Traces: lab.TraceConfig{On: f.traces.on, Sample: f.traceSample}}
}

// runOne runs the experiment once, or once per profile with --compare (profiles non-nil), and
// returns its runs: one with the zero Profile, or the compare's in report.Profiles' order.
func runOne(ctx context.Context, cfg lab.RunConfig, profiles []report.Profile) ([]report.ProfileRun, error) {
	if profiles != nil {
		compare := lab.Compare
		if ks, ok := cfg.Stack.(*k8s.Stack); ok {
			compare = func(ctx context.Context, cfg lab.RunConfig, profiles []report.Profile) (*lab.Comparison, error) {
				return k8s.Compare(ctx, ks, cfg, profiles)
			}
		}
		c, err := compare(ctx, cfg, profiles)
		if c == nil {
			return nil, err
		}
		return c.Runs, err
	}
	out, err := lab.Run(ctx, cfg)
	if out == nil {
		return nil, err
	}
	return []report.ProfileRun{{A: out.Analysis}}, err
}

// compareFlag is --compare as given: alone (or =true) the default profiles, =LIST a list of
// profiles, =false none. The list is checked after parsing (profiles), so that a bad one is a
// usage error naming it.
type compareFlag struct {
	set  bool
	list string // "" = report.DefaultProfiles
}

func (c *compareFlag) IsBoolFlag() bool { return true }

func (c *compareFlag) String() string {
	if c == nil || !c.set {
		return ""
	}
	return c.list
}

func (c *compareFlag) Set(s string) error {
	switch s {
	case "true":
		c.set, c.list = true, ""
	case "false":
		c.set, c.list = false, ""
	default:
		c.set, c.list = true, s
	}
	return nil
}

// profiles are the profiles --compare asks for; nil without --compare.
func (c *compareFlag) profiles() ([]report.Profile, error) {
	switch {
	case !c.set:
		return nil, nil
	case c.list == "":
		return report.DefaultProfiles(), nil
	}
	ps, err := report.ParseProfiles(c.list)
	if err != nil {
		return nil, cmdutil.Usagef("--compare %s: %v", c.list, err)
	}
	return ps, nil
}

// joinCompareValue lets --compare take its list as the next argument, as the flag package
// cannot for a flag that may stand alone: "--compare X" becomes "--compare=X" when X is a list
// (it has a comma) or a profile's name (off, on, adaptive). No experiment is named like a
// profile, so "--compare NAME" still runs NAME with the default profiles. Arguments after "--"
// are left alone.
func joinCompareValue(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if (a == "--compare" || a == "-compare") && i+1 < len(args) && isProfileList(args[i+1]) {
			out = append(out, a+"="+args[i+1])
			i++
			continue
		}
		out = append(out, a)
	}
	return out
}

// isProfileList says whether an argument after --compare is its value: a list of profiles.
func isProfileList(s string) bool {
	_, known := report.ProfileOf(s)
	return known || strings.Contains(s, ",")
}

// shortName is an experiment's name for JUnit: the catalogue name, or the file's base name.
func shortName(name string) string {
	name, _, _ = strings.Cut(name, " (")
	if name == "built-in" {
		return "network-partition"
	}
	return strings.TrimSuffix(strings.TrimSuffix(filepath.Base(name), filepath.Ext(name)), "-experiment")
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("copy the journal: %w", err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		return fmt.Errorf("write --journal-path: %w", err)
	}
	return nil
}
