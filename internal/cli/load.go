package cli

import (
	"context"
	"fmt"
	"sync"
	"time"

	"chaoslab/internal/client"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/load"
)

const loadHelp = `
Usage: chaoslab load --target URL [--rps N] [--duration D] [--timeout T]

Sends GET requests to URL at a fixed arrival rate (open loop: a slow answer never lowers the
offered load), and prints a line every 10 seconds: requests, answers from the backend, fallbacks,
errors, requests dropped (not sent: too many in flight), the breaker state client-service
reported. --duration 0 runs until Ctrl-C (the Kubernetes load generator runs it so). Only point it
at systems you own.

--timeout should stay longer than client-service's REQUEST_TIMEOUT (15s by default): a shorter one
cuts requests the client is still working on, and shows them as timeouts instead of the client's
own answers.
`

func loadCmd(ctx context.Context, e *env, args []string) error {
	fs := newFlags("load", loadHelp, e.stdout)
	cfg := load.Config{}
	fs.StringVar(&cfg.Target, "target", "", "URL to GET, e.g. http://127.0.0.1:8080/api/data")
	fs.Float64Var(&cfg.RPS, "rps", 5, "requests per second")
	fs.DurationVar(&cfg.Duration, "duration", time.Minute, "how long to send (0 = until stopped)")
	fs.DurationVar(&cfg.Timeout, "timeout", load.DefaultTimeout, "timeout of one request; keep it longer than the client's REQUEST_TIMEOUT")
	every := fs.Duration("every", 10*time.Second, "how often to print a line")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return cmdutil.Usagef("load takes no arguments, got %v (use --target)", pos)
	}
	if err := cfg.Validate(); err != nil {
		return cmdutil.Usagef("load: %v", err)
	}
	if *every <= 0 {
		return cmdutil.Usagef("--every must be > 0")
	}
	warnShortTimeout(e, cfg.Timeout)
	var c load.Counter
	stop := repeat(*every, func() { printTotals(e, c.Totals()) })
	err = load.Run(ctx, cfg, nil, c.Add)
	stop()
	printTotals(e, c.Totals())
	return err
}

// repeat calls f every d until the returned stop is called; stop waits for a call under way and
// may be called more than once.
func repeat(d time.Duration, f func()) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-finished
	}
}

func printTotals(e *env, t load.Totals) {
	fmt.Fprintf(e.stdout, "%s requests=%d backend=%d fallback=%d errors=%d dropped=%d breaker=%s max_latency=%s\n",
		time.Now().UTC().Format(time.RFC3339), t.Requests, t.Backend, t.Fallbacks, t.Errors, t.Dropped, t.Breaker,
		t.MaxLatency.Round(time.Millisecond))
}

// clientRequestTimeout is client-service's default REQUEST_TIMEOUT, read from its own table of
// variables so the two cannot drift (0 if it cannot be read; a test pins it).
func clientRequestTimeout() time.Duration {
	d, _ := time.ParseDuration(client.Defaults()["REQUEST_TIMEOUT"])
	return d
}

// warnShortTimeout says on stderr what a load timeout no longer than the client's does to the
// numbers.
func warnShortTimeout(e *env, timeout time.Duration) {
	if rt := clientRequestTimeout(); timeout <= rt {
		fmt.Fprintf(e.stderr, "chaoslab load: warning: --timeout %v is not longer than client-service's REQUEST_TIMEOUT "+
			"(%v by default): requests the client is still working on (retrying, waiting out a partition) are cut "+
			"by the load and counted as timeout errors, hiding the client's own answers (fallbacks, 502s); "+
			"use --timeout %v or more\n", timeout, rt, load.DefaultTimeout)
	}
}
