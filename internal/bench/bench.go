package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"chaoslab/chaos"
	"chaoslab/internal/experiment"
	"chaoslab/internal/lab"
	"chaoslab/internal/report"
	"chaoslab/internal/results"
	"chaoslab/internal/stack"
)

// The catalogue entries the bench runs, and what it reads of each.
const (
	Partition   = "network-partition"              // detection and recovery
	HTTPErrors  = "http-errors"                    // amplification and backend share under 503s
	LatencyStep = "backend-latency-within-timeout" // the adaptive timeout's trap
)

// ErrorPercentage is the share of backend answers turned into 503 in the http-errors run.
const ErrorPercentage = 30

// StepLatency is the latency step of the LatencyStep run, in ms (within the 1 s ATTEMPT_TIMEOUT).
const StepLatency = 300

// StepTarget is the share of backend answers the StepRecovery figure waits for.
const StepTarget = 0.99

// Config configures a bench.
type Config struct {
	Profiles   []string          // RESILIENCE values, the first is the reference of the ratios
	RPS        float64           // open-loop load of the fault runs
	Warmup     time.Duration     // healthy load before each fault (its calls give the false-timeout share)
	Fault      time.Duration     // how long each fault lasts (whole seconds)
	Recovery   time.Duration     // load after each fault
	Throughput time.Duration     // length of the closed-loop throughput run
	Workers    int               // its concurrent requests
	Runs       int               // repetitions of the whole bench, for the spread
	OutDir     string            // each run's results folder goes under it
	ClientEnv  map[string]string // pipeline variables for every profile (RESILIENCE is set per profile)
	Serve      stack.ServeCommand
	LookupEnv  func(string) (string, bool)
	Stdout     io.Writer // one progress line per measurement
}

// Figures are one profile's measurements in one run of the bench.
type Figures struct {
	Profile string

	// Partition run: from the fault's injection to the first fallback, and from its removal to
	// the first backend answer (nil: not seen).
	FaultToFallback, HealToBackend *time.Duration
	// Backend calls in the healthy phase (before the fault) of the three fault runs, and those
	// of them that timed out.
	HealthyCalls, HealthyTimeouts int
	// http-errors run, requests sent during the fault: backend calls per request, and the shares
	// answered by the backend and answered at all (200, backend or fallback).
	Amplification, BackendShare, Answered float64
	ErrorRequests                         int // the requests those shares are of
	// Latency step run: from the step to the moment after which at least StepTarget of the
	// requests until its removal were answered by the backend (nil: never).
	StepRecovery *time.Duration
	// Closed loop on a healthy backend: requests the backend answered per second, and the share
	// of the loop's answers the fallback made instead (false timeouts under saturation).
	Throughput, LoopFallbackShare float64
}

// FalseTimeoutShare is HealthyTimeouts / HealthyCalls (0 without calls).
func (f Figures) FalseTimeoutShare() float64 {
	if f.HealthyCalls == 0 {
		return 0
	}
	return float64(f.HealthyTimeouts) / float64(f.HealthyCalls)
}

// Run runs the bench cfg.Runs times, each profile in turn, and returns the figures: one slice
// per run, one Figures per profile in cfg.Profiles' order.
func Run(ctx context.Context, cfg Config) ([][]Figures, error) {
	var all [][]Figures
	for run := range cfg.Runs {
		dir := filepath.Join(cfg.OutDir, fmt.Sprintf("run%d", run+1))
		var figs []Figures
		for _, p := range cfg.Profiles {
			f, err := Measure(ctx, cfg, p, filepath.Join(dir, p))
			if err != nil {
				return all, fmt.Errorf("run %d, RESILIENCE=%s: %w", run+1, p, err)
			}
			figs = append(figs, f)
		}
		if err := throughputs(ctx, cfg, figs, filepath.Join(dir, "throughput")); err != nil {
			return all, fmt.Errorf("run %d, throughput: %w", run+1, err)
		}
		all = append(all, figs)
	}
	return all, nil
}

// Measure takes one profile's figures but the throughput (see throughputs), with its runs'
// folders under dir.
func Measure(ctx context.Context, cfg Config, profile, dir string) (Figures, error) {
	f := Figures{Profile: profile}
	secs := max(1, int(cfg.Fault.Round(time.Second)/time.Second))
	runs := []struct {
		name string
		vars map[string]any
		take func(a *report.Analysis)
	}{
		{Partition, map[string]any{"partition_duration": secs}, func(a *report.Analysis) {
			f.FaultToFallback, f.HealToBackend = a.FirstFallbackAfterFault, a.FirstBackendAfterHeal
		}},
		{HTTPErrors, map[string]any{"fault_duration": secs, "error_percentage": ErrorPercentage}, func(a *report.Analysis) {
			d := a.Phases[1]
			f.Amplification, f.ErrorRequests = d.Amplification, d.Sent
			if d.Sent > 0 {
				f.BackendShare, f.Answered = float64(d.Backend)/float64(d.Sent), float64(d.OK200)/float64(d.Sent)
			}
		}},
		{LatencyStep, map[string]any{"fault_duration": secs, "latency_ms": StepLatency}, func(a *report.Analysis) {
			f.StepRecovery = StepRecovery(a, StepTarget)
		}},
	}
	for _, r := range runs {
		a, err := labRun(ctx, cfg, profile, r.name, r.vars, filepath.Join(dir, r.name))
		if err != nil {
			return f, err
		}
		if a.FaultOn == nil {
			return f, fmt.Errorf("%s: the fault was never injected (see %s)", r.name, a.Dir)
		}
		r.take(a)
		f.HealthyCalls += a.Calls[0].Attempts
		f.HealthyTimeouts += a.Calls[0].TimedOut
		progress(cfg, profile, r.name, f)
	}
	return f, nil
}

// progress says what was just measured.
func progress(cfg Config, profile, what string, f Figures) {
	var s string
	switch what {
	case Partition:
		s = fmt.Sprintf("partition -> first fallback %s, heal -> first backend answer %s", optional(f.FaultToFallback), optional(f.HealToBackend))
	case HTTPErrors:
		s = fmt.Sprintf("%d%% 503s: %.2f calls per request, %.1f%% answered by the backend", ErrorPercentage, f.Amplification, 100*f.BackendShare)
	case LatencyStep:
		s = fmt.Sprintf("latency step to %d ms: %.0f%% backend answers after %s", StepLatency, 100*StepTarget, optional(f.StepRecovery))
	default:
		s = fmt.Sprintf("%.0f requests/s answered by the backend (%d workers; %.2f%% of the answers by the fallback)", f.Throughput, cfg.Workers, 100*f.LoopFallbackShare)
	}
	fmt.Fprintf(cfg.Stdout, "  %-9s %-31s %s\n", profile, what, s)
}

// labRun runs one catalogue entry with profile and returns its analysis.
func labRun(ctx context.Context, cfg Config, profile, name string, vars map[string]any, dir string) (*report.Analysis, error) {
	en, ok := chaos.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("no catalogue entry %q", name)
	}
	exp, err := experiment.Parse(en.Data, "json")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	env := maps.Clone(cfg.ClientEnv)
	if env == nil {
		env = map[string]string{}
	}
	env["RESILIENCE"] = profile
	out, err := lab.Run(ctx, lab.RunConfig{Stack: lab.Processes{Kind: "local", Serve: cfg.Serve}, Experiment: exp, ExperimentName: name, Vars: vars,
		RPS: cfg.RPS, LoadTimeout: 20 * time.Second, Warmup: cfg.Warmup, Recovery: cfg.Recovery, OutDir: dir,
		ClientEnv: env, LookupEnv: cfg.LookupEnv, Stdout: io.Discard, Objectives: map[string]float64{}})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if out.Analysis == nil {
		return nil, fmt.Errorf("%s: no analysis (see %s)", name, dir)
	}
	return out.Analysis, nil
}

// StepRecovery is, for the requests sent while the fault was on, the time from the fault's
// injection to the scheduled arrival of the first request from which on at least target of
// them were answered by the backend; 0 when that holds from the start, nil when it never does.
func StepRecovery(a *report.Analysis, target float64) *time.Duration {
	if a.FaultOn == nil || a.FaultOff == nil {
		return nil
	}
	var in []results.Record
	for _, r := range a.Records { // sorted by Start
		if !r.Start.Before(*a.FaultOn) && r.Start.Before(*a.FaultOff) && r.Answered() {
			in = append(in, r)
		}
	}
	var found *time.Duration
	backend := 0
	for i := len(in) - 1; i >= 0; i-- {
		if in[i].Source == results.SourceBackend {
			backend++
		}
		if float64(backend) >= target*float64(len(in)-i) {
			d := in[i].Start.Sub(*a.FaultOn)
			found = &d
		}
	}
	return found
}

// throughputRounds is how many slices each profile's throughput is measured in.
const throughputRounds = 5

// throughputs starts one stack per profile of figs, all at once, and measures the closed-loop
// throughput of each: cfg.Workers workers send through client-service one request after another,
// in throughputRounds slices of cfg.Throughput/throughputRounds taken in turn (profile A, B, A,
// B, ...), so that every profile meets the same moments of a noisy machine and their ratio is
// fair. An idle stack costs next to nothing. Each profile gets a second of warm-up first.
// It sets Throughput (backend answers per second) and LoopFallbackShare of each.
func throughputs(ctx context.Context, cfg Config, figs []Figures, dir string) error {
	type target struct {
		url               string
		backend, fallback int64
	}
	if err := lab.MakeResultsDir(dir); err != nil {
		return err
	}
	targets := make([]*target, len(figs))
	for i, f := range figs {
		env := maps.Clone(cfg.ClientEnv)
		if env == nil {
			env = map[string]string{}
		}
		env["RESILIENCE"] = f.Profile
		sdir := filepath.Join(dir, f.Profile)
		if err := os.MkdirAll(sdir, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", sdir, err)
		}
		s, err := stack.Start(ctx, stack.Config{Kind: "local", Dir: sdir, ClientEnv: env, Serve: cfg.Serve})
		if err != nil {
			return fmt.Errorf("RESILIENCE=%s: %w", f.Profile, err)
		}
		defer s.Close(context.WithoutCancel(ctx))
		targets[i] = &target{url: s.ClientURL + "/api/data"}
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Workers}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for _, t := range targets {
		if _, _, err := closedLoop(ctx, client, t.url, cfg.Workers, time.Second); err != nil {
			return err
		}
	}
	slice := cfg.Throughput / throughputRounds
	for range throughputRounds {
		for i, t := range targets {
			b, f, err := closedLoop(ctx, client, t.url, cfg.Workers, slice)
			if err != nil {
				return fmt.Errorf("RESILIENCE=%s: %w", figs[i].Profile, err)
			}
			t.backend += b
			t.fallback += f
		}
	}
	for i, t := range targets {
		f := &figs[i]
		f.Throughput = float64(t.backend) / (slice * throughputRounds).Seconds()
		if n := t.backend + t.fallback; n > 0 {
			f.LoopFallbackShare = float64(t.fallback) / float64(n)
		}
		progress(cfg, f.Profile, "throughput", *f)
	}
	return nil
}

// closedLoop has workers GET url one after another for d, and counts the 200 answers of the
// backend and of the fallback (X-Fallback). Any other answer is an error: the backend is healthy.
func closedLoop(ctx context.Context, client *http.Client, url string, workers int, d time.Duration) (backend, fallback int64, _ error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var ok, fb atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				if err != nil {
					errs <- err
					return
				}
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs <- err
					}
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode != http.StatusOK:
					errs <- fmt.Errorf("GET %s answered %d on a healthy backend", url, resp.StatusCode)
					return
				case resp.Header.Get("X-Fallback") != "":
					fb.Add(1)
				default:
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if parent := context.Cause(ctx); parent != nil && !errors.Is(parent, context.DeadlineExceeded) {
		return ok.Load(), fb.Load(), parent
	}
	return ok.Load(), fb.Load(), errors.Join(all...)
}

func optional(d *time.Duration) string {
	if d == nil {
		return "n/a"
	}
	return report.FormatDuration(*d)
}
