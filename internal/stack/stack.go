package stack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"chaoslab/internal/fault"
	"chaoslab/internal/results"
	"chaoslab/internal/topology"
)

// ServeCommand says how to start a service: the program and its arguments. The default runs this
// very binary as `chaoslab serve backend|client`.
type ServeCommand func(service string) (path string, args []string, err error)

// SelfServe is the default ServeCommand: re-execute the running chaoslab binary as
// `chaoslab serve backend|client` for results.BackendService or results.ClientService.
func SelfServe(service string) (string, []string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, fmt.Errorf("find the chaoslab binary to start %s: %w", service, err)
	}
	return exe, []string{"serve", strings.TrimSuffix(service, "-service")}, nil
}

// BackendPayload is the size of the padding in the lab backend's answers: about 2 KB, a
// realistic body, so a bandwidth fault (slow-body at 1 KB/s) has a body to trickle.
const BackendPayload = 2048

// Config configures a stack.
type Config struct {
	Kind        string            // a name from Kinds: "local" or "netns"
	Dir         string            // where the services' logs go
	ClientAddr  string            // local: client LISTEN_ADDR (default 127.0.0.1:0)
	BackendAddr string            // local: backend LISTEN_ADDR (default 127.0.0.1:0)
	FaultAPI    string            // the fault API's address (default 127.0.0.1:0)
	ClientEnv   map[string]string // pipeline variables for the client (RESILIENCE, RETRY_..., ...)
	Serve       ServeCommand      // nil = SelfServe
	Events      *results.EventLog
	Logger      *slog.Logger
	StartupWait time.Duration // how long a service may take to start (default 15s)
	Notify      func(string)  // says something to the user while starting (nil = log only)
	// Topology, when set, starts a call graph of client-service tiers instead of today's one
	// client (local only; ClientAddr is then the first entry tier's); nil = today's two services.
	Topology *topology.Topology
	// ServiceEnv, when set, gives more variables for each service by its name
	// (results.BackendService, results.ClientService or a tier's name), such as where to send
	// traces; ClientEnv, a tier's own variables and the stack's wiring win over them.
	ServiceEnv func(service string) map[string]string
	// ClientLogLevel is client-service's LOG_LEVEL: "" = debug, where it writes the attempt
	// record of every backend call that a run's accounting reads. A measurement of the service
	// as deployed (bench service) sets info: the retry, breaker and fallback lines only.
	ClientLogLevel string
}

// notify tells the user something about the stack, and logs it.
func (cfg *Config) notify(msg string) {
	cfg.Logger.Info(msg)
	if cfg.Notify != nil {
		cfg.Notify(msg)
	}
}

// Stack is a running lab: the two services (or the tiers of a topology and the backend) and the
// fault API between them.
type Stack struct {
	ClientURL  string // the client (with a topology: the first entry tier) as the load and the probes reach it
	BackendURL string // the backend as the probes reach it (not through the fault)
	FaultURL   string // the Toxiproxy-shaped fault API
	Kind       string
	Tiers      []Tier // with a topology: every tier, in the file's order; nil otherwise

	entry   string            // the service whose breaker Breaker reports
	order   []string          // the services in start order (Services); Close stops them in reverse
	urls    map[string]string // each service's base URL, for the snapshots
	clients map[string]bool   // the services that are client-service: their snapshots read /api/resilience

	mu       sync.Mutex        // guards services and closing: a process fault replaces a service's child
	services map[string]*child // the current process of each service
	closing  bool              // Close has begun: nothing starts any more
	died     chan Exit         // a service exited without being asked to
	faultAPI *fault.API
	injector *fault.HTTPFaults                 // the L7 injector in front of the backend (a tier's is the fault API's only)
	closers  []func(ctx context.Context) error // run in reverse order by Close, after the services stop
	logFiles []*os.File
	events   *results.EventLog
	logger   *slog.Logger
	wait     time.Duration // StartupWait, for restarts
	once     sync.Once
	// resilienceOff: the client runs without its patterns, so there is no breaker to show.
	resilienceOff bool
	closeErr      error
}

func (cfg *Config) defaults() {
	if cfg.ClientAddr == "" {
		cfg.ClientAddr = "127.0.0.1:0"
	}
	if cfg.BackendAddr == "" {
		cfg.BackendAddr = "127.0.0.1:0"
	}
	if cfg.FaultAPI == "" {
		cfg.FaultAPI = "127.0.0.1:0"
	}
	if cfg.Serve == nil {
		cfg.Serve = SelfServe
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Events == nil {
		cfg.Events = results.NewEventTap()
	}
	if cfg.StartupWait == 0 {
		cfg.StartupWait = 15 * time.Second
	}
}

// Kind is one way of running the stack.
type Kind struct {
	Help  string                                                // one line for --help
	Root  bool                                                  // needs root (network namespaces, iptables)
	start func(s *Stack, ctx context.Context, cfg Config) error // starts the services and the fault API
}

// Kinds is the registry of stack kinds by name; flag validation and --help read their names
// from it, so the two cannot drift.
func Kinds() map[string]Kind {
	return map[string]Kind{
		"local": {Help: "the services as child processes on loopback, an embedded Toxiproxy between them", start: (*Stack).startLocal},
		"netns": {Help: "each service in its own Linux network namespace, the partition made with iptables (root)", Root: true, start: (*Stack).startNetns},
	}
}

// KindNames returns the registered kinds' names, sorted.
func KindNames() []string { return slices.Sorted(maps.Keys(Kinds())) }

// Start starts the stack of the given kind ("" = local). On error, everything it started is stopped.
func Start(ctx context.Context, cfg Config) (*Stack, error) {
	cfg.defaults()
	if cfg.Kind == "" {
		cfg.Kind = "local"
	}
	kind, ok := Kinds()[cfg.Kind]
	if !ok {
		return nil, fmt.Errorf("unknown stack %q: use one of %s", cfg.Kind, strings.Join(KindNames(), ", "))
	}
	if cfg.Topology != nil && cfg.Kind != "local" {
		return nil, fmt.Errorf("a topology runs on the local stack only, not on %s", cfg.Kind)
	}
	s := &Stack{Kind: cfg.Kind, services: map[string]*child{}, died: make(chan Exit, 2), events: cfg.Events, wait: cfg.StartupWait,
		logger: cfg.Logger.With("component", "stack"), resilienceOff: !results.HasBreaker(clientGetenv(entryEnv(cfg))("RESILIENCE")),
		entry: results.ClientService, order: []string{results.BackendService, results.ClientService},
		clients: map[string]bool{results.ClientService: true}}
	if err := kind.start(s, ctx, cfg); err != nil {
		s.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

func (s *Stack) startLocal(ctx context.Context, cfg Config) error {
	backendEnv := map[string]string{"LISTEN_ADDR": cfg.BackendAddr}
	if cfg.Topology != nil {
		maps.Copy(backendEnv, cfg.Topology.Backend) // validated: none of the lab's own variables
	}
	backendAddr, err := s.startService(ctx, cfg, results.BackendService, nil, backendEnv)
	if err != nil {
		return err
	}
	// The data path: client -> Toxiproxy (TCP faults) -> L7 injector (HTTP faults) -> backend.
	injector, injectorAddr, err := s.serveInjector(fault.HTTPFaultsConfig{Upstream: backendAddr}, loopback)
	if err != nil {
		return err
	}
	s.injector = injector
	p, err := fault.StartProxy(fault.ProxyConfig{Listen: "127.0.0.1:0", Upstream: injectorAddr})
	if err != nil {
		return err
	}
	if err := s.startFaultAPI(cfg, p, "http://"+backendAddr); err != nil {
		p.Close(ctx)
		return err
	}
	if cfg.Topology != nil {
		return s.startTiers(ctx, cfg, p, backendAddr)
	}
	env := map[string]string{"LISTEN_ADDR": cfg.ClientAddr, "BACKEND_URL": "http://" + p.ListenAddr()}
	for k, v := range cfg.ClientEnv {
		env[k] = v
	}
	clientAddr, err := s.startService(ctx, cfg, results.ClientService, nil, env)
	if err != nil {
		return err
	}
	s.ClientURL, s.BackendURL = "http://"+clientAddr, "http://"+backendAddr
	s.faultAPI.SetClients(s.ClientURL)
	return s.waitReady(ctx, cfg.StartupWait)
}

// loopback listens on a free port of 127.0.0.1.
func loopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// serveInjector serves an L7 fault injector forwarding to cfg.Upstream on the listener listen
// makes, and returns it and its address.
func (s *Stack) serveInjector(cfg fault.HTTPFaultsConfig, listen func() (net.Listener, error)) (*fault.HTTPFaults, string, error) {
	ln, err := listen()
	if err != nil {
		return nil, "", fmt.Errorf("the HTTP fault injector in front of %s: %w", cfg.Upstream, err)
	}
	injector := fault.NewHTTPFaults(cfg)
	srv := &http.Server{Handler: injector, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second}
	go srv.Serve(ln)
	s.closers = append(s.closers, func(context.Context) error { return srv.Close() })
	return injector, ln.Addr().String(), nil
}

// startFaultAPI serves the fault API over the stack's TCP faults, its injector, its processes
// and the backend's capacity (backendURL, reached directly). The stack gives it the clients a
// load spike sends to (SetClients) once they run.
func (s *Stack) startFaultAPI(cfg Config, tcp fault.TCPFaults, backendURL string) error {
	api, err := fault.StartAPI(fault.APIConfig{Addr: cfg.FaultAPI, TCP: tcp, HTTP: s.injector, Processes: s,
		OnChange: s.recordFault, OnProcess: s.recordProcess, Backend: backendURL})
	if err != nil {
		return err
	}
	s.faultAPI, s.FaultURL = api, api.URL()
	return nil
}

// waitReady waits until every service answers /readyz with 200, in start order.
func (s *Stack) waitReady(ctx context.Context, timeout time.Duration) error {
	urls := s.serviceURLs()
	for _, name := range s.order {
		if err := waitReady(ctx, urls[name]+"/readyz", timeout); err != nil {
			return err
		}
	}
	return nil
}

// serviceURLs maps each service to its base URL.
func (s *Stack) serviceURLs() map[string]string {
	if s.urls != nil {
		return s.urls
	}
	return map[string]string{results.ClientService: s.ClientURL, results.BackendService: s.BackendURL}
}

// wrapCommand lets a stack run a service inside something else (ip netns exec ...).
type wrapCommand func(path string, args []string) (string, []string)

// startService starts one service, waits for its address and its readiness, and returns the address.
func (s *Stack) startService(ctx context.Context, cfg Config, name string, wrap wrapCommand, env map[string]string) (string, error) {
	return s.startProgram(ctx, cfg, name, name, wrap, env)
}

// startProgram starts service name running program (results.ClientService for a tier of a
// topology, which is client-service under its own name), as startService does.
func (s *Stack) startProgram(ctx context.Context, cfg Config, program, name string, wrap wrapCommand, env map[string]string) (string, error) {
	path, args, err := cfg.Serve(program)
	if err != nil {
		return "", err
	}
	if wrap != nil {
		path, args = wrap(path, args)
	}
	logFile, err := os.Create(filepath.Join(cfg.Dir, name+".log"))
	if err != nil {
		return "", fmt.Errorf("create the log of %s: %w", name, err)
	}
	s.logFiles = append(s.logFiles, logFile)
	if cfg.ServiceEnv != nil {
		for k, v := range cfg.ServiceEnv(name) {
			if _, set := env[k]; !set {
				env[k] = v
			}
		}
	}
	env["LOG_FORMAT"] = "json"
	if name == results.BackendService {
		env["PAYLOAD_BYTES"] = strconv.Itoa(BackendPayload)
	}
	if name == results.ClientService {
		env["LOG_LEVEL"] = cmp.Or(cfg.ClientLogLevel, "debug") // the attempt records, one per backend call, are at debug level
	}
	c, err := startChild(childSpec{Name: name, Path: path, Args: args, Env: environ(os.Environ(), env), LogFile: logFile}, s.events, cfg.Logger, s.childExited)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.services[name] = c
	s.mu.Unlock()
	addr, err := c.waitAddr(ctx, cfg.StartupWait)
	if err != nil {
		return "", err
	}
	c.listen = addr // a restart listens here again
	return addr, nil
}

// waitReady polls GET url until it answers 200 or the deadline passes.
func waitReady(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer 200 within %v", url, timeout)
		case <-tick.C:
		}
	}
}

func (s *Stack) recordFault(ch fault.Change) {
	action := "off"
	if ch.Active {
		action = "on"
	}
	s.events.Add(results.Event{Time: ch.Time, Kind: results.KindFault, Action: action, Name: ch.Kind, Message: ch.Detail})
	s.logger.Info("fault "+action, "kind", ch.Kind, "detail", ch.Detail)
}

func (s *Stack) recordProcess(e fault.ProcessEvent) {
	ev := results.Event{Time: e.Time, Kind: results.KindProcess, Action: e.Action, Service: e.Service, Message: e.Message}
	if e.Since > 0 {
		ev.DurationMS = float64(e.Since) / float64(time.Millisecond)
	}
	s.events.Add(ev)
	s.logger.Info("process "+e.Action, "service", e.Service, "pid", e.PID, "detail", e.Message)
}

func (s *Stack) childExited(c *child) {
	if c.expectedExit() {
		return
	}
	msg := describeExit(c.exitErr)
	s.events.Add(results.Event{Time: time.Now(), Kind: results.KindChildExit, Service: c.name, Error: msg})
	s.logger.Error("service exited unexpectedly", "service", c.name, "how", msg)
	select {
	case s.died <- Exit{Service: c.name, How: msg}:
	default:
	}
}

// Exit is a service that exited without being asked to.
type Exit struct {
	Service string // results.ClientService, results.BackendService or a tier's name
	How     string // e.g. "killed by signal killed", "exit status 2"
}

// Died delivers each service that exited without being asked to.
func (s *Stack) Died() <-chan Exit { return s.died }

// FaultActive says whether anything of a fault remains: one in effect now, or one scheduled (a
// restart due, a flapping partition running).
func (s *Stack) FaultActive() (bool, string) {
	if s.faultAPI == nil {
		return false, ""
	}
	return s.faultAPI.Leftover()
}

// service returns the current process of a service (nil if it was never started).
func (s *Stack) service(name string) *child {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.services[name]
}

// Breaker is the client's (with a topology: the first entry tier's) breaker state as its log
// last announced it ("off" without resilience).
func (s *Stack) Breaker() string {
	if s.resilienceOff {
		return "off"
	}
	if c := s.service(s.entry); c != nil {
		return c.breakerState()
	}
	return ""
}

// Close removes every fault, stops the services (SIGTERM, then SIGKILL) and everything else the
// stack made. It is safe to call more than once.
func (s *Stack) Close(ctx context.Context) error {
	s.once.Do(func() {
		var errs []error
		// The fault goes first: nothing of it may outlive the run.
		if s.faultAPI != nil {
			if err := s.faultAPI.Close(ctx); err != nil {
				errs = append(errs, err)
			}
		}
		s.mu.Lock()
		s.closing = true // no restart from now on
		s.mu.Unlock()
		for _, name := range slices.Backward(s.order) { // the callers first
			if c := s.service(name); c != nil {
				c.terminate(10 * time.Second)
			}
		}
		for i := len(s.closers) - 1; i >= 0; i-- {
			if err := s.closers[i](ctx); err != nil {
				errs = append(errs, err)
			}
		}
		for _, f := range s.logFiles {
			f.Close()
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
