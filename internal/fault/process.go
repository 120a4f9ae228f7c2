package fault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ProcessControl is what process faults need of the stack that runs the services. Kill and
// Start are called one at a time per service.
type ProcessControl interface {
	// Services lists the services that can be killed, e.g. backend-service, client-service.
	Services() []string
	// Kill sends sig to the service and returns once it has exited. Its exit is expected: it
	// does not fail the run.
	Kill(ctx context.Context, service string, sig syscall.Signal) (pid int, err error)
	// Start starts the service again if it is not running, on the address it had, and returns
	// once it listens; started is false when it was running already.
	Start(ctx context.Context, service string) (pid int, started bool, err error)
	// Status says whether the service runs, its PID and how often it was restarted.
	Status(service string) ProcessStatus
}

// Supervised is a ProcessControl whose services something else restarts when they die, as a
// kubelet restarts a container. A kill then takes no restart_after (the API answers 400), and
// instead of scheduling a restart the API waits in the background for the service to come back,
// which ends the crash fault: Start returns once the service is back (or fails after its own
// bound), and starts nothing itself, so it may be called while another Start waits.
type Supervised interface {
	ProcessControl
	// RestartedBy says who restarts a killed service, for the API's answers and its fault
	// detail, e.g. "the kubelet restarts the container".
	RestartedBy() string
}

// ProcessStatus is one service as GET /processes shows it.
type ProcessStatus struct {
	Service   string     `json:"service"`
	PID       int        `json:"pid"`
	Running   bool       `json:"running"`
	Restarts  int        `json:"restarts"`
	RestartAt *time.Time `json:"restart_at,omitempty"` // when a killed service is due to start again
	Killed    string     `json:"killed,omitempty"`     // the process fault that took it down
}

// ProcessEvent is a process fault's step, reported to APIConfig.OnProcess.
type ProcessEvent struct {
	Time    time.Time
	Service string
	Action  string        // "kill" or "start"
	PID     int           // the killed or the new process
	Since   time.Duration // start: time since the kill
	Message string        // for a person
}

// maxRestartAfter bounds restart_after: a kubelet's back-off tops out at five minutes.
const maxRestartAfter = 10 * time.Minute

// signals are the signals a kill may send, by name.
func signals() map[string]syscall.Signal {
	return map[string]syscall.Signal{"SIGKILL": syscall.SIGKILL, "SIGTERM": syscall.SIGTERM, "SIGINT": syscall.SIGINT, "SIGQUIT": syscall.SIGQUIT}
}

// processes makes process faults: kill a service, restart it after a delay. It is safe for
// concurrent use.
type processes struct {
	ctl     ProcessControl
	by      string // Supervised: who restarts a killed service; "" = the API restarts it
	check   func(time.Time)
	onEvent func(ProcessEvent)
	ctx     context.Context // cancelled by close: no restart after it
	cancel  context.CancelFunc

	mu     sync.Mutex
	killed map[string]*killed // services down because of a fault
	closed bool
	wg     sync.WaitGroup // restarts in progress
}

// killed is a service a fault took down.
type killed struct {
	at      time.Time
	pid     int
	signal  string
	after   time.Duration // 0: no restart scheduled
	by      string        // Supervised: who restarts it
	timer   *time.Timer
	failure string // why the restart failed
}

func newProcesses(ctl ProcessControl, check func(time.Time), onEvent func(ProcessEvent)) *processes {
	ctx, cancel := context.WithCancel(context.Background())
	if onEvent == nil {
		onEvent = func(ProcessEvent) {}
	}
	p := &processes{ctl: ctl, check: check, onEvent: onEvent, ctx: ctx, cancel: cancel, killed: map[string]*killed{}}
	if s, ok := ctl.(Supervised); ok {
		p.by = s.RestartedBy()
	}
	return p
}

func (p *processes) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /processes", p.handleList)
	mux.HandleFunc("POST /processes/{service}/kill", p.handleKill)
	mux.HandleFunc("POST /processes/{service}/start", p.handleStart)
}

// service resolves "backend" or "backend-service" to a known service name.
func (p *processes) service(name string) (string, error) {
	for _, s := range p.ctl.Services() {
		if name == s || name+"-service" == s {
			return s, nil
		}
	}
	return "", fmt.Errorf("unknown service %q: use one of %s", name, strings.Join(p.ctl.Services(), ", "))
}

// Injected lists the services a fault took down.
func (p *processes) Injected() []Injected {
	p.mu.Lock()
	defer p.mu.Unlock()
	var in []Injected
	for _, s := range slices.Sorted(maps.Keys(p.killed)) {
		in = append(in, Injected{Kind: KindCrash, Detail: p.killed[s].describe(s), Target: s})
	}
	return in
}

func (k *killed) describe(service string) string {
	d := fmt.Sprintf("%s killed with %s (pid %d)", service, k.signal, k.pid)
	switch {
	case k.failure != "":
		d += "; the restart failed: " + k.failure
	case k.after > 0:
		d += "; restart after " + k.after.String()
	case k.by != "":
		d += "; " + k.by
	default:
		d += "; no restart scheduled"
	}
	return d
}

func (p *processes) handleList(w http.ResponseWriter, r *http.Request) {
	var out []ProcessStatus
	for _, s := range p.ctl.Services() {
		out = append(out, p.status(s))
	}
	writeJSON(w, http.StatusOK, out)
}

func (p *processes) status(service string) ProcessStatus {
	st := p.ctl.Status(service)
	st.Service = service
	p.mu.Lock()
	defer p.mu.Unlock()
	if k := p.killed[service]; k != nil {
		st.Killed = k.describe(service)
		if k.after > 0 && k.failure == "" {
			at := k.at.Add(k.after).UTC()
			st.RestartAt = &at
		}
	}
	return st
}

// killRequest is the body of POST /processes/{service}/kill.
type killRequest struct {
	Signal       string          `json:"signal"`        // default SIGKILL
	RestartAfter json.RawMessage `json:"restart_after"` // seconds (a number) or a duration ("15s"); omitted = no restart
}

func (k killRequest) parse() (syscall.Signal, time.Duration, error) {
	if k.Signal == "" {
		k.Signal = "SIGKILL"
	}
	sig, ok := signals()[strings.ToUpper(k.Signal)]
	if !ok {
		return 0, 0, fmt.Errorf("signal %q: use one of SIGKILL, SIGTERM, SIGINT, SIGQUIT", k.Signal)
	}
	after, err := parseSeconds(k.RestartAfter, "restart_after")
	if err == nil && (after < 0 || after > maxRestartAfter) {
		err = fmt.Errorf("restart_after %v: must be between 0 and %v", after, maxRestartAfter)
	}
	return sig, after, err
}

// parseSeconds reads a duration given as seconds (a JSON number) or as a duration string
// ("15s", "1.5s", "300ms"); absent is 0.
func parseSeconds(raw json.RawMessage, field string) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var secs float64
	if err := json.Unmarshal(raw, &secs); err == nil {
		return time.Duration(secs * float64(time.Second)), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("%s: want seconds (a number) or a duration such as \"15s\", got %s", field, raw)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: want seconds (a number) or a duration such as \"15s\", got %q", field, s)
	}
	return d, nil
}

func (p *processes) handleKill(w http.ResponseWriter, r *http.Request) {
	started := time.Now()
	service, err := p.service(r.PathValue("service"))
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	var req killRequest
	if err := decodeStrict(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	sig, after, err := req.parse()
	if err == nil && after > 0 && p.by != "" {
		err = fmt.Errorf("restart_after is not available here: %s when it dies; omit restart_after (POST /processes/%s/start waits until it is back)", p.by, service)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if code, err := p.kill(r.Context(), service, sig, after); err != nil {
		writeError(w, code, err.Error())
		return
	}
	p.check(started)
	if p.by != "" {
		go p.restart(service) // waits for the supervisor's restart; its end ends the fault
	}
	writeJSON(w, http.StatusOK, p.status(service))
}

// kill takes the service down and schedules its restart.
func (p *processes) kill(ctx context.Context, service string, sig syscall.Signal, after time.Duration) (int, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return http.StatusConflict, errors.New("the lab is shutting down")
	}
	if _, down := p.killed[service]; down {
		p.mu.Unlock()
		return http.StatusConflict, fmt.Errorf("%s is already down: POST /processes/%s/start first", service, service)
	}
	k := &killed{at: time.Now(), signal: sigName(sig), after: after, by: p.by}
	p.killed[service] = k // held while killing, so a second kill is refused
	p.mu.Unlock()
	pid, err := p.ctl.Kill(ctx, service, sig)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		delete(p.killed, service)
		return http.StatusInternalServerError, fmt.Errorf("kill %s: %w", service, err)
	}
	k.pid = pid
	if after > 0 {
		k.timer = time.AfterFunc(after, func() { p.restart(service) })
	}
	p.onEvent(ProcessEvent{Time: k.at, Service: service, Action: "kill", PID: pid, Message: k.describe(service)})
	return 0, nil
}

func sigName(sig syscall.Signal) string {
	for n, s := range signals() {
		if s == sig {
			return n
		}
	}
	return sig.String()
}

func (p *processes) handleStart(w http.ResponseWriter, r *http.Request) {
	service, err := p.service(r.PathValue("service"))
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	if err := p.restart(service); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, p.status(service))
}

// restart starts a service a fault took down (now, whatever its schedule), or waits for its
// supervisor to; a running service is left alone. Of two restarts of one kill, only the first to
// end reports the start.
func (p *processes) restart(service string) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errors.New("the lab is shutting down")
	}
	k := p.killed[service]
	if k != nil && k.timer != nil {
		k.timer.Stop()
	}
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()

	pid, started, err := p.ctl.Start(p.ctx, service)
	p.mu.Lock()
	if err != nil {
		if k != nil {
			k.failure = err.Error()
		}
		p.mu.Unlock()
		p.check(time.Now())
		return fmt.Errorf("start %s: %w", service, err)
	}
	first := k == nil || p.killed[service] == k
	if first {
		delete(p.killed, service)
	}
	p.mu.Unlock()
	if started && first {
		ev := ProcessEvent{Time: time.Now(), Service: service, Action: "start", PID: pid, Message: fmt.Sprintf("%s started again as pid %d", service, pid)}
		if k != nil {
			ev.Since = ev.Time.Sub(k.at)
			ev.Message += fmt.Sprintf(", %v after the kill", ev.Since.Round(time.Millisecond))
		}
		p.onEvent(ev)
	}
	p.check(time.Now())
	return nil
}

// reset starts every service a fault took down.
func (p *processes) reset() error {
	p.mu.Lock()
	down := slices.Sorted(maps.Keys(p.killed))
	p.mu.Unlock()
	var errs []error
	for _, s := range down {
		errs = append(errs, p.restart(s))
	}
	return errors.Join(errs...)
}

// close cancels every scheduled restart and waits for one in progress: nothing starts after it.
func (p *processes) close() {
	p.mu.Lock()
	p.closed = true
	for _, k := range p.killed {
		if k.timer != nil {
			k.timer.Stop()
		}
	}
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
}

// scheduled lists the restarts still due.
func (p *processes) scheduled() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for s, k := range p.killed {
		if k.after > 0 && k.failure == "" {
			out = append(out, "a restart of "+s+" is scheduled")
		}
	}
	return out
}

// decodeStrict decodes a JSON body into v; unknown fields are errors. An empty body leaves v as it is.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("bad request body: %w", err)
	}
	return nil
}
