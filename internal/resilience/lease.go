package resilience

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"
)

// AttemptLease turns the attempt records (one per backend call, written at debug level) on for
// a while whatever the log level, and off again by itself when the while is over: a run that
// is killed never leaves them on. Its end is one atomic value, read on every backend call.
// It is safe for concurrent use; a nil *AttemptLease is never in force.
type AttemptLease struct {
	now   func() time.Time
	until atomic.Int64 // Unix nanoseconds; 0 = no lease
}

// NewAttemptLease returns a lease not in force that reads the time from now.
func NewAttemptLease(now func() time.Time) *AttemptLease { return &AttemptLease{now: now} }

// Grant puts the lease in force for d from now, in place of any lease before it, and returns
// its end; d <= 0 ends the lease in force and returns the zero time.
func (l *AttemptLease) Grant(d time.Duration) time.Time {
	if d <= 0 {
		l.until.Store(0)
		return time.Time{}
	}
	end := l.now().Add(d)
	l.until.Store(end.UnixNano())
	return end
}

// Until returns the end of the lease in force, or the zero time when none is.
func (l *AttemptLease) Until() time.Time {
	if l == nil {
		return time.Time{}
	}
	u := l.until.Load()
	if u == 0 {
		return time.Time{}
	}
	if l.now().UnixNano() >= u {
		l.until.CompareAndSwap(u, 0)
		return time.Time{}
	}
	return time.Unix(0, u)
}

func (l *AttemptLease) active() bool { return !l.Until().IsZero() }

// leaseHandler is a slog.Handler that lets every record through while its lease is in force,
// whatever the level of the handler it wraps; otherwise it is that handler. The observer writes
// only the attempt records through it.
type leaseHandler struct {
	slog.Handler
	lease *AttemptLease
}

// Enabled implements slog.Handler.
func (h leaseHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.Handler.Enabled(ctx, level) || h.lease.active()
}

// WithAttrs implements slog.Handler.
func (h leaseHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return leaseHandler{Handler: h.Handler.WithAttrs(attrs), lease: h.lease}
}

// WithGroup implements slog.Handler.
func (h leaseHandler) WithGroup(name string) slog.Handler {
	return leaseHandler{Handler: h.Handler.WithGroup(name), lease: h.lease}
}
