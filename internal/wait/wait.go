// Package wait holds the one wait every package needs: a duration, cut short by a context.
package wait

import (
	"context"
	"time"
)

// For waits d, or less if ctx ends first; it reports whether the whole wait happened. It is
// safe for concurrent use.
func For(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
