package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"chaoslab/internal/load"
	"chaoslab/internal/results"
)

// StateHealthy names the open-loop row of the healthy window.
const StateHealthy = "healthy"

// OpenRow is one row of the open-loop part: the requests of one rate sent in one state.
type OpenRow struct {
	RPS      float64 `json:"rps"`
	State    string  `json:"state"`    // StateHealthy, StateOpen or StateHalfOpen
	Requests int     `json:"requests"` // arrivals in the row, sent or dropped
	Backend  int     `json:"backend"`  // 200 answers from the backend
	Fallback int     `json:"fallback"` // 200 answers from the fallback
	Errors   int     `json:"errors"`   // any other answer, or none
	Dropped  int     `json:"dropped"`  // not sent: the generator's in-flight cap
	// Latency runs from each sent request's scheduled time to its whole answer (or failure), so a
	// late send adds to it; Lag from the scheduled time to the actual send.
	Latency Quantiles `json:"latency"`
	Lag     Quantiles `json:"send_lag"`
	// InState is the time the row's requests could be sent in: the healthy window, or the
	// breaker's total time in the state over the cycles; Periods how many stretches that was.
	InState results.Duration `json:"in_state_ms"`
	Periods int              `json:"periods"`
}

// NewOpenRow summarises the records of one row.
func NewOpenRow(rps float64, state string, recs []results.Record) OpenRow {
	row := OpenRow{RPS: rps, State: state, Requests: len(recs)}
	var lat, lag []time.Duration
	for _, r := range recs {
		switch r.Source {
		case results.SourceDropped:
			row.Dropped++
			continue
		case results.SourceBackend:
			row.Backend++
		case results.SourceFallback:
			row.Fallback++
		default:
			row.Errors++
		}
		lat = append(lat, r.Latency)
		lag = append(lag, r.SendLag)
	}
	row.Latency, row.Lag = ExactQuantiles(lat), ExactQuantiles(lag)
	return row
}

// recordSink keeps the generator's records; safe for concurrent use.
type recordSink struct {
	mu   sync.Mutex
	recs []results.Record
}

func (c *recordSink) add(r results.Record) {
	c.mu.Lock()
	c.recs = append(c.recs, r)
	c.mu.Unlock()
}

func (c *recordSink) records() []results.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]results.Record(nil), c.recs...)
}

// healthyWindow measures one rate on a healthy stack, and checks the backend calls its answers
// report against the backend's counter.
func healthyWindow(ctx context.Context, cfg ServiceConfig, sv *serviceStack, rps float64) (OpenRow, *CountCheck, error) {
	client := load.NewHTTPClient()
	defer client.CloseIdleConnections()
	base, err := sv.counters(ctx)
	if err != nil {
		return OpenRow{}, nil, err
	}
	var sink recordSink
	lc := load.Config{Target: sv.stack.ClientURL + "/api/data", RPS: rps, Timeout: load.DefaultTimeout, Duration: cfg.Healthy}
	if err := load.Run(ctx, lc, client, sink.add); err != nil {
		return OpenRow{}, nil, err
	}
	recs := sink.records()
	row := NewOpenRow(rps, StateHealthy, recs)
	row.InState, row.Periods = results.Duration(cfg.Healthy), 1
	check, err := sv.settle(ctx, fmt.Sprintf("open loop %g/s, healthy", rps), base, int64(row.Backend), 0)
	if err != nil {
		return row, nil, err
	}
	cfg.say("open loop %g/s healthy: %d requests, p99 %s, send lag p99 %s", rps, row.Requests,
		fmtMS(row.Latency.P99), fmtMS(row.Lag.P99))
	return row, &check, nil
}

// cycles sends at rps while it partitions the backend, waits for the breaker to open, heals at
// once, and waits for it to close again, cfg.Cycles times; then sorts the requests by the
// breaker's state at their actual send (scheduled time + lag) into an OPEN and a HALF_OPEN row.
// The requests sent while CLOSED (the partition before the breaker opens, and between cycles)
// are in neither row.
func cycles(ctx context.Context, cfg ServiceConfig, sv *serviceStack, rps float64) ([]OpenRow, error) {
	if cfg.Cycles == 0 {
		return nil, nil
	}
	client := load.NewHTTPClient()
	defer client.CloseIdleConnections()
	lc := load.Config{Target: sv.stack.ClientURL + "/api/data", RPS: rps, Timeout: load.DefaultTimeout} // until stopped
	sendCtx, stop := context.WithCancel(ctx)
	defer stop()
	var sink recordSink
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- load.Run(sendCtx, lc, client, sink.add) }()
	err := driveCycles(ctx, cfg, sv, rps)
	stop()
	end := time.Now()
	if lerr := <-done; err == nil {
		err = lerr
	}
	if err != nil {
		return nil, err
	}
	byState := map[string][]results.Record{}
	for _, r := range sink.records() {
		s := sv.timeline.StateAt(r.Start.Add(r.SendLag))
		byState[s] = append(byState[s], r)
	}
	var rows []OpenRow
	for _, state := range []string{StateOpen, StateHalfOpen} {
		row := NewOpenRow(rps, state, byState[state])
		in, periods := sv.timeline.TimeIn(state, start, end)
		row.InState, row.Periods = results.Duration(in), periods
		rows = append(rows, row)
		cfg.say("open loop %g/s %s: %d requests in %d periods of %s in all, p99 %s", rps, state, row.Requests, periods,
			in.Round(time.Millisecond), fmtMS(row.Latency.P99))
	}
	return rows, nil
}

// driveCycles makes the cycles while the load runs; it always heals before it returns.
func driveCycles(ctx context.Context, cfg ServiceConfig, sv *serviceStack, rps float64) (err error) {
	defer func() {
		if herr := sv.heal(context.WithoutCancel(ctx)); err == nil {
			err = herr
		}
	}()
	for c := range cfg.Cycles {
		mark := sv.timeline.Len()
		t0 := time.Now()
		if err := sv.partition(ctx); err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, cfg.StateTimeout)
		opened, err := sv.timeline.WaitFor(wctx, mark, StateOpen)
		cancel()
		if err != nil {
			return fmt.Errorf("cycle %d: partitioned %v ago: %w (%s)", c+1, time.Since(t0).Round(time.Millisecond), err, lastSeen(sv.timeline))
		}
		if err := sv.heal(ctx); err != nil {
			return err
		}
		healed := time.Now()
		wctx, cancel = context.WithTimeout(ctx, cfg.StateTimeout)
		closed, err := sv.timeline.WaitFor(wctx, mark, StateClosed)
		cancel()
		if err != nil {
			return fmt.Errorf("cycle %d: healed %v ago: %w (%s)", c+1, time.Since(healed).Round(time.Millisecond), err, lastSeen(sv.timeline))
		}
		cfg.say("open loop %g/s cycle %d/%d: OPEN %s after the partition, CLOSED %s after the heal", rps, c+1, cfg.Cycles,
			opened.Sub(t0).Round(time.Millisecond), closed.Sub(healed).Round(time.Millisecond))
	}
	return nil
}

// lastSeen says what the bench last heard of the breaker, for an error: its records come
// through client-service's log, which lags on a saturated machine.
func lastSeen(tl *Timeline) string {
	tr := tl.Transitions()
	if len(tr) == 0 {
		return "no transition seen yet"
	}
	last := tr[len(tr)-1]
	return fmt.Sprintf("the last transition seen: to %s, logged %v ago; the records come through client-service's log, "+
		"which lags behind on a saturated machine: try lower --rates", last.To, time.Since(last.Time).Round(time.Millisecond))
}

func fmtMS(d results.Duration) string { return fmt.Sprintf("%.2f ms", results.MS(d.D())) }
