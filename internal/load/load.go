// Package load is chaoslab's open-loop load generator: requests are sent at a fixed arrival rate,
// whatever the target's latency, so a slow answer never lowers the offered load (a closed loop
// would hide exactly the slowness a chaos experiment looks for). Every request yields one
// results.Record.
package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"chaoslab/internal/results"
)

// Config says what to load and how hard.
type Config struct {
	Target      string        // the URL to GET
	RPS         float64       // arrivals per second (> 0)
	Timeout     time.Duration // per-request timeout (> 0)
	Duration    time.Duration // how long to send; 0 = until the context is cancelled
	MaxInFlight int           // requests allowed in flight at once; 0 = RPS*Timeout + 10
}

// Validate reports the first problem with the configuration, in words a user can act on.
func (c Config) Validate() error {
	switch {
	case c.Target == "":
		return errors.New("target URL is required (e.g. --target http://127.0.0.1:8080/api/data)")
	case c.RPS <= 0 || c.RPS > 10000:
		return fmt.Errorf("rate %v: must be > 0 and <= 10000 requests per second", c.RPS)
	case c.Timeout <= 0:
		return fmt.Errorf("timeout %v: must be > 0", c.Timeout)
	case c.Duration < 0:
		return fmt.Errorf("duration %v: must be >= 0 (0 = until stopped)", c.Duration)
	}
	return nil
}

func (c Config) maxInFlight() int {
	if c.MaxInFlight > 0 {
		return c.MaxInFlight
	}
	return int(c.RPS*c.Timeout.Seconds()) + 10
}

// NewHTTPClient returns a client suited to the generator: enough idle connections for the rate,
// no redirects followed, no timeout of its own (each request carries one).
func NewHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Run sends requests at cfg.RPS until cfg.Duration has passed or ctx is cancelled, then waits for
// the requests in flight (each bounded by cfg.Timeout) and returns. onRecord is called once per
// request, from many goroutines at once: it must be safe for concurrent use. A request that
// cannot be sent because MaxInFlight requests are already waiting is recorded as an error
// ("load generator saturated"), so the offered load is never silently lowered.
func Run(ctx context.Context, cfg Config, client *http.Client, onRecord func(results.Record)) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if client == nil {
		client = NewHTTPClient()
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	// Requests in flight outlive the sending window: they are bounded by their own timeout, and
	// stopping the load must not turn them into errors.
	reqCtx := context.WithoutCancel(ctx)
	interval := time.Duration(float64(time.Second) / cfg.RPS)
	slots := make(chan struct{}, cfg.maxInFlight())
	var wg sync.WaitGroup
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		timer.Reset(time.Until(due))
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-timer.C:
		}
		select {
		case slots <- struct{}{}:
		default:
			onRecord(results.Record{Start: time.Now(), Source: results.SourceError, Error: "load generator saturated: too many requests in flight"})
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			onRecord(Do(reqCtx, client, cfg.Target, cfg.Timeout))
		}()
	}
}

// answer is the part of client-service's /api/data answer the generator records.
type answer struct {
	Source   string `json:"source"`
	Attempts int    `json:"attempts"`
	Breaker  string `json:"circuitBreakerState"`
	Error    string `json:"error"`
}

// Do sends one GET to target with the given timeout and returns its record. A 200 answer is
// classified by its "source" field (backend or fallback; a 200 without one counts as backend);
// anything else, including no answer, is an error.
func Do(ctx context.Context, client *http.Client, target string, timeout time.Duration) results.Record {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rec := results.Record{Start: time.Now(), Source: results.SourceError}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		rec.Error = err.Error()
		return rec
	}
	resp, err := client.Do(req)
	if err != nil {
		rec.Latency = time.Since(rec.Start)
		rec.Error = describe(err)
		return rec
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	rec.Latency = time.Since(rec.Start)
	rec.Status = resp.StatusCode
	if err != nil {
		rec.Status = 0
		rec.Error = "reading answer: " + describe(err)
		return rec
	}
	classify(&rec, body)
	return rec
}

func classify(rec *results.Record, body []byte) {
	var a answer
	_ = json.Unmarshal(body, &a) // a body that is not the client's JSON still counts by status
	rec.Attempts, rec.Breaker = a.Attempts, a.Breaker
	switch {
	case rec.Status == http.StatusOK && a.Source == results.SourceFallback:
		rec.Source, rec.Error = results.SourceFallback, a.Error
	case rec.Status == http.StatusOK:
		rec.Source = results.SourceBackend
	default:
		rec.Source = results.SourceError
		rec.Error = fmt.Sprintf("HTTP %d", rec.Status)
		if a.Error != "" {
			rec.Error += ": " + a.Error
		}
	}
}

func describe(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout: no answer in time"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout: no answer in time"
	}
	return err.Error()
}
