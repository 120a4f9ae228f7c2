package client

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"chaoslab/internal/httpserve"
	"chaoslab/internal/resilience"
	"chaoslab/internal/results"
	"chaoslab/internal/tracing"

	"github.com/prometheus/client_golang/prometheus"
)

const about = "client-service answers GET /api/data by calling BACKEND_URL through\n" +
	"fallback(retry(circuit breaker(per-attempt timeout(call)))); also /api/resilience,\n" +
	"/api/diagnostics/backend, /healthz, /readyz, /metrics, and GET|PUT /api/attempt-records\n" +
	"(PUT ?for=2m writes a record of every backend call for 2m whatever LOG_LEVEL, at most 1h; for=0 = off)."

// writeSlack is how much longer than REQUEST_TIMEOUT a handler may take to write its answer.
const writeSlack = 5 * time.Second

// Run is client-service's main: it reads args and the environment, serves until ctx is done and
// then shuts down gracefully (returning nil). --help prints the variables and returns
// cmdutil.ErrHelp; a bad variable returns a cmdutil usage error (exit status 2).
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if err := httpserve.ParseArgs(args, stdout, "client-service", about, settings()); err != nil {
		return err
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	logger := httpserve.NewLogger(cfg.LogFormat, cfg.level(), stdout, "client-service")
	gatherer := prometheus.NewRegistry()
	var reg prometheus.Registerer = gatherer
	if cfg.Tier != "" {
		logger = logger.With(results.AttrTier, cfg.Tier)
		reg = prometheus.WrapRegistererWith(prometheus.Labels{results.AttrTier: cfg.Tier}, gatherer)
	}
	seed := uint64(cfg.JitterSeed)
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	rnd := rand.New(rand.NewPCG(seed, 0))
	tp, err := tracing.New(context.WithoutCancel(ctx), cfg.Tracing, tracing.Options{Tier: cfg.Tier, Registry: reg, Logger: logger})
	if err != nil {
		return err
	}
	defer tp.Close() // last: once the probes have stopped and the requests are done
	spans, err := cfg.spans(tp)
	if err != nil {
		return err
	}
	backend := newBackendClient(cfg, tp)
	defer backend.close()
	lease := resilience.NewAttemptLease(time.Now)
	pipeline, err := resilience.New(cfg.pipelineConfig(), resilience.Options{Logger: logger, Registry: reg, Rand: rnd,
		Probe: backend.ready, AttemptRecords: lease, Tracing: spans})
	if err != nil {
		return err
	}
	defer pipeline.Close()
	hm, err := httpserve.NewHTTPMetrics(reg)
	if err != nil {
		return fmt.Errorf("registering HTTP metrics: %w", err)
	}
	var ready atomic.Bool
	h := NewServer(Deps{Config: cfg, Pipeline: pipeline, Backend: backend, AttemptRecords: lease, Ready: &ready, Metrics: hm, Registry: gatherer,
		Tracing: tp})
	logger.Info("configured", "backend", cfg.BackendURL, "resilience", cfg.Effective()["RESILIENCE"], "jitter_seed", seed)
	return httpserve.Serve(ctx, httpserve.Options{
		Addr: cfg.ListenAddr, Handler: h, Logger: logger, Ready: &ready,
		ShutdownTimeout: cfg.ShutdownTimeout, Drain: cfg.ShutdownDrain, WriteTimeout: cfg.RequestTimeout + writeSlack,
	})
}

// spans is what the pipeline traces with: the CLIENT span of GET BACKEND_URL/api/data and of
// the probes' GET BACKEND_URL/readyz. Tracing off: the zero value, no spans.
func (c Config) spans(tp *tracing.Provider) (resilience.Tracing, error) {
	if tp == nil {
		return resilience.Tracing{}, nil
	}
	call, callAttrs, err := tracing.ClientSpan(http.MethodGet, c.BackendURL+"/api/data")
	if err != nil {
		return resilience.Tracing{}, err
	}
	probe, probeAttrs, err := tracing.ClientSpan(http.MethodGet, c.BackendURL+"/readyz")
	if err != nil {
		return resilience.Tracing{}, err
	}
	return resilience.Tracing{Tracer: tp.Tracer("chaoslab/internal/resilience"),
		Call:  resilience.SpanStart{Name: call, Attributes: callAttrs},
		Probe: resilience.SpanStart{Name: probe, Attributes: probeAttrs}}, nil
}
