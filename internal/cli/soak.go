package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"chaoslab/chaos"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/lab"
	"chaoslab/internal/live"
	"chaoslab/internal/load"
	"chaoslab/internal/netns"
	"chaoslab/internal/results"
	"chaoslab/internal/soak"
	"chaoslab/internal/stack"
)

const soakHelp = `
Usage: chaoslab soak [flags]

Starts chaoslab up's stack (on free ports), keeps it under open-loop load on client-service's
/api/data for --duration, applies a fault every --fault-every (each for --fault-for, then
removed), rotating through the catalogue entries the stack supports (chaoslab list), and every
--sample-every samples each process: chaoslab itself, backend-service and client-service.

Each sample reads, from Linux's /proc/PID/status and /proc/PID/fd, the resident memory (VmRSS)
and the open file descriptors. For chaoslab it also counts goroutines (runtime.NumGoroutine);
the services export no goroutine count (their /metrics have no Go collector and they serve no
/debug/pprof), so for them the table shows OS threads (Threads of /proc/PID/status) instead.

It prints one table line per sample (time, requests so far, in flight, dropped, errors, then
rss MB, gor or thr, fds per process, and the fault in place), then a summary and a verdict.
After warm-up (the samples taken in the first 20 % of --duration, or until every fault of the
rotation has been applied and removed once if that is later; at least 2 samples) each process
is judged on the samples of its last PID (a service restarted by a fault starts afresh):
  rss         with n samples and k = n/3 (1 to 12), the median RSS of the last k may exceed
              the median of the first k by at most 10 % or by at most 5 MB (a Go process's
              RSS moves in steps of MBs: it fails when it grows by more than both)
  gor/thr/fds fail when each of the last 5 samples is higher than the one before and the
              last is more than 2 above the first
  lost        every arrival of the load must end as a record (a dropped one is a record too),
              and every request sent as the record of an answer, counted once the load stopped
  faults      every apply and remove must succeed

Writes samples.csv (every sample, as it is taken), summary.txt and the services' logs into
--out. Exit status: 0 every check passed; 1 a check failed, a service died, or Ctrl-C stopped
the soak early (the table so far, a summary and a verdict on what was seen are still printed
and written); 2 bad flags.
`

// soakLoadGrace is how long a soak stopped early lets its requests in flight finish before the
// stack stops under them.
const soakLoadGrace = 2 * time.Second

type soakFlags struct {
	kind, out, faults              string
	rps                            float64
	duration, every, faultFor, smp time.Duration
	env                            envFlag
}

func parseSoakFlags(e *env, args []string) (soakFlags, error) {
	f := soakFlags{env: envFlag{}}
	fs := newFlags("soak", soakHelp, e.stdout)
	fs.StringVar(&f.kind, "stack", "local", "where to run: "+strings.Join(stack.KindNames(), " | "))
	fs.StringVar(&f.out, "out", "", "results folder (default ./chaoslab-results/soak-<UTC timestamp>)")
	fs.Var(f.env, "env", "set a pipeline variable for client-service: KEY=VALUE (repeatable)")
	fs.Float64Var(&f.rps, "rps", 20, "load on client-service's /api/data, requests per second")
	fs.DurationVar(&f.duration, "duration", time.Hour, "how long to soak")
	fs.StringVar(&f.faults, "faults", "", "the catalogue entries to rotate, comma-separated (default: every entry the stack supports)")
	fs.DurationVar(&f.every, "fault-every", time.Minute, "apply a fault every this long (0 = no faults)")
	fs.DurationVar(&f.faultFor, "fault-for", 20*time.Second, "how long each fault stays before it is removed")
	fs.DurationVar(&f.smp, "sample-every", 10*time.Second, "how often to sample the processes")
	pos, err := parse(fs, args)
	if err != nil {
		return f, err
	}
	if len(pos) > 0 {
		return f, cmdutil.Usagef("soak takes no arguments, got %v", pos)
	}
	if err := f.check(); err != nil {
		return f, err
	}
	if err := f.checkFaults(); err != nil {
		return f, err
	}
	return f, stack.CheckClientEnv(f.env)
}

// checkFaults checks the names of --faults against the catalogue and the stack.
func (f soakFlags) checkFaults() error {
	for _, name := range f.faultNames() {
		e, ok := chaos.Lookup(name)
		if !ok {
			return cmdutil.Usagef("--faults: no entry %q in the catalogue: one of %s (chaoslab list)", name, strings.Join(chaos.Names(), ", "))
		}
		if ok, why := e.Supports(f.kind); !ok {
			return cmdutil.Usagef("--faults: %s", why)
		}
	}
	return nil
}

// faultNames are the entries of --faults (nil = all).
func (f soakFlags) faultNames() []string {
	var out []string
	for _, n := range strings.Split(f.faults, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// rotation is the entries to rotate: those of --faults, or every one the stack can apply.
func (f soakFlags) rotation(offered []live.Fault) ([]string, error) {
	var all []string
	for _, ft := range offered {
		all = append(all, ft.Name)
	}
	names := f.faultNames()
	if len(names) == 0 {
		names = all
	}
	for _, n := range names {
		if !slices.Contains(all, n) {
			return nil, fmt.Errorf("--faults: %s applies nothing through the fault API on --stack %s", n, f.kind)
		}
	}
	if f.every > 0 && len(names) == 0 {
		return nil, fmt.Errorf("no catalogue entry applies a fault on --stack %s (chaoslab list); use --fault-every 0 to soak without faults", f.kind)
	}
	return names, nil
}

func (f soakFlags) check() error {
	need := soak.DefaultRules().MinSamples()
	switch {
	case !slices.Contains(stack.KindNames(), f.kind):
		return cmdutil.Usagef("--stack %q: use one of %s", f.kind, strings.Join(stack.KindNames(), ", "))
	case !(f.rps > 0 && f.rps <= 10000): // also rejects NaN
		return cmdutil.Usagef("--rps %g: must be > 0 and <= 10000 requests per second", f.rps)
	case f.duration <= 0:
		return cmdutil.Usagef("--duration %v: must be > 0", f.duration)
	case f.smp <= 0:
		return cmdutil.Usagef("--sample-every %v: must be > 0", f.smp)
	case int(f.duration/f.smp)+1 < need:
		return cmdutil.Usagef("--duration %v with --sample-every %v gives %d samples; the verdict needs at least %d: a longer --duration or a shorter --sample-every",
			f.duration, f.smp, int(f.duration/f.smp)+1, need)
	case f.every < 0:
		return cmdutil.Usagef("--fault-every %v: must be >= 0 (0 = no faults)", f.every)
	case f.every > 0 && (f.faultFor <= 0 || f.faultFor >= f.every):
		return cmdutil.Usagef("--fault-for %v: must be > 0 and shorter than --fault-every %v", f.faultFor, f.every)
	case f.every > 0 && f.every+f.faultFor > f.duration:
		return cmdutil.Usagef("--fault-every %v plus --fault-for %v is longer than --duration %v: no fault would be applied (--fault-every 0 for none)",
			f.every, f.faultFor, f.duration)
	}
	return nil
}

func soakCmd(ctx context.Context, e *env, args []string) error {
	f, err := parseSoakFlags(e, args)
	if err != nil {
		return err
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		return fmt.Errorf("soak reads /proc (Linux only): %w", err)
	}
	if f.kind == "netns" {
		if err := netns.Preflight(ctx); err != nil {
			return err
		}
	}
	if f.out == "" {
		f.out = filepath.Join("chaoslab-results", "soak-"+time.Now().UTC().Format("20060102T150405Z"))
	}
	if err := os.MkdirAll(f.out, 0o755); err != nil {
		return fmt.Errorf("create --out folder: %w", err)
	}
	s, err := stack.Start(ctx, stack.Config{Kind: f.kind, Dir: f.out, ClientEnv: f.env, Notify: func(m string) { fmt.Fprintln(e.stdout, m) }})
	if err != nil {
		return fmt.Errorf("start the stack: %w", err)
	}
	defer s.Close(context.WithoutCancel(ctx))
	return runSoak(ctx, e, f, s)
}

// runSoak soaks the running stack s, prints and writes what it saw and returns the verdict.
func runSoak(ctx context.Context, e *env, f soakFlags, s *stack.Stack) error {
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go func() {
		select {
		case x := <-s.Died():
			stop(fmt.Errorf("%s exited (%s; see %s): %w", x.Service, x.How, filepath.Join(f.out, "*.log"), cmdutil.ErrFailed))
		case <-runCtx.Done():
		}
	}()
	actions := live.NewCatalogueActions(f.kind, map[string]string{lab.EnvClientURL: s.ClientURL, lab.EnvBackendURL: s.BackendURL, lab.EnvToxiproxyURL: s.FaultURL}, nil)
	rotation, err := f.rotation(actions.Faults())
	if err != nil {
		return err
	}
	csvFile, err := os.Create(filepath.Join(f.out, "samples.csv"))
	if err != nil {
		return fmt.Errorf("create samples.csv: %w", err)
	}
	defer csvFile.Close()
	var tally soak.Tally
	l := startSoakLoad(runCtx, s.ClientURL+"/api/data", f.rps, &tally)
	printSoak(e.stdout, f, rotation)
	out := &lockedWriter{w: e.stdout}
	table, samples := soak.NewTable(out), soak.NewCSV(csvFile)
	var csvErr error
	cfg := soak.Config{Duration: f.duration, SampleEvery: f.smp, FaultEvery: f.every, FaultFor: f.faultFor,
		Rotation: rotation, Faults: actions, Targets: soakTargets(s), Load: tally.Counts,
		OnSample: func(x soak.Sample) {
			table.Row(x)
			csvErr = firstErr(csvErr, samples.Write(x))
		},
		OnFault: func(ev soak.FaultEvent) {
			if ev.Err != nil {
				fmt.Fprintf(out, "%s %s %s failed: %v\n", ev.Elapsed.Round(time.Second), ev.Action, ev.Name, ev.Err)
			}
		}}
	res := soak.Run(runCtx, cfg)
	l.finish(res.Stopped, s, ctx)
	return soakVerdict(e, f, cfg, res, tally.Counts(), context.Cause(runCtx), csvErr)
}

// soakVerdict judges, prints and writes the summary and turns the outcome into the error.
func soakVerdict(e *env, f soakFlags, cfg soak.Config, res soak.Result, final soak.LoadCounts, cause, csvErr error) error {
	rules := soak.DefaultRules()
	v := soak.Judge(res.Samples, final, res.FaultErrors(), rules.WarmupEnd(cfg), rules)
	var sum bytes.Buffer
	soak.Summary(&sum, res, v)
	fmt.Fprint(e.stdout, sum.String())
	werr := os.WriteFile(filepath.Join(f.out, "summary.txt"), sum.Bytes(), 0o644)
	fmt.Fprintf(e.stdout, "results: %s (samples.csv, summary.txt, the services' logs)\n", f.out)
	switch {
	case cause != nil && errors.Is(cause, cmdutil.ErrFailed):
		return cause // a service died
	case res.Stopped:
		return fmt.Errorf("soak stopped early, after %d samples: %w", len(res.Samples), cmdutil.ErrFailed)
	case csvErr != nil || werr != nil:
		return fmt.Errorf("write the results into %s: %w", f.out, firstErr(csvErr, werr))
	case !v.Passed():
		return fmt.Errorf("soak: %d check(s) failed: %w", len(v.Failures()), cmdutil.ErrFailed)
	}
	return nil
}

func printSoak(w io.Writer, f soakFlags, rotation []string) {
	fmt.Fprintf(w, "soak: %v at %g requests/s on the %s stack, a sample every %v; results in %s\n", f.duration, f.rps, f.kind, f.smp, f.out)
	if f.every > 0 {
		fmt.Fprintf(w, "faults: one every %v for %v, in turn: %s\n", f.every, f.faultFor, strings.Join(rotation, ", "))
	} else {
		fmt.Fprintln(w, "faults: none (--fault-every 0)")
	}
	fmt.Fprintln(w, "chaoslab: gor = goroutines; services: thr = OS threads (they export no goroutine count)")
	fmt.Fprintln(w)
}

// soakTargets are chaoslab itself and the stack's two services, whose PIDs change on a restart.
func soakTargets(s *stack.Stack) []soak.Target {
	self := soak.Target{Name: "chaoslab", Process: func() (int, bool) { return os.Getpid(), true }, Goroutines: runtime.NumGoroutine}
	out := []soak.Target{self}
	for _, name := range []string{results.BackendService, results.ClientService} {
		out = append(out, soak.Target{Name: name, Process: func() (int, bool) {
			st := s.Status(name)
			return st.PID, st.Running
		}})
	}
	return out
}

// soakLoad is the soak's open-loop load, counted by a soak.Tally: each send at the transport,
// each record as it comes.
type soakLoad struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func startSoakLoad(ctx context.Context, target string, rps float64, tally *soak.Tally) *soakLoad {
	ctx, cancel := context.WithCancel(ctx)
	l := &soakLoad{cancel: cancel, done: make(chan struct{})}
	client := load.NewHTTPClient()
	client.Transport = countSends{tally: tally, next: client.Transport}
	go func() {
		defer close(l.done)
		_ = load.Run(ctx, load.Config{Target: target, RPS: rps, Timeout: load.DefaultTimeout}, client, tally.Record) // valid: flags checked
	}()
	return l
}

// finish stops the sending and waits for every request in flight to end: at once after a
// complete soak (they end within their timeout); after a stop, once soakLoadGrace has passed,
// the stack is closed under them so they end now.
func (l *soakLoad) finish(stopped bool, s *stack.Stack, ctx context.Context) {
	l.cancel()
	if stopped {
		select {
		case <-l.done:
		case <-time.After(soakLoadGrace):
			s.Close(context.WithoutCancel(ctx))
		}
	}
	<-l.done
}

// countSends counts each request of the load as it reaches the transport.
type countSends struct {
	tally *soak.Tally
	next  http.RoundTripper
}

func (c countSends) RoundTrip(req *http.Request) (*http.Response, error) {
	id, err := strconv.ParseUint(req.Header.Get(results.RequestIDHeader), 10, 64)
	if err == nil && req.Response == nil { // a redirect's request is not a new send
		c.tally.Sent(id)
	}
	return c.next.RoundTrip(req)
}

// lockedWriter serializes the table's lines and the faults' messages.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// firstErr returns the first non-nil error.
func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
