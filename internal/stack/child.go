package stack

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"chaoslab/internal/results"
)

// child is one service process, watched like a pod: its log lines are copied to its log file and
// turned into events, its exit is noticed at once.
type child struct {
	name     string
	cmd      *exec.Cmd
	logger   *slog.Logger
	events   *results.EventLog
	addr     chan string   // the bound address, from the "listening" log line
	exited   chan struct{} // closed when the process has exited
	exitErr  error         // set before exited is closed
	mu       sync.Mutex
	stop     bool // true once we asked it to stop: its exit is expected
	state    string
	spec     childSpec // how it was started, for a restart
	listen   string    // the address it bound, where a restart listens again
	restarts int       // how many processes of this service came before it
}

// childSpec says how to start one service.
type childSpec struct {
	Name    string   // results.ClientService or results.BackendService
	Path    string   // program to run
	Args    []string // its arguments
	Env     []string // full environment
	LogFile io.Writer
}

// startChild starts the process and begins reading its output.
func startChild(spec childSpec, events *results.EventLog, logger *slog.Logger, onExit func(*child)) (*child, error) {
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = spec.Env
	cmd.SysProcAttr = childSysProcAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	cmd.Stderr = cmd.Stdout // one stream, in order
	c := &child{name: spec.Name, cmd: cmd, logger: logger.With("service", spec.Name), events: events,
		addr: make(chan string, 1), exited: make(chan struct{}), state: results.BreakerClosed, spec: spec}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", spec.Name, spec.Path, err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		c.readLogs(out, spec.LogFile)
	}()
	go func() {
		<-scanned // Wait closes the pipe: read everything first
		c.exitErr = cmd.Wait()
		close(c.exited)
		if onExit != nil {
			onExit(c)
		}
	}()
	return c, nil
}

// waitAddr waits for the "listening" line and returns the address the service bound.
func (c *child) waitAddr(ctx context.Context, timeout time.Duration) (string, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case a := <-c.addr:
		return a, nil
	case <-c.exited:
		return "", fmt.Errorf("%s exited during start-up (%v): see %s.log", c.name, c.exitErr, c.name)
	case <-t.C:
		return "", fmt.Errorf("%s did not report its address within %v: see %s.log", c.name, timeout, c.name)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// expectedExit says whether the process was asked to stop.
func (c *child) expectedExit() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stop
}

// running reports whether the process is still alive.
func (c *child) running() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// breakerState is the last state the client's log announced.
func (c *child) breakerState() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// terminate asks the process to stop (SIGTERM, then SIGKILL after grace) and waits for it.
func (c *child) terminate(grace time.Duration) { c.stopWith(syscall.SIGTERM, grace) }

// stopWith marks the exit as expected, sends sig and waits for the exit; a process still there
// after grace gets SIGKILL. It reports the pid.
func (c *child) stopWith(sig syscall.Signal, grace time.Duration) int {
	c.mu.Lock()
	c.stop = true
	c.mu.Unlock()
	pid := c.cmd.Process.Pid
	if !c.running() {
		return pid
	}
	_ = c.cmd.Process.Signal(sig)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.exited:
	case <-t.C:
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	return pid
}

// listening is the part of a service's JSON log line that announces its address.
type listening struct {
	Msg  string `json:"msg"`
	Addr string `json:"addr"`
}

func (c *child) readLogs(r io.Reader, logFile io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		if logFile != nil {
			logFile.Write(append(line, '\n'))
		}
		c.interpret(line)
	}
	io.Copy(io.Discard, r)
}

// interpret reads the address line and turns the client's structured records into events
// (results.DecodeLogLine: the attributes, never the sentence).
func (c *child) interpret(line []byte) {
	if e, ok := results.DecodeLogLine(line); ok {
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		if e.Kind == results.KindBreaker {
			c.mu.Lock()
			c.state = e.To
			c.mu.Unlock()
		}
		c.events.Add(e)
		return
	}
	var l listening
	if json.Unmarshal(line, &l) == nil && l.Msg == "listening" && l.Addr != "" {
		select {
		case c.addr <- l.Addr:
		default:
		}
	}
}

// describeExit says how a process ended, for a person.
func describeExit(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by signal " + ws.Signal().String()
		}
		return "exit status " + strconv.Itoa(ee.ExitCode())
	}
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// environ returns base with the given variables set (replacing any earlier value).
func environ(base []string, set map[string]string) []string {
	out := make([]string, 0, len(base)+len(set))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; !ok {
			out = append(out, kv)
		}
	}
	for k, v := range set {
		out = append(out, k+"="+v)
	}
	return out
}

// String names the service and, once it has exited, how.
func (c *child) String() string {
	if c.running() {
		return c.name
	}
	return c.name + " (" + describeExit(c.exitErr) + ")"
}
