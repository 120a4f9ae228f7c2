package experiment

import (
	"strings"

	"chaoslab/internal/cmdutil"
)

// ValidationError lists every problem found in an experiment (or in its decoding), one per line.
// It satisfies errors.Is(err, cmdutil.ErrUsage): invalid input is the caller's to fix.
type ValidationError struct {
	Problems []string
}

// Error joins the problems, one per line.
func (e *ValidationError) Error() string { return strings.Join(e.Problems, "\n") }

// Is reports whether target is cmdutil.ErrUsage.
func (e *ValidationError) Is(target error) bool { return target == cmdutil.ErrUsage }

// activityFailed is the Go twin of chaoslib.exceptions.ActivityFailed: the activity ran and
// failed (connection error, timeout). The run goes on; the journal entry is "failed".
type activityFailed struct{ msg string }

func (e *activityFailed) Error() string { return e.msg }

// abortError is any other error from a provider (a URL without a scheme, a pause that is not a
// number). As in chaostoolkit-lib, it aborts the run and its journal entry has no status.
type abortError struct{ err error }

func (e *abortError) Error() string { return e.err.Error() }
func (e *abortError) Unwrap() error { return e.err }
