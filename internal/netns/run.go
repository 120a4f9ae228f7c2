package netns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"time"
)

// runFunc runs one command to completion and returns its combined output. Failures are *CmdError.
// Tests replace it to inject failures into real command sequences.
type runFunc func(ctx context.Context, name string, args ...string) ([]byte, error)

// cmdWaitDelay bounds how long a cancelled command may keep its output pipes open.
const cmdWaitDelay = 2 * time.Second

// execRun is the runFunc that really runs the command.
func execRun(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = cmdWaitDelay
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, &CmdError{Args: append([]string{name}, args...), Output: strings.TrimSpace(string(out)), Err: err}
	}
	return out, nil
}

// CmdError is a command that failed: the command line, why, and everything it printed.
type CmdError struct {
	Args   []string // the command line, program first
	Output string   // combined stdout and stderr, trimmed
	Err    error    // usually an *exec.ExitError
}

// Error reads like "ip netns add chaoslab-client-x: exit status 1: <output>".
func (e *CmdError) Error() string {
	msg := strings.Join(e.Args, " ") + ": " + e.Err.Error()
	if e.Output != "" {
		msg += ": " + e.Output
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *CmdError) Unwrap() error { return e.Err }

// exitCode returns the exit status of a failed command, or -1 when err is not a command that ran
// and exited.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// sys bundles what the package's operations need from the outside world.
type sys struct {
	run    runFunc
	logger *slog.Logger
}

func newSys(logger *slog.Logger) sys {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return sys{run: execRun, logger: logger.With("component", "netns")}
}

// ip runs `ip args...` and logs it at debug level.
func (s sys) ip(ctx context.Context, args ...string) ([]byte, error) {
	s.logger.Debug("run", "cmd", "ip "+strings.Join(args, " "))
	out, err := s.run(ctx, "ip", args...)
	if err != nil && ctx.Err() != nil {
		return out, fmt.Errorf("%w (%w)", err, context.Cause(ctx))
	}
	return out, err
}

// iptables runs `iptables -w args...` inside the namespace ns.
func (s sys) iptables(ctx context.Context, ns string, args ...string) ([]byte, error) {
	return s.ip(ctx, append([]string{"netns", "exec", ns, "iptables", "-w"}, args...)...)
}
