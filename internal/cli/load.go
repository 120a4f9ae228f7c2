package cli

import (
	"context"
	"flag"
	"fmt"
	"sync"
	"time"

	"chaoslab/internal/client"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/load"
)

// loadHelp is chaoslab load's --help text; the wait's figures come from package load.
func loadHelp() string {
	return fmt.Sprintf(loadHelpFormat, load.DefaultPollInterval, load.DefaultPollTimeout, load.DefaultWaitEvery)
}

const loadHelpFormat = `
Usage: chaoslab load --target URL [--rps N] [--duration D] [--timeout T] [--wait-ready URL [--wait-timeout D]]

Sends GET requests to URL at a fixed arrival rate (open loop: a slow answer never lowers the
offered load), and prints a line every 10 seconds: requests, answers from the backend, fallbacks,
errors, requests dropped (not sent: too many in flight), the breaker state client-service
reported. --duration 0 runs until Ctrl-C (the Kubernetes load generator runs it so). Only point it
at systems you own.

--timeout should stay longer than client-service's REQUEST_TIMEOUT (15s by default): a shorter one
cuts requests the client is still working on, and shows them as timeouts instead of the client's
own answers.

--wait-ready URL: before the first request, GET URL until it answers 200 (e.g. client-service's
/readyz), every %v, each poll bounded by %v, for up to --wait-timeout. It prints a line when it
starts, one every %v while it waits (time elapsed, last answer or error) and one when ready;
nothing is sent to --target or counted before that, and --duration counts from then. Not ready in
time: exit 1 and one line with the URL, the timeout and the last answer. The Kubernetes load
Deployment waits for client-service so.
`

// loadFlags are chaoslab load's flags, checked.
type loadFlags struct {
	cfg   load.Config
	wait  load.Wait // wait.URL == "": no wait
	every time.Duration
}

func parseLoadFlags(e *env, args []string) (loadFlags, error) {
	var f loadFlags
	fs := newFlags("load", loadHelp(), e.stdout)
	fs.StringVar(&f.cfg.Target, "target", "", "URL to GET, e.g. http://127.0.0.1:8080/api/data")
	fs.Float64Var(&f.cfg.RPS, "rps", 5, "requests per second")
	fs.DurationVar(&f.cfg.Duration, "duration", time.Minute, "how long to send (0 = until stopped)")
	fs.DurationVar(&f.cfg.Timeout, "timeout", load.DefaultTimeout, "timeout of one request; keep it longer than the client's REQUEST_TIMEOUT")
	fs.DurationVar(&f.every, "every", 10*time.Second, "how often to print a line")
	fs.StringVar(&f.wait.URL, "wait-ready", "", "before the load, wait until GET `URL` answers 200, e.g. http://127.0.0.1:8080/readyz (default: no wait)")
	fs.DurationVar(&f.wait.Timeout, "wait-timeout", load.DefaultWaitTimeout, "how long --wait-ready waits before it gives up (exit 1)")
	pos, err := parse(fs, args)
	if err != nil {
		return f, err
	}
	if len(pos) > 0 {
		return f, cmdutil.Usagef("load takes no arguments, got %v (use --target)", pos)
	}
	if err := f.cfg.Validate(); err != nil {
		return f, cmdutil.Usagef("load: %v", err)
	}
	if f.every <= 0 {
		return f, cmdutil.Usagef("--every must be > 0")
	}
	return f, checkWait(fs, f.wait)
}

// checkWait checks --wait-ready and --wait-timeout: a timeout alone is a mistake.
func checkWait(fs *flag.FlagSet, w load.Wait) error {
	if w.URL == "" {
		timeoutSet := false
		fs.Visit(func(fl *flag.Flag) { timeoutSet = timeoutSet || fl.Name == "wait-timeout" })
		if timeoutSet {
			return cmdutil.Usagef("load: --wait-timeout needs --wait-ready URL")
		}
		return nil
	}
	if err := w.Validate(); err != nil {
		return cmdutil.Usagef("load: %v", err)
	}
	return nil
}

func loadCmd(ctx context.Context, e *env, args []string) error {
	f, err := parseLoadFlags(e, args)
	if err != nil {
		return err
	}
	warnShortTimeout(e, f.cfg.Timeout)
	if f.wait.URL != "" {
		if err := waitReady(ctx, e, f.wait); err != nil {
			return err
		}
	}
	var c load.Counter
	stop := repeat(f.every, func() { printTotals(e, c.Totals()) })
	err = load.Run(ctx, f.cfg, nil, c.Add)
	stop()
	printTotals(e, c.Totals())
	return err
}

// waitReady waits until w.URL answers 200, with a line when it starts, at most one every
// load.DefaultWaitEvery while it waits, and one when ready.
func waitReady(ctx context.Context, e *env, w load.Wait) error {
	fmt.Fprintf(e.stdout, "%s waiting for %s to answer 200 (up to %v)\n", stamp(), w.URL, w.Timeout)
	p, err := load.WaitReady(ctx, w, nil, func(p load.Progress) {
		fmt.Fprintf(e.stdout, "%s still waiting for %s: %v elapsed, last answer: %s\n",
			stamp(), w.URL, p.Elapsed.Round(time.Second), p.Last)
	})
	if err != nil {
		return fmt.Errorf("load --wait-ready: %w", err)
	}
	fmt.Fprintf(e.stdout, "%s %s is ready after %v (%d polls): the load starts\n",
		stamp(), w.URL, p.Elapsed.Round(time.Millisecond), p.Polls)
	return nil
}

// stamp is the time at the start of the load's lines.
func stamp() string { return time.Now().UTC().Format(time.RFC3339) }

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
		stamp(), t.Requests, t.Backend, t.Fallbacks, t.Errors, t.Dropped, t.Breaker,
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
