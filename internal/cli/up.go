package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"chaoslab/chaos"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/lab"
	"chaoslab/internal/live"
	"chaoslab/internal/load"
	"chaoslab/internal/netns"
	"chaoslab/internal/results"
	"chaoslab/internal/stack"
	"chaoslab/internal/topology"
	"chaoslab/internal/tracing"
)

const upHelp = `
Usage: chaoslab up [flags]

Starts the local stack and keeps it up until Ctrl-C: backend-service and client-service as child
processes and, between them, an embedded Toxiproxy whose REST API is Toxiproxy's own (proxy
"backend"), so any Toxiproxy client and the real Chaos Toolkit can drive it. Prints the URLs and
the exact ` + "`chaos run`" + ` command line for chaos/local/network-partition-experiment.json.

Like the Kubernetes load Deployment, it also sends a steady open-loop load to client-service's
/api/data: 2 requests/s by default, each with a 20s timeout, and prints a line every 10 seconds
(requests, backend answers, fallbacks, errors, dropped, the breaker state). An experiment needs
that traffic: its own probes are too few calls for the circuit breaker to open during a
partition, and the steady-state probe after it then waits on retries. --rps 0 turns it off.

Ctrl-C stops the load, removes every fault, stops every child and exits 0. A service that dies is
reported and chaoslab exits 1.

Pipeline variables for client-service come from the environment or --env KEY=VALUE.

Traces: with OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set, every
service sends its spans there over OTLP/HTTP, e.g. to a collector or Jaeger (its OTLP port 4318):
  OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 chaoslab up
The OTEL_* variables (the endpoints, OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG,
OTEL_SERVICE_NAME) are passed to every service as they are; without OTEL_SERVICE_NAME each
service, and each tier, is named after itself. Without an endpoint nothing is traced.

--topology FILE|NAME starts a call graph of client-service tiers instead of one client (chain-3,
fan-in, or a YAML/JSON file): each tier with its own variables over --env and TIER=<name>, the
first entry tier on --client-addr, the load spread over the entry tiers. Toxiproxy has one proxy
per hop, named after the node it fronts ("backend", and each tier something calls), so a fault at
a tier is ${toxiproxy_url}/proxies/<tier>/toxics; up prints every tier and proxy.
`

// upRPS is the default rate of chaoslab up's load: the Kubernetes load Deployment's
// (deploy/k8s/load-deployment.yaml).
const upRPS = 2

// upLoadGrace is how long chaoslab up lets its load requests in flight finish on Ctrl-C before
// the stack stops under them.
const upLoadGrace = 2 * time.Second

type upFlags struct {
	kind, clientAddr, backendAddr, apiAddr, logs string
	rps                                          float64
	every                                        time.Duration
	env                                          envFlag
	ui                                           bool
	uiAddr                                       string

	topology string             // --topology as given
	topo     *topology.Topology // nil = today's two services
}

func parseUpFlags(e *env, args []string) (upFlags, error) {
	f := upFlags{env: envFlag{}}
	fs := newFlags("up", upHelp, e.stdout)
	fs.StringVar(&f.kind, "stack", "local", "where to run: "+strings.Join(stack.KindNames(), " | ")+" (netns: root, each service in its own network namespace)")
	fs.StringVar(&f.clientAddr, "client-addr", "127.0.0.1:8080", "client-service listen address (local stack; port 0 picks a free one)")
	fs.StringVar(&f.backendAddr, "backend-addr", "127.0.0.1:8081", "backend-service listen address (local stack; port 0 picks a free one)")
	fs.StringVar(&f.apiAddr, "toxiproxy-addr", "127.0.0.1:8474", "Toxiproxy REST API address (port 0 picks a free one)")
	fs.StringVar(&f.logs, "logs", "", "folder for the services' logs (default: a new temporary folder)")
	fs.Var(f.env, "env", "set a pipeline variable for client-service: KEY=VALUE (repeatable)")
	fs.Float64Var(&f.rps, "rps", upRPS, "load on client-service's /api/data, requests per second (0 = no load)")
	fs.DurationVar(&f.every, "every", 10*time.Second, "how often to print the load's status line")
	fs.BoolVar(&f.ui, "ui", false, "serve a live page on 127.0.0.1: the timeline, the breaker, counters, and buttons that apply and remove each fault of the catalogue")
	fs.StringVar(&f.uiAddr, "ui-addr", "127.0.0.1:0", "address of the live page (with --ui; loopback only)")
	fs.StringVar(&f.topology, "topology", "", topologyHelp)
	pos, err := parse(fs, args)
	if err != nil {
		return f, err
	}
	switch {
	case len(pos) > 0:
		return f, cmdutil.Usagef("up takes no arguments, got %v", pos)
	case !slices.Contains(stack.KindNames(), f.kind):
		return f, cmdutil.Usagef("--stack %q: use one of %s", f.kind, strings.Join(stack.KindNames(), ", "))
	case !(f.rps >= 0 && f.rps <= 10000): // also rejects NaN
		return f, cmdutil.Usagef("--rps %g: must be >= 0 and <= 10000 requests per second (0 = no load)", f.rps)
	case f.every <= 0:
		return f, cmdutil.Usagef("--every %v: must be > 0", f.every)
	}
	if err := stack.CheckClientEnv(f.env); err != nil {
		return f, err
	}
	return f, upTopology(&f)
}

// record is the topology as the live page's analysis reads it (nil without one).
func (f upFlags) record() *results.Topology {
	if f.topo == nil {
		return nil
	}
	return f.topo.Record()
}

// upTopology loads --topology and checks its tiers' variables over --env; netns refuses one.
func upTopology(f *upFlags) (err error) {
	if f.topology == "" {
		return nil
	}
	if f.kind != "local" {
		return cmdutil.Usagef("--topology %s: --stack %s starts today's two services only; a topology runs on --stack local", f.topology, f.kind)
	}
	if f.topo, err = topology.Load(f.topology); err != nil {
		return err
	}
	return stack.CheckTopology(f.topo, f.env, f.kind)
}

func upCmd(ctx context.Context, e *env, args []string) error {
	f, err := parseUpFlags(e, args)
	if err != nil {
		return err
	}
	if f.kind == "netns" {
		if err := netns.Preflight(ctx); err != nil {
			return err
		}
	}
	dir, err := logsDir(f.logs)
	if err != nil {
		return err
	}
	var hub *live.Hub
	events := results.NewEventTap() // up may run for hours: the page sees every event, nothing is kept
	if f.ui {
		hub = live.NewHub()
		events.Observe(hub.Event)
		hub.Info(results.RunInfo{Title: "chaoslab up", Stack: f.kind, RPS: f.rps, Start: time.Now().UTC(), Topology: f.record()})
	}
	s, err := stack.Start(ctx, stack.Config{Kind: f.kind, Dir: dir, ClientAddr: f.clientAddr, BackendAddr: f.backendAddr,
		FaultAPI: f.apiAddr, ClientEnv: f.env, Events: events, Notify: func(m string) { fmt.Fprintln(e.stdout, m) }, Topology: f.topo,
		ServiceEnv: upTraceEnv(e.getenv)})
	if err != nil {
		return fmt.Errorf("start the stack: %w", err)
	}
	l, err := startUpLoad(ctx, s.ClientURL+"/api/data", f.rps, hub, upEntries(s))
	if err != nil {
		s.Close(context.WithoutCancel(ctx))
		return err
	}
	if hub != nil {
		env := map[string]string{lab.EnvClientURL: s.ClientURL, lab.EnvBackendURL: s.BackendURL, lab.EnvToxiproxyURL: s.FaultURL}
		srv, err := live.Start(live.Config{Addr: f.uiAddr, Hub: hub, Actions: live.NewCatalogueActions(f.kind, env, hub.Record)})
		if err != nil {
			s.Close(context.WithoutCancel(ctx))
			return cmdutil.Usagef("--ui-addr: %v", err)
		}
		defer srv.Close(context.WithoutCancel(ctx))
		fmt.Fprintf(e.stdout, "live page: %s\n", srv.URL())
	}
	stopStatus := func() {}
	if l != nil {
		stopStatus = repeat(f.every, func() { fmt.Fprintln(e.stdout, l.status(s.Breaker())) })
	}
	// The load stops first, so it never reports the stack's own shutdown as errors.
	shutdown := sync.OnceValue(func() error {
		stopStatus()
		l.stop(upLoadGrace)
		err := s.Close(context.WithoutCancel(ctx))
		l.wait()
		if l != nil {
			fmt.Fprintln(e.stdout, l.status(s.Breaker())+" (stopped)")
		}
		return err
	})
	defer shutdown()
	printUp(e, s, dir, l, f)
	return waitUp(ctx, e, s, dir, shutdown)
}

// waitUp waits for Ctrl-C (a clean stop, exit 0) or a service's death (exit 1).
func waitUp(ctx context.Context, e *env, s *stack.Stack, dir string, shutdown func() error) error {
	select {
	case <-ctx.Done():
		fmt.Fprintln(e.stdout, "\nstopping: the load, then faults and services")
		if err := shutdown(); err != nil {
			return fmt.Errorf("cleanup: %w", err)
		}
		return nil
	case x := <-s.Died():
		return fmt.Errorf("%s exited (%s; see %s): %w", x.Service, x.How, filepath.Join(dir, "*.log"), cmdutil.ErrFailed)
	}
}

// logsDir makes the --logs folder, or a new temporary one when none is named.
func logsDir(dir string) (string, error) {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "chaoslab-up-")
		if err != nil {
			return "", fmt.Errorf("create a folder for the logs: %w", err)
		}
		return tmp, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create --logs folder: %w", err)
	}
	return dir, nil
}

func printUp(e *env, s *stack.Stack, dir string, l *upLoad, f upFlags) {
	w, every := e.stdout, f.every
	if len(s.Tiers) > 0 {
		printTiers(w, s)
	} else {
		fmt.Fprintf(w, "chaoslab stack is up (%s)\n", s.Kind)
		fmt.Fprintf(w, "  client-service   %s   (GET /api/data, /api/resilience, /api/diagnostics/backend, /metrics)\n", s.ClientURL)
		fmt.Fprintf(w, "  backend-service  %s\n", s.BackendURL)
		fmt.Fprintf(w, "  fault API        %s   (Toxiproxy's API, proxy %q; /faults/http, /processes, /faults/flapping)\n", s.FaultURL, "backend")
	}
	fmt.Fprintf(w, "  logs             %s\n\n", dir)
	switch {
	case l != nil && len(s.Tiers) > 0:
		fmt.Fprintf(w, "load: %g requests/s spread over the entry tiers %s, round robin (--rps 0 turns it off), timeout %v, a status line every %v\n\n",
			l.cfg.RPS, strings.Join(entryNames(s), ", "), l.cfg.Timeout, every)
	case l != nil:
		fmt.Fprintf(w, "load: %g requests/s to %s (--rps 0 turns it off), timeout %v, a status line every %v\n\n",
			l.cfg.RPS, l.cfg.Target, l.cfg.Timeout, every)
	default:
		fmt.Fprint(w, "load: off (--rps 0): the only requests are yours and the experiment's probes, too few for\n"+
			"the circuit breaker to open during a partition\n\n")
	}
	fmt.Fprintln(w, "Run the experiment with the real Chaos Toolkit (pip install chaostoolkit):")
	fmt.Fprintf(w, "  %s=%s %s=%s %s=%s chaos run %s\n\n", lab.EnvClientURL, s.ClientURL, lab.EnvBackendURL, s.BackendURL,
		lab.EnvToxiproxyURL, s.FaultURL, chaos.LocalPartitionExperimentPath)
	fmt.Fprintln(w, "The same works for every experiment of the catalogue (chaoslab list): chaos/local/<name>-experiment.json.")
	printTraces(w, e.getenv, f)
	fmt.Fprintln(w, "Press Ctrl-C to stop.")
}

// upOTELVars are the tracing variables up passes to every service as the user set them.
func upOTELVars() []string {
	return []string{tracing.EnvEndpoint, tracing.EnvTracesEndpoint, tracing.EnvSampler, tracing.EnvSamplerArg, tracing.EnvServiceName}
}

// upTraceEnv passes the user's OTEL_* variables to every service (chaoslab's environment as
// the command sees it, which the services also inherit) and, when traced and the user did not
// name the services, names each after itself (a tier after its tier).
func upTraceEnv(getenv func(string) string) func(string) map[string]string {
	lookup := lookupEnv(getenv)
	return func(service string) map[string]string {
		env := map[string]string{}
		for _, k := range upOTELVars() {
			if v, ok := lookup(k); ok && v != "" {
				env[k] = v
			}
		}
		_, traced := env[tracing.EnvEndpoint]
		if _, ok := env[tracing.EnvTracesEndpoint]; ok {
			traced = true
		}
		if _, named := env[tracing.EnvServiceName]; traced && !named {
			env[tracing.EnvServiceName] = service
		}
		return env
	}
}

// printTraces says where the services' spans go, or how to send them to a collector.
func printTraces(w io.Writer, getenv func(string) string, f upFlags) {
	lookup := lookupEnv(getenv)
	for _, k := range []string{tracing.EnvTracesEndpoint, tracing.EnvEndpoint} {
		if v, ok := lookup(k); ok && v != "" {
			fmt.Fprintf(w, "\ntraces: every service sends its spans to %s=%s (OTLP/HTTP); your OTEL_* variables are passed to them as they are.\n", k, v)
			return
		}
	}
	for _, k := range []string{tracing.EnvTracesEndpoint, tracing.EnvEndpoint} {
		if v := f.env[k]; v != "" {
			fmt.Fprintf(w, "\ntraces: client-service sends its spans to %s=%s (--env); set it in chaoslab's environment instead to trace every service.\n", k, v)
			return
		}
	}
	fmt.Fprint(w, "\ntraces: off. To follow each request's attempts in a collector or Jaeger (OTLP/HTTP, port 4318), start up with\n"+
		"  OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 chaoslab up\n"+
		"  (e.g. docker run -p 16686:16686 -p 4318:4318 jaegertracing/all-in-one; OTEL_TRACES_SAMPLER and OTEL_SERVICE_NAME pass through too)\n")
}

// upLoad is the steady load chaoslab up sends, like the Kubernetes load Deployment. A nil
// *upLoad is no load: its methods do nothing.
type upLoad struct {
	cfg     load.Config
	counter load.Counter
	cancel  context.CancelFunc
	done    chan struct{} // closed when load.Run returned
}

// startUpLoad starts the load on target at rps (spread over a topology's entries, if any),
// until ctx is cancelled or stop is called; rps 0 starts nothing and returns nil.
func startUpLoad(ctx context.Context, target string, rps float64, hub *live.Hub, entries []lab.Entry) (*upLoad, error) {
	if rps == 0 {
		return nil, nil
	}
	hc, err := lab.EntryClient(entries)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &upLoad{cfg: load.Config{Target: target, RPS: rps, Timeout: load.DefaultTimeout}, cancel: cancel, done: make(chan struct{})}
	onRecord := l.counter.Add
	if hub != nil {
		onRecord = func(r results.Record) { l.counter.Add(r); hub.Record(r) }
	}
	go func() {
		defer close(l.done)
		_ = load.Run(ctx, l.cfg, hc, lab.TagEntry(entries, onRecord)) // the flags and the stack's URL are valid
	}()
	return l, nil
}

// upEntries are a topology's entry tiers, for the load (nil without one).
func upEntries(s *stack.Stack) []lab.Entry {
	var out []lab.Entry
	for _, t := range s.Entries() {
		out = append(out, lab.Entry{Tier: t.Name, URL: t.URL})
	}
	return out
}

func entryNames(s *stack.Stack) []string {
	var out []string
	for _, t := range s.Entries() {
		out = append(out, t.Name)
	}
	return out
}

// printTiers says where a topology's tiers, the backend and the fault API are, and each proxy.
func printTiers(w io.Writer, s *stack.Stack) {
	fmt.Fprintf(w, "chaoslab stack is up (%s, %d tiers)\n", s.Kind, len(s.Tiers))
	for _, t := range s.Tiers {
		where := fmt.Sprintf("behind proxy %q, calls %s", t.Proxy, t.Calls)
		if t.Entry {
			where = "entry: the load and the probes come here; calls " + t.Calls
		}
		fmt.Fprintf(w, "  tier %-11s %s   (%s)\n", t.Name, t.URL, where)
	}
	fmt.Fprintf(w, "  backend-service  %s   (behind proxy %q)\n", s.BackendURL, "backend")
	quoted := make([]string, 0, len(s.Tiers)+1)
	for _, p := range s.Proxies() {
		quoted = append(quoted, strconv.Quote(p))
	}
	fmt.Fprintf(w, "  fault API        %s   (Toxiproxy's API, proxies %s: /proxies/<name>/toxics; /faults/http at the backend, /processes, /faults/flapping)\n",
		s.FaultURL, strings.Join(quoted, ", "))
}

// stop ends the sending at once and gives the requests in flight up to grace to finish.
func (l *upLoad) stop(grace time.Duration) {
	if l == nil {
		return
	}
	l.cancel()
	select {
	case <-l.done:
	case <-time.After(grace):
	}
}

// wait waits until every request of the load has ended.
func (l *upLoad) wait() {
	if l != nil {
		<-l.done
	}
}

// status is the line printed every --every.
func (l *upLoad) status(breaker string) string {
	t := l.counter.Totals()
	if breaker == "" {
		breaker = "-"
	}
	return fmt.Sprintf("%s load: %d requests, %d backend, %d fallback, %d errors, %d dropped | breaker %s",
		time.Now().Format("15:04:05"), t.Requests, t.Backend, t.Fallbacks, t.Errors, t.Dropped, breaker)
}
