package backend

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"time"

	"chaoslab/internal/capacity"
	"chaoslab/internal/httpserve"
	"chaoslab/internal/tracing"

	"github.com/prometheus/client_golang/prometheus"
)

const about = "backend-service answers GET /api/data for client-service; /healthz, /readyz, /metrics, /api/capacity."

// writeTimeout bounds one answer, its wait for a worker and its service time included.
const writeTimeout = 30 * time.Second

// Run is backend-service's main: it reads args and the environment, serves until ctx is done and
// then shuts down gracefully (returning nil). --help prints the variables and returns
// cmdutil.ErrHelp; a bad variable returns a cmdutil usage error.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if err := httpserve.ParseArgs(args, stdout, "backend-service", about, settings()); err != nil {
		return err
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	logger := httpserve.NewLogger(cfg.LogFormat, slog.LevelInfo, stdout, "backend-service")
	reg := prometheus.NewRegistry()
	hm, err := httpserve.NewHTTPMetrics(reg)
	if err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	tp, err := tracing.New(context.WithoutCancel(ctx), cfg.Tracing, tracing.Options{Registry: reg, Logger: logger})
	if err != nil {
		return err
	}
	defer tp.Close() // last: once the requests are done
	pool, err := newPool(cfg, logger, reg)
	if err != nil {
		return err
	}
	if pool != nil {
		defer pool.Close()
	}
	var ready atomic.Bool
	h := NewServer(Deps{Instance: host, Ready: &ready, Metrics: hm, Registry: reg, Now: time.Now, PayloadBytes: cfg.PayloadBytes,
		Capacity: pool, Logger: logger, Tracing: tp})
	return httpserve.Serve(ctx, httpserve.Options{
		Addr: cfg.ListenAddr, Handler: h, Logger: logger, Ready: &ready,
		ShutdownTimeout: cfg.ShutdownTimeout, Drain: cfg.ShutdownDrain, WriteTimeout: writeTimeout,
	})
}

// newPool makes the capacity model of cfg, registers its metrics on reg and logs its settings
// and seed; nil when cfg models no capacity (the default), which leaves /metrics as it was.
func newPool(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*capacity.Pool, error) {
	if !cfg.capacityOn() {
		return nil, nil
	}
	seed := uint64(cfg.Seed)
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	pool, err := capacity.New(cfg.Capacity, capacity.Options{Rand: rand.New(rand.NewPCG(seed, 0))})
	if err != nil {
		return nil, fmt.Errorf("capacity: %w", err)
	}
	if err := reg.Register(newCapacityCollector(pool)); err != nil {
		pool.Close()
		return nil, fmt.Errorf("registering capacity metrics: %w", err)
	}
	logger.Info("capacity set", append([]any{"event", "capacity", "seed", seed}, settingsAttrs(cfg.Capacity)...)...)
	return pool, nil
}
