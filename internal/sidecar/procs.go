package sidecar

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"chaoslab/internal/fault"
)

// Timings of Processes.
const (
	killWait   = 30 * time.Second      // how long a signalled backend may take to exit (SIGTERM: its graceful shutdown)
	pollEvery  = 20 * time.Millisecond // how often /proc is read while waiting
	dialBudget = time.Second           // one connect to the backend while waiting for it to listen
)

// restartedBy is who brings a killed backend back, as the API tells it.
const restartedBy = "the kubelet restarts the container"

// ProcessesConfig configures Processes.
type ProcessesConfig struct {
	Root        string        // the proc filesystem, "/proc"; tests give a directory of their own
	Name        string        // the service, and its command name: argv[0]'s base name (backend-service)
	Upstream    string        // where the service listens: Start waits for it to accept ("" = for the process only)
	RestartWait time.Duration // how long Start waits for the kubelet's restart
}

// Processes is the fault API's process control (fault.Supervised) in a pod whose containers
// share one process namespace (shareProcessNamespace: true): it finds the backend's process in
// /proc by its command name and signals it, and the kubelet restarts the container. The
// containers run as one UID, so no capability is needed. It is safe for concurrent use.
type Processes struct {
	cfg      ProcessesConfig
	self     int                                     // this process: never signalled
	signal   func(pid int, sig syscall.Signal) error // syscall.Kill
	killWait time.Duration
	missed   func() // called when Start finds the service not serving; nil = nothing (tests wait on it)

	mu       sync.Mutex
	restarts int // comebacks Start saw
	lastBack int // the pid of the last comeback, counted once
}

// NewProcesses returns the process control of cfg.Name.
func NewProcesses(cfg ProcessesConfig) *Processes {
	return &Processes{cfg: cfg, self: os.Getpid(), signal: syscall.Kill, killWait: killWait}
}

var _ fault.Supervised = (*Processes)(nil)

// Services lists the one service it controls.
func (p *Processes) Services() []string { return []string{p.cfg.Name} }

// RestartedBy says that the kubelet restarts a killed service.
func (p *Processes) RestartedBy() string { return restartedBy }

// proc is one process: its pid and its start time (clock ticks after boot), which tells it from
// a later process given the same pid.
type proc struct {
	pid   int
	start uint64
}

// find lists the running processes of the service, by pid: those whose argv[0] has the
// service's name as its base name. Exited processes (a zombie has no command line) and this
// process are left out.
func (p *Processes) find() ([]proc, error) {
	entries, err := os.ReadDir(p.cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("list the processes in %s: %w", p.cfg.Root, err)
	}
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 || pid == p.self {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join(p.cfg.Root, e.Name(), "cmdline"))
		if err != nil || commandOf(cmdline) != p.cfg.Name {
			continue // gone meanwhile, or another command
		}
		if state, start, ok := procStat(p.cfg.Root, pid); ok && !gone(state) {
			out = append(out, proc{pid, start})
		}
	}
	slices.SortFunc(out, func(a, b proc) int { return cmp.Compare(a.pid, b.pid) })
	return out, nil
}

// commandOf is the base name of argv[0] in a /proc/PID/cmdline (arguments separated by NUL).
func commandOf(cmdline []byte) string {
	argv0, _, _ := bytes.Cut(cmdline, []byte{0})
	if len(argv0) == 0 {
		return ""
	}
	return filepath.Base(string(argv0))
}

// procStat reads a process's state letter and start time from <root>/<pid>/stat; ok is false
// when it cannot be read (the process is gone).
func procStat(root string, pid int) (state byte, start uint64, ok bool) {
	data, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, false
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields count from
	// the last ')'. The state is field 3, the start time field 22.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return 0, 0, false
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return f[0][0], start, err == nil
}

// gone says whether a process in this state has exited: a zombie (Z) or dead (X).
func gone(state byte) bool { return state == 'Z' || state == 'X' }

// exited says whether the process has exited: no longer in /proc, a zombie, or its pid now
// another process's.
func (p *Processes) exited(pr proc) bool {
	state, start, ok := procStat(p.cfg.Root, pr.pid)
	return !ok || gone(state) || start != pr.start
}

// known refuses a service other than the one it controls.
func (p *Processes) known(service string) error {
	if service != p.cfg.Name {
		return fmt.Errorf("unknown service %q: this fault proxy controls %s (BACKEND_PROCESS)", service, p.cfg.Name)
	}
	return nil
}

// Kill sends sig to every process of the service and returns once they have exited (the first
// pid). An exit takes the container down, and the kubelet restarts it.
func (p *Processes) Kill(ctx context.Context, service string, sig syscall.Signal) (int, error) {
	if err := p.known(service); err != nil {
		return 0, err
	}
	procs, err := p.find()
	if err != nil {
		return 0, err
	}
	if len(procs) == 0 {
		return 0, fmt.Errorf("%s is not running: no process in %s has the command %s (does the pod set shareProcessNamespace: true?)", service, p.cfg.Root, p.cfg.Name)
	}
	for _, pr := range procs {
		if err := p.signal(pr.pid, sig); err != nil {
			return pr.pid, fmt.Errorf("send the signal (%v) to %s (pid %d): %w (the fault proxy must run as the backend's UID)", sig, service, pr.pid, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, p.killWait)
	defer cancel()
	err = waitFor(ctx, func() bool {
		for _, pr := range procs {
			if !p.exited(pr) {
				return false
			}
		}
		return true
	})
	if err != nil {
		return procs[0].pid, fmt.Errorf("%s (pid %d) did not exit within %v of the signal (%v): %w", service, procs[0].pid, p.killWait, sig, err)
	}
	return procs[0].pid, nil
}

// Start waits until the service runs and accepts connections on Upstream: the kubelet restarts
// a killed container, and Start starts nothing itself. started is false when it ran and
// listened already; after RestartWait it gives up with an error that says what to check.
func (p *Processes) Start(ctx context.Context, service string) (pid int, started bool, err error) {
	if err := p.known(service); err != nil {
		return 0, false, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.RestartWait)
	defer cancel()
	err = waitFor(ctx, func() bool {
		if pid = p.serving(ctx); pid == 0 {
			started = true
			if p.missed != nil {
				p.missed()
			}
		}
		return pid != 0
	})
	if err != nil {
		return 0, false, fmt.Errorf("%s is not back after %v (%s, with a back-off of up to 5 minutes after repeated crashes: kubectl get pods -l app=%s says why; POST /processes/%s/start again to wait longer): %w",
			service, p.cfg.RestartWait, restartedBy, service, service, err)
	}
	if started {
		p.mu.Lock()
		if pid != p.lastBack {
			p.restarts, p.lastBack = p.restarts+1, pid
		}
		p.mu.Unlock()
	}
	return pid, started, nil
}

// serving returns the pid of the service when it runs and accepts a connection on Upstream, or 0.
func (p *Processes) serving(ctx context.Context) int {
	procs, err := p.find()
	if err != nil || len(procs) == 0 {
		return 0
	}
	if p.cfg.Upstream != "" {
		dctx, cancel := context.WithTimeout(ctx, dialBudget)
		defer cancel()
		c, err := (&net.Dialer{}).DialContext(dctx, "tcp", p.cfg.Upstream)
		if err != nil {
			return 0
		}
		c.Close()
	}
	return procs[0].pid
}

// Status says whether the service runs, its pid (the first), and the comebacks Start saw.
func (p *Processes) Status(service string) fault.ProcessStatus {
	st := fault.ProcessStatus{Service: service}
	if procs, err := p.find(); err == nil && len(procs) > 0 {
		st.PID, st.Running = procs[0].pid, true
	}
	p.mu.Lock()
	st.Restarts = p.restarts
	p.mu.Unlock()
	return st
}

// waitFor checks done at once and then every pollEvery until it holds or ctx ends.
func waitFor(ctx context.Context, done func() bool) error {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
