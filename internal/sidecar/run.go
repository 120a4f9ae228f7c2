package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"chaoslab/internal/fault"
	"chaoslab/internal/httpserve"
	"chaoslab/internal/results"
)

const about = `chaoslab serve fault-proxy is the lab's fault injector as a sidecar beside backend-service in its
pod: clients reach the backend through LISTEN_ADDR (Toxiproxy's proxy "backend", then the HTTP
fault injector, then UPSTREAM), and the fault API on FAULT_API_ADDR drives the faults exactly as
on the local stack (chaoslab up), with /healthz and /readyz. With shareProcessNamespace: true,
POST /processes/backend-service/kill signals the backend's process; the kubelet restarts it.
With SPIKE_TARGETS (the entry tiers' Services), POST /faults/spike sends a load spike to them from
inside the cluster. Every fault on/off and process kill/start is one log record: event=fault|process,
action, kind, process, detail.`

// closeBound is how long the fault API may take to remove the faults and stop after the data
// path has shut down.
const closeBound = 5 * time.Second

// Run is the fault proxy's main: it reads args and the environment, serves until ctx is done and
// then shuts down gracefully (returning nil). --help prints the variables and returns
// cmdutil.ErrHelp; a bad variable returns a cmdutil usage error.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if err := httpserve.ParseArgs(args, stdout, "chaoslab serve fault-proxy", about, settings()); err != nil {
		return err
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	logger := httpserve.NewLogger(cfg.LogFormat, cfg.level(), stdout, "fault-proxy")
	procs := NewProcesses(ProcessesConfig{Root: "/proc", Name: cfg.Process, Upstream: cfg.Upstream, RestartWait: cfg.RestartWait})
	return serve(ctx, cfg, procs, logger)
}

// serve runs the data path and the fault API until ctx is done. The data path is
// Toxiproxy (on cfg.ListenAddr) -> the HTTP injector (on loopback) -> cfg.Upstream, as on the
// local stack.
func serve(ctx context.Context, cfg Config, procs fault.ProcessControl, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("the HTTP fault injector's loopback listener: %w", err)
	}
	injector := fault.NewHTTPFaults(fault.HTTPFaultsConfig{Upstream: cfg.Upstream})
	proxy, err := fault.StartProxy(fault.ProxyConfig{Listen: cfg.ListenAddr, Upstream: ln.Addr().String()})
	if err != nil {
		ln.Close()
		return fmt.Errorf("%w (free the port or set LISTEN_ADDR)", err)
	}
	var ready atomic.Bool
	api, err := fault.StartAPI(fault.APIConfig{Addr: cfg.FaultAPIAddr, TCP: proxy, HTTP: injector, Processes: procs,
		Backend:  "http://" + cfg.Upstream, // /faults/capacity
		Clients:  cfg.Spikes(),             // /faults/spike, from inside the cluster; none = 501
		OnChange: faultRecorder(logger), OnProcess: processRecorder(logger), Routes: map[string]http.Handler{
			"GET /healthz": httpserve.HandleHealthz(),
			"GET /readyz":  httpserve.HandleReadyz(&ready),
		}})
	if err != nil {
		proxy.Close(ctx)
		ln.Close()
		return fmt.Errorf("%w (or set FAULT_API_ADDR)", err)
	}
	logger.Info("listening", "addr", proxy.ListenAddr(), "fault_api", api.URL(), "upstream", cfg.Upstream, "process", cfg.Process)
	serveErr := httpserve.Serve(ctx, httpserve.Options{Listener: ln, Handler: injector, Logger: logger.With("component", "injector"),
		Ready: &ready, ShutdownTimeout: cfg.ShutdownTimeout, Drain: cfg.ShutdownDrain})
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeBound)
	defer cancel()
	if err := api.Close(closeCtx); err != nil { // every fault removed, Toxiproxy and the API stopped
		return errors.Join(serveErr, fmt.Errorf("stop the fault API: %w", err))
	}
	return serveErr
}

// faultRecorder logs every fault on/off transition as one record dated at the transition.
func faultRecorder(logger *slog.Logger) func(fault.Change) {
	return func(ch fault.Change) {
		action := "off"
		if ch.Active {
			action = "on"
		}
		record(logger, ch.Time, "fault "+action, slog.String(results.AttrEvent, results.LogFault), slog.String(results.AttrAction, action),
			slog.String(results.AttrKind, ch.Kind), slog.String(results.AttrDetail, ch.Detail))
	}
}

// processRecorder logs every step of a process fault (kill, start) as one record dated at it.
func processRecorder(logger *slog.Logger) func(fault.ProcessEvent) {
	return func(e fault.ProcessEvent) {
		attrs := []slog.Attr{slog.String(results.AttrEvent, results.LogProcess), slog.String(results.AttrAction, e.Action),
			slog.String(results.AttrProcess, e.Service), slog.Int(results.AttrPID, e.PID)}
		if e.Since > 0 {
			attrs = append(attrs, slog.Float64(results.AttrSinceMS, results.MS(e.Since)))
		}
		record(logger, e.Time, "process "+e.Action, append(attrs, slog.String(results.AttrDetail, e.Message))...)
	}
}

// record writes one info record whose time is t, the moment of what it records.
func record(logger *slog.Logger, t time.Time, msg string, attrs ...slog.Attr) {
	ctx := context.Background() // a log record waits on nothing
	if !logger.Enabled(ctx, slog.LevelInfo) {
		return
	}
	r := slog.NewRecord(t, slog.LevelInfo, msg, 0)
	r.AddAttrs(attrs...)
	logger.Handler().Handle(ctx, r)
}
