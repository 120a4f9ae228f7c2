package cli

import (
	"context"
	"fmt"
	"time"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/load"
	"chaoslab/internal/results"
)

const loadHelp = `
Usage: chaoslab load --target URL [--rps N] [--duration D] [--timeout T]

Sends GET requests to URL at a fixed arrival rate (open loop: a slow answer never lowers the
offered load), and prints a line every 10 seconds: requests, answers from the backend, fallbacks,
errors, the breaker state client-service reported. --duration 0 runs until Ctrl-C (the Kubernetes
load generator runs it so). Only point it at systems you own.
`

func loadCmd(ctx context.Context, e *env, args []string) error {
	fs := newFlags("load", loadHelp, e.stdout)
	cfg := load.Config{}
	fs.StringVar(&cfg.Target, "target", "", "URL to GET, e.g. http://127.0.0.1:8080/api/data")
	fs.Float64Var(&cfg.RPS, "rps", 5, "requests per second")
	fs.DurationVar(&cfg.Duration, "duration", time.Minute, "how long to send (0 = until stopped)")
	fs.DurationVar(&cfg.Timeout, "timeout", 10*time.Second, "timeout of one request")
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
	var c load.Counter
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(*every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				printTotals(e, c.Totals())
			}
		}
	}()
	err = load.Run(ctx, cfg, nil, func(r results.Record) { c.Add(r) })
	close(done)
	printTotals(e, c.Totals())
	return err
}

func printTotals(e *env, t load.Totals) {
	fmt.Fprintf(e.stdout, "%s requests=%d backend=%d fallback=%d errors=%d breaker=%s max_latency=%s\n",
		time.Now().UTC().Format(time.RFC3339), t.Requests, t.Backend, t.Fallbacks, t.Errors, t.Breaker, t.MaxLatency.Round(time.Millisecond))
}
