package httpserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Options configure Serve.
type Options struct {
	Addr            string        // LISTEN_ADDR; port 0 picks a free port
	Listener        net.Listener  // served instead of listening on Addr when set (Addr is then ignored)
	Handler         http.Handler  // the service's NewServer
	Logger          *slog.Logger  // gets the "listening" line and the shutdown lines
	Ready           *atomic.Bool  // set once listening, cleared once shutdown begins
	ShutdownTimeout time.Duration // how long in-flight requests may take to finish, Drain included
	Drain           time.Duration // SHUTDOWN_DRAIN: how long to keep serving, readiness at 503, before the listener closes
	WriteTimeout    time.Duration // longest a handler may take to answer
}

// Server timeouts and limits that do not depend on a service's work.
const (
	readHeaderTimeout = 5 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 64 << 10
)

// Serve listens on o.Addr (or serves o.Listener), logs one "listening" line whose addr is the bound address, and serves
// until ctx is done. Then readiness turns false at once; for o.Drain the server keeps accepting
// and answering (with keep-alives off, so clients move to new connections) while load balancers
// see /readyz at 503 and stop sending; then the listener closes and in-flight requests get the
// rest of o.ShutdownTimeout to finish, and Serve returns nil: a cancelled context is a graceful
// shutdown.
func Serve(ctx context.Context, o Options) error {
	ln := o.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", o.Addr); err != nil {
			return fmt.Errorf("listening on %s: %w (free the port or set LISTEN_ADDR)", o.Addr, err)
		}
	}
	srv := &http.Server{
		Handler:           o.Handler,
		ReadHeaderTimeout: readHeaderTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	o.Logger.Info("listening", "addr", ln.Addr().String())
	o.Ready.Store(true)
	select {
	case err := <-errc:
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	return shutdown(srv, errc, o)
}

func shutdown(srv *http.Server, errc <-chan error, o Options) error {
	o.Ready.Store(false)
	o.Logger.Info("shutting down", "timeout", o.ShutdownTimeout, "drain", min(o.Drain, o.ShutdownTimeout))
	ctx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
	defer cancel()
	if d := min(o.Drain, o.ShutdownTimeout); d > 0 {
		// Closing the listener at once would refuse the requests still routed here until the
		// load balancer sees the 503; and idle keep-alive connections closed later, once nothing
		// accepts new ones, would leave their clients nowhere to retry. So: keep serving for the
		// drain, answering with "Connection: close" (idle connections close now, while a retry
		// on a new connection still finds the listener).
		srv.SetKeepAlivesEnabled(false)
		<-time.After(d)
	}
	if err := srv.Shutdown(ctx); err != nil {
		o.Logger.Warn("in-flight requests cut at SHUTDOWN_TIMEOUT", "error", err)
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	o.Logger.Info("stopped")
	return nil
}
