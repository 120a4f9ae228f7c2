package bench

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	"chaoslab/internal/results"
	"chaoslab/internal/stack"
)

// ServiceConfig configures the service-level bench (chaoslab bench service): an open-loop part
// at fixed rates against client-service healthy, OPEN and HALF_OPEN, and a closed-loop part
// against client-service and proxies in front of the same backend, in interleaved slices.
type ServiceConfig struct {
	Rates        []float64         // open-loop arrival rates, requests per second
	Healthy      time.Duration     // open loop: the healthy window at each rate
	Cycles       int               // open loop: partition -> OPEN -> heal -> HALF_OPEN -> CLOSED cycles at each rate
	StateTimeout time.Duration     // how long a cycle waits for the breaker to reach OPEN, then CLOSED (default 30s)
	Workers      int               // closed loop: concurrent clients, each one request after another
	Warmup       time.Duration     // closed loop: each target's warm-up before the slices
	Slice        time.Duration     // closed loop: one target's turn
	Rounds       int               // closed loop: turns of every target (A B C, A B C, ...)
	HAProxy      string            // the haproxy binary for a third target; "" = none
	Runs         int               // repetitions of the whole bench
	OutDir       string            // each run's stack logs go under it, and service.json
	ClientEnv    map[string]string // client-service's variables (RESILIENCE and the pipeline's)
	Serve        stack.ServeCommand
	Progress     func(string) // told each step as it ends (nil: nothing)
}

// ServiceRun is one run of the service bench.
type ServiceRun struct {
	Open   []OpenRow      `json:"open_loop"`
	Closed []ClosedTarget `json:"closed_loop"`
	Counts []CountCheck   `json:"counts"`
}

// CountCheck compares the bench's count of backend answers with the backend's own counter of
// the GET /api/data it served (http_server_requests_total, any status) over one part of the
// bench. Every backend answer the bench got was served once; a call that failed (timed out,
// cut) may or may not have reached the backend, so those widen the check.
type CountCheck struct {
	Part    string `json:"part"`
	Served  int64  `json:"backend_served"`  // the backend counter's increase over the part
	Counted int64  `json:"backend_answers"` // the backend answers the bench got
	Failed  int64  `json:"calls_uncertain"` // calls that failed on the way: client-service's failed and ignored breaker calls, the proxies' error answers
}

// Agree reports whether the backend served every answer the bench got, and no more than the
// calls that may have reached it besides.
func (c CountCheck) Agree() bool { return c.Counted <= c.Served && c.Served <= c.Counted+c.Failed }

func (cfg *ServiceConfig) say(format string, args ...any) {
	if cfg.Progress != nil {
		cfg.Progress(fmt.Sprintf(format, args...))
	}
}

// RunService runs the service bench cfg.Runs times, each run on its own local stack, and returns
// the runs made (also when an error stops it).
func RunService(ctx context.Context, cfg ServiceConfig) ([]ServiceRun, error) {
	if cfg.StateTimeout == 0 {
		cfg.StateTimeout = 30 * time.Second
	}
	var runs []ServiceRun
	for i := range cfg.Runs {
		r, err := serviceRun(ctx, cfg, i+1)
		if err != nil {
			return runs, fmt.Errorf("run %d of %d: %w", i+1, cfg.Runs, err)
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// serviceRun starts a stack and measures the healthy open-loop windows, the closed loop, then the
// open loop's cycles at each rate.
func serviceRun(ctx context.Context, cfg ServiceConfig, n int) (ServiceRun, error) {
	var run ServiceRun
	dir := filepath.Join(cfg.OutDir, fmt.Sprintf("run%d", n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return run, fmt.Errorf("create %s: %w", dir, err)
	}
	tl := NewTimeline(StateClosed)
	events := results.NewEventTap()
	events.Observe(tl.Observe)
	env := maps.Clone(cfg.ClientEnv)
	// client-service as deployed (LOG_LEVEL=info): the proxies beside it log nothing, and the
	// breaker's transitions the cycles follow are info lines.
	s, err := stack.Start(ctx, stack.Config{Kind: "local", Dir: dir, ClientEnv: env, Serve: cfg.Serve, Events: events, ClientLogLevel: "info"})
	if err != nil {
		return run, err
	}
	defer s.Close(context.WithoutCancel(ctx))
	sv := &serviceStack{stack: s, timeline: tl}
	// The healthy windows and the closed loop come first, on a stack no fault has touched yet, so
	// that no request held up by a partition can reach the backend during a counted part.
	healthy := map[float64]OpenRow{}
	for _, rps := range cfg.Rates {
		row, check, err := healthyWindow(ctx, cfg, sv, rps)
		healthy[rps] = row
		if check != nil {
			run.Counts = append(run.Counts, *check)
		}
		if err != nil {
			return run, fmt.Errorf("open loop at %g/s, healthy: %w", rps, err)
		}
	}
	targets, check, err := serviceClosedLoop(ctx, cfg, sv, dir)
	run.Closed = targets
	if check != nil {
		run.Counts = append(run.Counts, *check)
	}
	if err != nil {
		return run, fmt.Errorf("closed loop: %w", err)
	}
	for _, rps := range cfg.Rates {
		rows, err := cycles(ctx, cfg, sv, rps)
		run.Open = append(run.Open, healthy[rps])
		run.Open = append(run.Open, rows...)
		if err != nil {
			return run, fmt.Errorf("open loop at %g/s, cycles: %w", rps, err)
		}
	}
	select {
	case e := <-s.Died():
		return run, fmt.Errorf("%s exited during the run (%s): see its log under %s", e.Service, e.How, dir)
	default:
	}
	return run, nil
}
