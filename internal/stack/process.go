package stack

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"time"

	"chaoslab/internal/fault"
)

// killGrace is how long a killed service may take to exit before it gets SIGKILL.
const killGrace = 10 * time.Second

// Services lists the services a process fault may kill (fault.ProcessControl): the backend,
// then the client or a topology's tiers, in start order.
func (s *Stack) Services() []string { return slices.Clone(s.order) }

// Kill sends sig to a service and waits until it has exited (SIGKILL after killGrace). The exit
// is expected: it does not fail the run.
func (s *Stack) Kill(ctx context.Context, service string, sig syscall.Signal) (int, error) {
	c := s.service(service)
	if c == nil || !c.running() {
		return 0, fmt.Errorf("%s is not running", service)
	}
	pid := c.stopWith(sig, killGrace)
	s.logger.Info("service killed by a fault", "service", service, "pid", pid, "signal", sig.String(), "how", describeExit(c.exitErr))
	return pid, nil
}

// Start starts a service again, as before and on the address it had, unless it runs; it returns
// once the new process listens.
func (s *Stack) Start(ctx context.Context, service string) (int, bool, error) {
	s.mu.Lock()
	old := s.services[service]
	switch {
	case s.closing:
		s.mu.Unlock()
		return 0, false, errors.New("the stack is stopping")
	case old == nil:
		s.mu.Unlock()
		return 0, false, fmt.Errorf("%s was never started", service)
	case old.running():
		s.mu.Unlock()
		return old.cmd.Process.Pid, false, nil
	}
	spec := old.spec
	spec.Env = environ(spec.Env, map[string]string{"LISTEN_ADDR": old.listen})
	c, err := startChild(spec, s.events, s.logger, s.childExited)
	if err != nil {
		s.mu.Unlock()
		return 0, false, err
	}
	c.listen, c.restarts = old.listen, old.restarts+1
	s.services[service] = c
	s.mu.Unlock()
	if _, err := c.waitAddr(ctx, s.wait); err != nil {
		return c.cmd.Process.Pid, true, err
	}
	return c.cmd.Process.Pid, true, nil
}

// Status says whether a service runs, its PID and its restarts (fault.ProcessControl).
func (s *Stack) Status(service string) fault.ProcessStatus {
	c := s.service(service)
	if c == nil {
		return fault.ProcessStatus{Service: service}
	}
	return fault.ProcessStatus{Service: service, PID: c.cmd.Process.Pid, Running: c.running(), Restarts: c.restarts}
}
