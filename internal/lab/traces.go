package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"chaoslab/internal/otlprecv"
	"chaoslab/internal/results"
	"chaoslab/internal/tracing"
)

// TraceSpanLimit is the most spans a run's receiver keeps (about 1 KB each in memory); it
// refuses the rest, and run.json and the run's last lines say how many. A default run (about a
// minute at 20 rps) makes a few thousand.
const TraceSpanLimit = 100_000

// TraceConfig says whether a run traces its requests. The zero value is off: the run is
// exactly as before tracing existed (no receiver, no traceparent, no trace_id column).
type TraceConfig struct {
	// On: the load sends a traceparent with each request and the services send their spans to
	// a receiver the run starts on loopback (local stack), kept in spans.jsonl; or, when the
	// user's environment (or --env) sets OTEL_EXPORTER_OTLP_ENDPOINT or
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, to that endpoint instead, which the run does not
	// override.
	On bool
	// Sample is the share of the load's requests flagged sampled, from 0 (excluded) to 1; 0 = 1.
	// The services follow the flag (parentbased_always_on, unless the user set a sampler).
	Sample float64
	// Limit replaces TraceSpanLimit when above 0 (tests).
	Limit int
}

func (c TraceConfig) sample() float64 {
	if c.Sample <= 0 || c.Sample > 1 {
		return 1
	}
	return c.Sample
}

// tracePlan is what a run does with traces, decided before the stack starts.
type tracePlan struct {
	info    *results.TracesInfo // run.json's "traces"; nil: the run does not trace
	sample  float64             // the load's TraceSample; 0 = no traceparent
	recv    *otlprecv.Receiver  // the lab's receiver; nil when the spans go elsewhere or nowhere
	srv     *http.Server
	keep    map[string]string // the user's OTEL_* variables the run leaves as they are
	userVar string            // the user's variable that names where the spans go; "" = the lab's receiver or none
	started time.Time
}

// otelVars are the variables the lab sets on each service to receive its spans.
func otelVars() []string {
	return []string{tracing.EnvEndpoint, tracing.EnvSampler, tracing.EnvServiceName}
}

// planTraces decides where the spans go and starts the lab's receiver when they come to it.
func planTraces(cfg RunConfig) (*tracePlan, error) {
	p := &tracePlan{keep: map[string]string{}}
	if !cfg.Traces.On {
		return p, nil
	}
	lookup := cfg.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	user := func(k string) string {
		if v, ok := cfg.ClientEnv[k]; ok {
			return v
		}
		v, _ := lookup(k)
		return v
	}
	for _, k := range []string{tracing.EnvTracesEndpoint, tracing.EnvEndpoint} {
		if v := user(k); v != "" {
			p.info = &results.TracesInfo{Endpoint: v, Sample: cfg.Traces.sample(),
				Note: fmt.Sprintf("the services sent their spans to your %s=%s; the lab did not receive them (look them up there by requests.csv's trace_id)", k, v)}
			p.userVar, p.sample = k, cfg.Traces.sample()
			return p, nil
		}
	}
	if why := untraced(cfg.Stack); why != "" {
		p.info = &results.TracesInfo{Note: "traces were not collected: " + why}
		return p, nil
	}
	for _, k := range otelVars() {
		if v := user(k); v != "" {
			p.keep[k] = v
		}
	}
	limit := cfg.Traces.Limit
	if limit <= 0 {
		limit = TraceSpanLimit
	}
	if err := p.serve(limit); err != nil {
		return nil, err
	}
	p.info = &results.TracesInfo{Endpoint: p.endpoint(), Kept: true, Limit: limit, Sample: cfg.Traces.sample()}
	if len(p.keep) > 0 {
		p.info.Note = "kept your " + p.kept()
	}
	p.sample = cfg.Traces.sample()
	return p, nil
}

// loopbackStack is a stack whose services can reach this host's loopback (Processes, and a
// test's wrapper of it): it says whether they can in this run.
type loopbackStack interface{ servicesReachLoopback() bool }

// servicesReachLoopback: the local stack's services run on this host's loopback; netns ones in
// their own namespaces.
func (p Processes) servicesReachLoopback() bool { return p.Kind == "local" }

// untraced says why a stack's services cannot send their spans to a receiver on this host's
// loopback ("" when they can: the local stack).
func untraced(st Stack) string {
	p, ok := st.(loopbackStack)
	switch {
	case !ok:
		return fmt.Sprintf("the %s stack's services cannot reach the lab's receiver on loopback; give them an OTEL_EXPORTER_OTLP_ENDPOINT of a collector, and chaoslab the same, to trace the load's requests", st.Name())
	case !p.servicesReachLoopback():
		return fmt.Sprintf("the %s stack's services run in their own network namespaces and cannot reach the lab's receiver on loopback; set OTEL_EXPORTER_OTLP_ENDPOINT to a collector they reach", st.Name())
	}
	return ""
}

// serve starts the receiver on a free loopback port.
func (p *tracePlan) serve(limit int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("traces: listening for the services' spans on loopback (--traces=off runs without): %w", err)
	}
	p.recv = otlprecv.New(limit)
	mux := http.NewServeMux()
	mux.Handle(otlprecv.Path, p.recv)
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second, Addr: ln.Addr().String()}
	p.started = time.Now()
	go p.srv.Serve(ln)
	return nil
}

func (p *tracePlan) endpoint() string { return "http://" + p.srv.Addr }

// kept lists the user's variables the run left as they are.
func (p *tracePlan) kept() string {
	var kv []string
	for _, k := range otelVars() {
		if v, ok := p.keep[k]; ok {
			kv = append(kv, k+"="+v)
		}
	}
	return strings.Join(kv, " ")
}

// serviceEnv is the variables that send a service's spans to the lab's receiver: its
// endpoint, a parent-based sampler (the load's flag decides) and the service's name (a tier's
// name for a tier); the user's own are left as they are. nil when the lab receives nothing.
func (p *tracePlan) serviceEnv() func(string) map[string]string {
	if p == nil || p.recv == nil {
		return nil
	}
	return func(service string) map[string]string {
		env := map[string]string{tracing.EnvEndpoint: p.endpoint(), tracing.EnvSampler: "parentbased_always_on", tracing.EnvServiceName: service}
		for k := range p.keep {
			delete(env, k)
		}
		return env
	}
}

// startLine says where the spans go, for the run's first lines; "" when the run does not trace.
func (p *tracePlan) startLine() string {
	switch {
	case p == nil || p.info == nil:
		return ""
	case p.recv != nil:
		line := fmt.Sprintf("traces: the services send their spans to the lab's receiver %s%s (spans.jsonl; --traces=off to run without)", p.endpoint(), otlprecv.Path)
		if len(p.keep) > 0 {
			line += "; kept your " + p.kept()
		}
		return line
	case p.userVar != "":
		return fmt.Sprintf("traces: the services send their spans to your %s=%s, not to the lab: no spans.jsonl (find a request there by requests.csv's trace_id)", p.userVar, p.info.Endpoint)
	}
	return p.info.Note
}

// finish stops the receiver, once the services have stopped (and flushed their spans), and
// returns the spans it kept; nil when the lab received none.
func (p *tracePlan) finish(ctx context.Context) ([]otlprecv.Span, error) {
	if p == nil || p.recv == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = nil // an exporter still connected: what it sent is in
	}
	spans := p.recv.Spans()
	if spans == nil {
		spans = []otlprecv.Span{}
	}
	p.info.Spans, p.info.Refused = len(spans), p.recv.Rejected()
	if err != nil {
		return spans, fmt.Errorf("traces: stopping the receiver: %w", err)
	}
	return spans, nil
}

// close stops the receiver of a run that did not get to finish.
func (p *tracePlan) close() {
	if p != nil && p.srv != nil {
		p.srv.Close()
	}
}

// endLine counts the spans kept, for the run's last lines; "" when the lab received none.
func (p *tracePlan) endLine(spans []otlprecv.Span) string {
	if p == nil || p.recv == nil {
		return ""
	}
	traces := map[string]bool{}
	for _, s := range spans {
		traces[s.TraceID] = true
	}
	line := fmt.Sprintf("traces: %d spans of %d traces in %s: every span the lab's receiver took from the services' start to their stop", len(spans), len(traces), results.SpansFile)
	if p.info.Refused > 0 {
		line += fmt.Sprintf("; %d more refused, over its limit of %d", p.info.Refused, p.info.Limit)
	}
	return line
}
