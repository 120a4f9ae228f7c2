// Package cmdutil holds what every chaoslab command shares: the mapping from errors to exit
// statuses and the few lines a main needs around its run function.
package cmdutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses used by every chaoslab command.
const (
	ExitOK      = 0 // success
	ExitFailure = 1 // the run happened but failed (deviated, not recovered, a child died)
	ExitUsage   = 2 // bad usage, bad configuration or bad input: nothing was started
)

// ErrUsage marks an error caused by the caller's input (flags, variables, files). Wrap it with
// Usagef so that errors.Is(err, ErrUsage) holds and the command exits with ExitUsage.
var ErrUsage = errors.New("usage error")

// ErrFailed marks a run that completed its work but whose outcome is a failure (exit status 1).
var ErrFailed = errors.New("run failed")

// ErrHelp is returned by a run function after it printed --help; the command exits 0.
var ErrHelp = errors.New("help requested")

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }
func (e *usageError) Is(target error) bool {
	return target == ErrUsage
}

// Usagef returns an error that reads as the formatted message and satisfies
// errors.Is(err, ErrUsage). Wrapped errors (%w) remain reachable through errors.As/Is only as
// text; use it for one-line messages a user can act on.
func Usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// ExitCode maps an error returned by a run function to the process exit status.
func ExitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, ErrHelp):
		return ExitOK
	case errors.Is(err, ErrUsage):
		return ExitUsage
	default:
		return ExitFailure
	}
}

// RunFunc is the shape of every command's run function.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

// Main runs fn with the process's arguments, environment and standard streams, cancels its context
// on SIGINT or SIGTERM, prints a returned error as one line on stderr and exits with ExitCode(err).
func Main(name string, fn RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := fn(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, ErrHelp) && !errors.Is(err, ErrSilent) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	}
	os.Exit(ExitCode(err))
}

// ErrSilent marks an error whose message was already shown to the user; Main prints nothing more.
var ErrSilent = errors.New("already reported")
