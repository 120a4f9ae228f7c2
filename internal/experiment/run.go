package experiment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"sync"
	"time"
)

// Journal statuses.
const (
	StatusCompleted   = "completed"
	StatusFailed      = "failed"
	StatusAborted     = "aborted"
	StatusInterrupted = "interrupted"
)

// Phases reported in ActivityEvent.Phase.
const (
	PhaseBefore    = "steady-state-before"
	PhaseMethod    = "method"
	PhaseAfter     = "steady-state-after"
	PhaseRollbacks = "rollbacks"
)

// rollbackPhaseTimeout bounds the whole rollback phase once the run was interrupted or not:
// rollbacks run on a context detached from the caller's, so they need their own bound.
const rollbackPhaseTimeout = 60 * time.Second

// Options tune Validate and Run. The zero value is usable.
type Options struct {
	Vars             map[string]any              // --var overrides, on top of the configuration
	RollbackStrategy string                      // default|always|never|deviated; "" means "always"
	LookupEnv        func(string) (string, bool) // nil = os.LookupEnv
	Logger           *slog.Logger                // nil = discard
	// Observer, when set, receives an event as each activity starts and ends. Calls are
	// serialized (never two at once) but may come from different goroutines, since background
	// activities run on their own; the observer must not block for long.
	Observer   func(ActivityEvent)
	HTTPClient *http.Client     // nil = a client that opens a fresh connection per request
	Now        func() time.Time // nil = time.Now
	// Native runs the python providers it supports (the Kubernetes stack's chaosk8s functions);
	// nil = none: an experiment with a python provider is refused.
	Native Native
}

// ActivityEvent reports an activity starting (Action "start") or ending (Action "end"). Status,
// Output and Err are set on "end": Status is succeeded, failed, or "" when the activity aborted
// the run or was interrupted (Err says why).
type ActivityEvent struct {
	Time   time.Time
	Phase  string // PhaseBefore, PhaseMethod, PhaseAfter or PhaseRollbacks
	Name   string
	Type   string // probe or action
	Action string // start or end
	Status string
	Output any
	Err    string
}

// Run validates the experiment and checks that it is runnable (no python provider); those errors
// come back without a journal. Otherwise it runs it and always returns the journal: hypothesis
// before -> method -> hypothesis after -> rollbacks by strategy. When ctx is cancelled during
// the hypothesis or the method, the running activity is stopped at once, the rest is skipped,
// the status becomes interrupted, and the rollbacks still run by strategy on a detached context
// bounded by a minute.
func Run(ctx context.Context, exp *Experiment, opts Options) (*Journal, error) {
	if _, err := Validate(exp, opts); err != nil {
		return nil, err
	}
	if err := CheckRunnableWith(exp, opts.Native); err != nil {
		return nil, err
	}
	r := newRunner(exp, opts)
	r.run(withNative(ctx, opts.Native))
	return r.j, nil
}

type runner struct {
	exp      *Experiment
	conf     map[string]any
	strategy string
	log      *slog.Logger
	now      func() time.Time
	env      providerEnv
	provs    map[string]provider
	observer func(ActivityEvent)

	obsMu sync.Mutex // serializes observer calls
	mu    sync.Mutex // guards appends to the journal's lists from background activities
	j     *Journal
}

func newRunner(exp *Experiment, opts Options) *runner {
	r := &runner{exp: exp, strategy: opts.RollbackStrategy, log: opts.Logger, now: opts.Now,
		provs: providers(), observer: opts.Observer}
	r.conf, _ = configuration(exp, opts.LookupEnv, opts.Vars)
	if r.strategy == "" {
		r.strategy = "always"
	}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if r.now == nil {
		r.now = time.Now
	}
	r.env.client = opts.HTTPClient
	if r.env.client == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DisableKeepAlives = true // like requests' new Session per activity: fresh connections
		r.env.client = &http.Client{Transport: t}
	}
	return r
}

func (r *runner) run(ctx context.Context) {
	node, _ := os.Hostname()
	start := r.now()
	r.j = &Journal{ChaoslibVersion: "chaoslab", Platform: runtime.GOOS + "-" + runtime.GOARCH, Node: node,
		Experiment: r.exp.journalJSON(), Start: Timestamp(start), Run: []*Entry{}, Rollbacks: []*Entry{},
		SteadyStates: SteadyStates{During: []any{}}}
	r.log.Info("Running experiment: " + r.exp.Title())
	r.log.Info("Rollbacks strategy: " + r.strategy)
	r.experiment(ctx)
	if r.j.Status == "" {
		r.j.Status = StatusCompleted
	}
	r.rollbacks(ctx)
	end := r.now()
	r.j.End, r.j.Duration = Timestamp(end), Seconds(end.Sub(start).Seconds())
	status := r.j.Status
	if r.j.Deviated {
		status = "deviated"
	}
	r.log.Info("Experiment ended with status: " + status)
	if r.j.Deviated {
		r.log.Info("The steady-state has deviated, a weakness may have been discovered")
	}
}

// experiment runs the hypothesis before, the method and the hypothesis after, and sets the
// journal's status and deviated flag.
func (r *runner) experiment(ctx context.Context) {
	withHypothesis := len(r.exp.hypothesisProbes()) > 0
	if !withHypothesis {
		r.log.Info("No steady state hypothesis defined. That's ok, just exploring.")
	}
	if withHypothesis {
		state, oc := r.hypothesis(ctx, PhaseBefore)
		r.j.SteadyStates.Before = state
		if r.stop(ctx, oc) || !*state.SteadyStateMet {
			return
		}
	}
	if r.stop(ctx, r.method(ctx)) || !withHypothesis {
		return
	}
	state, oc := r.hypothesis(ctx, PhaseAfter)
	r.j.SteadyStates.After = state
	if state.SteadyStateMet != nil && !*state.SteadyStateMet {
		r.j.Deviated = true
	}
	r.stop(ctx, oc)
}

// stop records how a phase ended in the journal's status and reports whether the run must
// stop there.
func (r *runner) stop(ctx context.Context, oc outcome) bool {
	switch {
	case ctx.Err() != nil || oc == outcomeInterrupted:
		r.j.Status = StatusInterrupted
		r.log.Warn("Received a termination signal (Ctrl-C)...")
	case oc == outcomeAborted:
		r.j.Status = StatusAborted
		r.log.Error("Experiment ran into an unexpected fatal error, aborting now.")
	case oc == outcomeFailed:
		r.j.Status = StatusFailed
	default:
		return false
	}
	return true
}

// hypothesis runs the hypothesis probes in order and stops at the first that fails or is out
// of tolerance. A failing probe makes the outcome failed; a probe out of tolerance only makes
// the state not met.
func (r *runner) hypothesis(ctx context.Context, phase string) (*Hypothesis, outcome) {
	title, _ := getString(r.exp.hypothesis(), "title")
	r.log.Info("Steady state hypothesis: " + title)
	state := &Hypothesis{Probes: []*Entry{}}
	met, cut := false, false
	defer func() {
		if !cut {
			state.SteadyStateMet = &met
		}
	}()
	for _, p := range r.exp.hypothesisProbes() {
		entry, oc := r.execute(ctx, phase, p, func(e *Entry) { state.Probes = append(state.Probes, e) })
		switch oc {
		case outcomeFailed:
			entry.ToleranceMet = new(bool)
			r.log.Warn("Probe terminated unexpectedly, so its tolerance could not be validated")
			return state, oc
		case outcomeAborted, outcomeInterrupted:
			cut = true
			return state, oc
		}
		ok := withinTolerance(substitute(mustGet(p, "tolerance"), r.conf), entry.Output)
		entry.ToleranceMet = &ok
		if !ok {
			r.log.Error(fmt.Sprintf("Steady state probe '%s' is not in the given tolerance so failing this experiment", entry.Name()))
			return state, outcomeSucceeded
		}
	}
	met = true
	r.log.Info("Steady state hypothesis is met!")
	return state, outcomeSucceeded
}

// method plays the method's activities; failures do not stop it, an abort or an interruption
// does. Background activities run on their own and the method waits for them all.
func (r *runner) method(ctx context.Context) outcome {
	r.log.Info("Playing your experiment's method now...")
	return r.playList(ctx, PhaseMethod, r.exp.section("method"), r.appendTo(&r.j.Run), true)
}

func (r *runner) appendTo(list *[]*Entry) func(*Entry) {
	return func(e *Entry) {
		r.mu.Lock()
		defer r.mu.Unlock()
		*list = append(*list, e)
	}
}

// playList runs activities in order (background ones concurrently) and returns the worst
// outcome among aborted and interrupted. With stopOnAbort, an abort skips the rest.
func (r *runner) playList(ctx context.Context, phase string, list []*Object, add func(*Entry), stopOnAbort bool) outcome {
	var wg sync.WaitGroup
	var mu sync.Mutex
	result := outcomeSucceeded
	record := func(oc outcome) {
		mu.Lock()
		defer mu.Unlock()
		if oc == outcomeInterrupted || (oc == outcomeAborted && result != outcomeInterrupted) {
			result = oc
		}
	}
	for _, a := range list {
		if ctx.Err() != nil {
			record(outcomeInterrupted)
			break
		}
		if bg, _ := mustGet(a, "background").(bool); bg {
			r.background(ctx, phase, a, add, &wg, record)
			continue
		}
		_, oc := r.execute(ctx, phase, a, add)
		record(oc)
		if oc == outcomeInterrupted || (oc == outcomeAborted && stopOnAbort) {
			break
		}
	}
	wg.Wait()
	return result
}

// background starts an activity on its own goroutine. Without a pause before, its start is
// recorded at once, so the journal lists it before the activities that follow it.
func (r *runner) background(ctx context.Context, phase string, a *Object, add func(*Entry), wg *sync.WaitGroup, record func(outcome)) {
	var st *started
	if !hasPauseBefore(a) {
		var oc outcome
		if st, oc = r.begin(ctx, phase, a, add); oc != outcomeSucceeded {
			record(oc)
			return
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if st == nil {
			_, oc := r.execute(ctx, phase, a, add)
			record(oc)
			return
		}
		_, oc := r.finish(ctx, st)
		record(oc)
	}()
}

// rollbacks plays the rollbacks when the strategy says so, on a context detached from ctx (so
// an interrupted run still rolls back) and bounded by rollbackPhaseTimeout.
func (r *runner) rollbacks(ctx context.Context) {
	list := r.exp.section("rollbacks")
	if !shouldRollback(r.strategy, r.j.Status, r.j.Deviated) {
		if len(list) > 0 {
			r.log.Warn(fmt.Sprintf("Rollbacks not played: strategy %q, status %s, deviated %t", r.strategy, r.j.Status, r.j.Deviated))
		}
		return
	}
	if len(list) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackPhaseTimeout)
	defer cancel()
	r.log.Info("Let's rollback...")
	r.playList(rctx, PhaseRollbacks, list, r.appendTo(&r.j.Rollbacks), false)
}

// rollbackStrategies lists the accepted --rollback-strategy values.
func rollbackStrategies() []string { return []string{"default", "always", "never", "deviated"} }

// shouldRollback is chaostoolkit-lib's rollback decision: always plays them, never does not,
// default plays them unless the run failed or was interrupted, deviated only when the steady
// state deviated.
func shouldRollback(strategy, status string, deviated bool) bool {
	switch strategy {
	case "always", "":
		return true
	case "default":
		return status != StatusFailed && status != StatusInterrupted
	case "deviated":
		return deviated
	}
	return false
}

// isInterruption reports whether err comes from ctx being done.
func isInterruption(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}
