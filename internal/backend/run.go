package backend

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"chaoslab/internal/httpserve"

	"github.com/prometheus/client_golang/prometheus"
)

const about = "backend-service answers GET /api/data for client-service; /healthz, /readyz, /metrics."

// writeTimeout bounds one answer; the backend's work is instant.
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
	var ready atomic.Bool
	h := NewServer(Deps{Instance: host, Ready: &ready, Metrics: hm, Registry: reg, Now: time.Now, PayloadBytes: cfg.PayloadBytes})
	return httpserve.Serve(ctx, httpserve.Options{
		Addr: cfg.ListenAddr, Handler: h, Logger: logger, Ready: &ready,
		ShutdownTimeout: cfg.ShutdownTimeout, Drain: cfg.ShutdownDrain, WriteTimeout: writeTimeout,
	})
}
