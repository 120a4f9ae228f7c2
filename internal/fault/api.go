package fault

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// TCPFaults is the Toxiproxy-shaped part of the API: the embedded Toxiproxy (Proxy) on the local
// stack, the iptables partition (PartitionAPI) with network namespaces.
type TCPFaults interface {
	Handler() http.Handler // Toxiproxy's REST API, or the part of it the stack supports
	Injected() []Injected
	Partitioner // the partition a flapping schedule turns on and off
	Reset(ctx context.Context) error
	Close(ctx context.Context) error
}

// APIConfig configures the fault API.
type APIConfig struct {
	Addr      string         // where the API listens, e.g. 127.0.0.1:8474 (port 0 picks one)
	TCP       TCPFaults      // required
	HTTP      *HTTPFaults    // the L7 injector in front of the backend (target "backend"); nil = no /faults/http
	Processes ProcessControl // nil = no /processes
	OnChange  func(Change)   // every fault on/off transition; may be nil
	OnProcess func(ProcessEvent)
	// Backend is the backend's base URL, reached directly (not through the faults):
	// /faults/capacity changes its capacity through its /api/capacity. "" = no capacity fault.
	Backend string
	// Clients are the entry clients' base URLs: /faults/spike sends its requests to their
	// /api/data. None = no load spike (SetClients may give them once the clients run).
	Clients []string
	// Routes are more routes, by ServeMux pattern (e.g. "GET /healthz"), served before
	// Toxiproxy's API; nil = none.
	Routes map[string]http.Handler
}

// API is the lab's fault API: one HTTP server for every kind of fault (see the package doc). It
// is safe for concurrent use.
type API struct {
	cfg     APIConfig
	track   *tracker
	procs   *processes // nil without Processes
	l7      *httpHops  // the L7 injectors by target; nil without HTTP
	flap    *flapping
	cap     *capacityFaults
	spike   *spikes
	metrics *faultMetrics // GET /metrics, PUT /experiment
	srv     *http.Server
	ln      net.Listener
}

// StartAPI starts serving the API.
func StartAPI(cfg APIConfig) (*API, error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("fault API on %s: %w (is another Toxiproxy or `chaoslab up` running? choose another address)", cfg.Addr, err)
	}
	a := &API{cfg: cfg, ln: ln}
	sources := []func() []Injected{cfg.TCP.Injected}
	if cfg.HTTP != nil {
		a.l7 = newHTTPHops(cfg.HTTP)
		sources = append(sources, a.l7.Injected)
	}
	a.track = newTracker(cfg.OnChange, sources...)
	a.flap = newFlapping(cfg.TCP, a.track.check)
	a.cap = newCapacityFaults(cfg.Backend)
	a.spike = newSpikes(a.track.check, cfg.Clients)
	a.track.sources = append(a.track.sources, a.flap.Injected, a.cap.Injected, a.spike.Injected)
	if cfg.Processes != nil {
		a.procs = newProcesses(cfg.Processes, a.track.check, cfg.OnProcess)
		a.track.sources = append(a.track.sources, a.procs.Injected)
	}
	a.metrics = newFaultMetrics(a.track.injected)
	a.track.note = a.metrics.note
	a.srv = &http.Server{Handler: a.routes(), ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second}
	go a.srv.Serve(ln)
	return a, nil
}

// routes is the whole API: chaoslab's own faults, and Toxiproxy's API for everything else.
func (a *API) routes() http.Handler {
	mux := http.NewServeMux()
	if a.l7 != nil {
		a.l7.register(mux)
	}
	a.flap.register(mux)
	a.cap.register(mux)
	a.spike.register(mux)
	if a.procs != nil {
		a.procs.register(mux)
	}
	mux.HandleFunc("POST /reset", a.handleReset)
	mux.HandleFunc("GET /faults", a.handleFaults)
	a.metrics.register(mux)
	for pattern, h := range a.cfg.Routes {
		mux.Handle(pattern, h)
	}
	mux.Handle("/", a.cfg.TCP.Handler())
	return a.watch(mux)
}

// watch checks the fault state after every request that may change it.
func (a *API) watch(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started := time.Now()
		next.ServeHTTP(w, r)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			a.track.check(started)
		}
	})
}

// FaultsAnswer is the answer of GET /faults: what of a fault remains (Leftover), for a runner
// that reaches the API from afar (the Kubernetes sidecar).
type FaultsAnswer struct {
	Leftover bool   `json:"leftover"` // a fault in effect, or one scheduled
	Detail   string `json:"detail"`   // what, for a person ("" when nothing)
}

func (a *API) handleFaults(w http.ResponseWriter, _ *http.Request) {
	left, detail := a.Leftover()
	writeJSON(w, http.StatusOK, FaultsAnswer{Leftover: left, Detail: detail})
}

func (a *API) handleReset(w http.ResponseWriter, r *http.Request) {
	if err := a.Reset(context.WithoutCancel(r.Context())); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	a.metrics.setExternal(nil) // a reset leaves no fault: the runner's own are gone or going too
	w.WriteHeader(http.StatusNoContent)
}

// URL is the base URL of the API.
func (a *API) URL() string { return "http://" + a.ln.Addr().String() }

// Active says whether a fault is in effect now, and which.
func (a *API) Active() (bool, string) { return a.track.active() }

// Leftover says whether anything of a fault remains: one in effect, or one scheduled (a restart
// due, a flapping partition running), and what.
func (a *API) Leftover() (bool, string) {
	on, detail := a.Active()
	var parts []string
	if on {
		parts = append(parts, detail)
	}
	parts = append(parts, a.flap.scheduled()...)
	parts = append(parts, a.spike.scheduled()...)
	if a.procs != nil {
		parts = append(parts, a.procs.scheduled()...)
	}
	return len(parts) > 0, strings.Join(parts, "; ")
}

// AddHTTPHop makes h, an L7 injector in front of node name (a called tier of a call graph,
// named as its Toxiproxy proxy is), a target of /faults/http, beside the backend's
// (APIConfig.HTTP): a fault object with "target": name goes in effect there, and its fault
// events name the hop. It fails when the API has no HTTP faults or already has that target.
func (a *API) AddHTTPHop(name string, h *HTTPFaults) error {
	if a.l7 == nil {
		return fmt.Errorf("HTTP fault target %q: this fault API has no L7 injector (APIConfig.HTTP)", name)
	}
	return a.l7.add(name, h)
}

// SetClients sets the entry clients' base URLs a load spike sends to (APIConfig.Clients), for a
// stack that starts its clients after the API.
func (a *API) SetClients(urls ...string) { a.spike.setClients(urls) }

// Reset removes every fault: toxics and HTTP faults removed, flapping stopped (healed), a load
// spike stopped, the backend's capacity restored, services a fault took down started again.
func (a *API) Reset(ctx context.Context) error {
	a.flap.stop(false)
	a.spike.stop(false)
	errs := []error{a.cfg.TCP.Reset(ctx), a.cap.Reset(ctx)}
	if a.l7 != nil {
		errs = append(errs, a.l7.Reset(ctx))
	}
	if a.procs != nil {
		errs = append(errs, a.procs.reset())
	}
	a.track.check(time.Now())
	return errors.Join(errs...)
}

// Close removes every fault, cancels scheduled restarts and stops a load spike (nothing starts
// after it) and stops the API and the TCP fault (the proxy closes its connections).
func (a *API) Close(ctx context.Context) error {
	a.flap.stop(true)
	a.spike.stop(true)
	if a.procs != nil {
		a.procs.close()
	}
	errs := []error{a.cap.Reset(ctx)}
	if a.l7 != nil {
		errs = append(errs, a.l7.Reset(ctx))
	}
	errs = append(errs, a.cfg.TCP.Reset(ctx))
	a.track.check(time.Now())
	a.track.stop() // a stopped proxy is not a fault
	errs = append(errs, a.cfg.TCP.Close(ctx))
	if err := a.srv.Shutdown(ctx); err != nil {
		a.srv.Close()
	}
	return errors.Join(errs...)
}
