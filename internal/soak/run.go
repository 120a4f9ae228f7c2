package soak

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Faults applies and removes catalogue entries' faults (live.NewCatalogueActions does).
type Faults interface {
	Apply(ctx context.Context, name string) error
	Remove(ctx context.Context, name string) error
}

// Config says how long to soak, how often to sample and which faults to rotate.
type Config struct {
	Duration    time.Duration
	SampleEvery time.Duration // a sample at 0, every SampleEvery, and at Duration
	FaultEvery  time.Duration // a fault at FaultEvery, 2*FaultEvery...; 0 = no faults
	FaultFor    time.Duration // how long each fault stays (< FaultEvery)
	Rotation    []string      // the entries, applied in this order, round and round
	Faults      Faults
	Targets     []Target
	Load        func() LoadCounts // the load's numbers so far
	ProcRoot    string            // "" = ProcRoot
	OnSample    func(Sample)      // called after each sample, from Run's goroutine
	OnFault     func(FaultEvent)  // called after each apply and remove, from another goroutine
}

// FaultEvent is one fault applied or removed.
type FaultEvent struct {
	Elapsed time.Duration
	Name    string
	Action  string // "apply" or "remove"
	Err     error  // nil = done
}

// Result is what a soak saw.
type Result struct {
	Samples []Sample
	Faults  []FaultEvent
	Stopped bool // ctx ended the soak before Duration
}

// FaultErrors returns one line per fault that could not be applied or removed.
func (r Result) FaultErrors() []string {
	var out []string
	for _, e := range r.Faults {
		if e.Err != nil {
			out = append(out, fmt.Sprintf("%s: %s %s: %v", clock(e.Elapsed), e.Action, e.Name, e.Err))
		}
	}
	return out
}

// Schedule returns when each fault is applied: every FaultEvery, as long as it can be removed
// by the end (at + FaultFor <= Duration).
func (c Config) Schedule() []time.Duration {
	if c.FaultEvery <= 0 || len(c.Rotation) == 0 {
		return nil
	}
	var out []time.Duration
	for at := c.FaultEvery; at+c.FaultFor <= c.Duration; at += c.FaultEvery {
		out = append(out, at)
	}
	return out
}

// FirstRound is when the first round of the rotation ends (every entry applied and removed
// once), or 0 when no round completes within Duration.
func (c Config) FirstRound() time.Duration {
	sched := c.Schedule()
	if len(c.Rotation) == 0 || len(sched) < len(c.Rotation) {
		return 0
	}
	return sched[len(c.Rotation)-1] + c.FaultFor
}

// Run samples every target until Duration has passed or ctx ends, while another goroutine
// applies and removes the faults of Schedule. A fault in place when ctx ends is removed before
// Run returns.
func Run(ctx context.Context, cfg Config) Result {
	if cfg.ProcRoot == "" {
		cfg.ProcRoot = ProcRoot
	}
	start := time.Now()
	var active atomic.Value // string: the fault in place
	active.Store("")
	var res Result
	var mu sync.Mutex // guards res.Faults
	var wg sync.WaitGroup
	wg.Go(func() {
		rotate(ctx, cfg, start, &active, func(e FaultEvent) {
			mu.Lock()
			res.Faults = append(res.Faults, e)
			mu.Unlock()
			if cfg.OnFault != nil {
				cfg.OnFault(e)
			}
		})
	})
	res.Samples, res.Stopped = sampleLoop(ctx, cfg, start, &active)
	wg.Wait()
	return res
}

// sampleLoop takes the samples at fixed offsets from start; it reports whether ctx stopped it.
func sampleLoop(ctx context.Context, cfg Config, start time.Time, active *atomic.Value) ([]Sample, bool) {
	var out []Sample
	timer := time.NewTimer(0)
	defer timer.Stop()
	for at := time.Duration(0); ; at += cfg.SampleEvery {
		if at > cfg.Duration {
			at = cfg.Duration
		}
		timer.Reset(time.Until(start.Add(at)))
		select {
		case <-ctx.Done():
			return out, true
		case <-timer.C:
		}
		s := take(cfg, start, active.Load().(string))
		out = append(out, s)
		if cfg.OnSample != nil {
			cfg.OnSample(s)
		}
		if at == cfg.Duration {
			return out, false
		}
	}
}

// take reads the load and every target once.
func take(cfg Config, start time.Time, fault string) Sample {
	now := time.Now()
	s := Sample{Time: now.UTC(), Elapsed: now.Sub(start).Round(time.Millisecond), Fault: fault}
	if cfg.Load != nil {
		s.Load = cfg.Load()
	}
	for _, t := range cfg.Targets {
		s.Procs = append(s.Procs, t.sample(cfg.ProcRoot))
	}
	return s
}

// rotate applies the faults of the schedule in turn and removes each after FaultFor. A removal
// runs even when ctx has ended: nothing of a fault may outlive the soak.
func rotate(ctx context.Context, cfg Config, start time.Time, active *atomic.Value, report func(FaultEvent)) {
	for i, at := range cfg.Schedule() {
		if !sleepUntil(ctx, start.Add(at)) {
			return
		}
		name := cfg.Rotation[i%len(cfg.Rotation)]
		active.Store(name) // from the apply's start to the removal's end
		err := cfg.Faults.Apply(ctx, name)
		report(FaultEvent{Elapsed: time.Since(start), Name: name, Action: "apply", Err: err})
		// A failed apply may have done part of its work: it is removed all the same.
		sleepUntil(ctx, start.Add(at+cfg.FaultFor))
		err = cfg.Faults.Remove(context.WithoutCancel(ctx), name)
		active.Store("")
		report(FaultEvent{Elapsed: time.Since(start), Name: name, Action: "remove", Err: err})
	}
}

// sleepUntil waits until t; false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
