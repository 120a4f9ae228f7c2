package resilience

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// backoff computes the wait before each retry: exponential from InitialBackoff by Multiplier,
// capped at MaxBackoff, jittered uniformly by ±Jitter, and cut to fit the request deadline.
// It is safe for concurrent use.
type backoff struct {
	cfg Config
	mu  sync.Mutex
	rnd *rand.Rand
}

// wait returns the wait before retry n (1-based) when elapsed of the request's time has passed.
func (b *backoff) wait(n int, elapsed time.Duration) time.Duration {
	w := b.base(n)
	if b.cfg.Jitter > 0 {
		b.mu.Lock()
		f := 1 - b.cfg.Jitter + 2*b.cfg.Jitter*b.rnd.Float64()
		b.mu.Unlock()
		w = time.Duration(float64(w) * f)
	}
	return cut(w, b.cfg.RequestTimeout-elapsed, b.cfg.AttemptTimeout)
}

// base is the un-jittered wait before retry n.
func (b *backoff) base(n int) time.Duration {
	w := float64(b.cfg.InitialBackoff) * math.Pow(b.cfg.Multiplier, float64(n-1))
	if w > float64(b.cfg.MaxBackoff) {
		return b.cfg.MaxBackoff
	}
	return time.Duration(w)
}

// cut shortens a wait so that, when the deadline allows it, a whole attempt still fits after it;
// with less time left than one attempt, the retry goes at once and gets what remains.
func cut(w, remaining, attempt time.Duration) time.Duration {
	return max(0, min(w, remaining-attempt))
}
