// Package load is chaoslab's open-loop load generator: requests are sent at a fixed arrival rate,
// whatever the target's latency, so a slow answer never lowers the offered load (a closed loop
// would hide exactly the slowness a chaos experiment looks for). Every arrival yields one
// results.Record, sent or dropped.
//
// Times follow the arrivals, not the sends: request i (1-based) is due exactly (i-1)/RPS after
// the start, its record's Start is that scheduled time, and its latency counts from it. A
// generator that falls behind therefore adds its own lag to the latencies it records (and says
// how much, in Record.SendLag) instead of hiding it: no coordinated omission.
package load

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"chaoslab/internal/results"
)

// DefaultTimeout is the per-request timeout of the load unless told otherwise. It is longer than
// client-service's default REQUEST_TIMEOUT (15 s), so the load never cuts a request the client is
// still working on and records the client's own answer instead; the Kubernetes load Deployment
// (deploy/k8s/load-deployment.yaml) uses the same value.
const DefaultTimeout = 20 * time.Second

// Config says what to load and how hard.
type Config struct {
	Target      string        // the URL to GET (http or https)
	RPS         float64       // arrivals per second (> 0)
	Timeout     time.Duration // per-request timeout (> 0), counted from the send; DefaultTimeout fits client-service
	Duration    time.Duration // how long to send; 0 = until the context is cancelled
	MaxInFlight int           // requests allowed in flight at once; 0 = RPS*Timeout + 10
	// TraceSample, above 0, sends every request with a W3C traceparent of a fresh random trace
	// id, flagged sampled for this share of the requests (1 = all; the decision is a function of
	// the trace id, as OpenTelemetry's TraceIDRatioBased makes it), and records the trace id in
	// its Record; 0 = no traceparent. Services with a parent-based sampler follow the flag.
	TraceSample float64

	// beforeSend, when set, is called by each request's sender just before it reads the clock and
	// sends. Tests hold a sender back with it to make a send lag that does not depend on how busy
	// the machine is.
	beforeSend func(id uint64)
}

// Validate reports the first problem with the configuration, in words a user can act on.
func (c Config) Validate() error {
	switch {
	case c.Target == "":
		return errors.New("target URL is required (e.g. --target http://127.0.0.1:8080/api/data)")
	case !validTarget(c.Target):
		return fmt.Errorf("target %q: want an http:// or https:// URL with a host, e.g. http://127.0.0.1:8080/api/data", c.Target)
	case !(c.RPS > 0 && c.RPS <= 10000): // also rejects NaN
		return fmt.Errorf("rate %v: must be > 0 and <= 10000 requests per second", c.RPS)
	case c.Timeout <= 0:
		return fmt.Errorf("timeout %v: must be > 0", c.Timeout)
	case c.Duration < 0:
		return fmt.Errorf("duration %v: must be >= 0 (0 = until stopped)", c.Duration)
	case c.MaxInFlight < 0:
		return fmt.Errorf("in-flight cap %d: must be >= 0 (0 = RPS*Timeout + 10)", c.MaxInFlight)
	case !(c.TraceSample >= 0 && c.TraceSample <= 1):
		return fmt.Errorf("trace sample %v: must be from 0 (no traceparent) to 1 (every request sampled)", c.TraceSample)
	}
	return nil
}

func validTarget(target string) bool {
	u, err := url.Parse(target)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (c Config) maxInFlight() int {
	if c.MaxInFlight > 0 {
		return c.MaxInFlight
	}
	return int(c.RPS*c.Timeout.Seconds()) + 10
}

// arrival is the scheduled time of request id (1-based): exactly (id-1)/rps after start,
// computed from the start, never from the previous send, so the schedule cannot drift.
func arrival(start time.Time, id uint64, rps float64) time.Time {
	return start.Add(time.Duration(float64(id-1) * float64(time.Second) / rps))
}

// Run sends requests at cfg.RPS until cfg.Duration has passed or ctx is cancelled, then waits for
// the requests in flight (each bounded by cfg.Timeout) and returns. onRecord is called once per
// arrival, from many goroutines at once: it must be safe for concurrent use. An arrival that
// finds MaxInFlight requests already in flight is not sent: it is recorded at once as
// results.SourceDropped, so the offered load is never silently lowered. Request i carries the
// header results.RequestIDHeader: i, and with cfg.TraceSample a traceparent (see Config).
func Run(ctx context.Context, cfg Config, client *http.Client, onRecord func(results.Record)) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	// Requests in flight outlive the sending window: they are bounded by their own timeout, and
	// stopping the load must not turn them into errors.
	s := newSender(context.WithoutCancel(ctx), cfg, client, onRecord)
	defer s.wg.Wait()
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for id := uint64(1); ; id++ {
		due := arrival(start, id, cfg.RPS)
		timer.Reset(time.Until(due))
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		if ctx.Err() != nil { // both were ready: stopping wins, so nothing is sent after it
			return nil
		}
		s.arrive(id, due)
	}
}

// sender sends the arrivals the schedule hands it, within the in-flight cap.
type sender struct {
	ctx      context.Context // the requests' parent: not cancelled when the sending stops
	cfg      Config
	client   *http.Client
	onRecord func(results.Record)
	slots    chan struct{} // one token per request in flight
	wg       sync.WaitGroup
}

func newSender(ctx context.Context, cfg Config, client *http.Client, onRecord func(results.Record)) *sender {
	if client == nil {
		client = NewHTTPClient()
	}
	return &sender{ctx: ctx, cfg: cfg, client: client, onRecord: onRecord, slots: make(chan struct{}, cfg.maxInFlight())}
}

// arrive sends request id in its own goroutine, or records it dropped when the cap is reached.
func (s *sender) arrive(id uint64, due time.Time) {
	select {
	case s.slots <- struct{}{}:
	default:
		s.onRecord(dropped(id, due, cap(s.slots)))
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.slots }()
		s.onRecord(s.send(id, due))
	}()
}

// dropped is the record of an arrival that was not sent: no send, no answer, no latency.
func dropped(id uint64, due time.Time, inFlight int) results.Record {
	return results.Record{ID: id, Start: due, Source: results.SourceDropped, Attempts: results.UnknownAttempts,
		Error: fmt.Sprintf("not sent: %d requests already in flight, the load generator's cap", inFlight)}
}
