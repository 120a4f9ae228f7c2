package resilience

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"chaoslab/internal/results"
	"chaoslab/internal/testutil"
)

const (
	success = results.OutcomeSuccess
	failure = results.OutcomeFailure
	ignored = results.OutcomeIgnored
)

// halfOpenBreaker is a breaker with two trial permits, already HALF_OPEN.
func halfOpenBreaker(t *testing.T) *breaker {
	t.Helper()
	cfg := testConfig()
	cfg.SlidingWindow, cfg.MinimumCalls, cfg.WaitDuration, cfg.HalfOpenCalls = 1, 1, time.Millisecond, 2
	b := newBreaker(cfg, func(State, State) {})
	pm, _ := b.acquire()
	b.record(pm, failure)
	testutil.WaitFor(t, time.Second, "HALF_OPEN", func() bool { return b.State() == StateHalfOpen })
	return b
}

func TestBreakerHalfOpenPermits(t *testing.T) {
	tests := []struct {
		name     string
		outcomes []string // results of the trials, one permit at a time
		want     State
	}{
		{"all trials succeed: CLOSED", []string{success, success}, StateClosed},
		{"one trial fails: OPEN", []string{success, failure}, StateOpen},
		{"ignored trials give their permit back", []string{ignored, ignored, ignored, success}, StateHalfOpen},
		{"ignored trials never close", []string{ignored, ignored, ignored, ignored}, StateHalfOpen},
		{"a real trial after ignored ones counts", []string{ignored, ignored, success, success}, StateClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := halfOpenBreaker(t)
			for i, o := range tt.outcomes {
				pm, ok := b.acquire()
				if !ok {
					t.Fatalf("trial %d refused a permit", i+1)
				}
				b.record(pm, o)
			}
			if got := b.State(); got != tt.want {
				t.Errorf("state = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestBreakerPermitsOfHalfOpen(t *testing.T) {
	b := halfOpenBreaker(t)
	first, ok1 := b.acquire()
	_, ok2 := b.acquire()
	if _, ok3 := b.acquire(); !ok1 || !ok2 || ok3 {
		t.Fatalf("permits = %v, %v, %v: want two trials, the third refused", ok1, ok2, ok3)
	}
	b.record(first, ignored)
	if _, ok := b.acquire(); !ok {
		t.Errorf("an ignored trial did not give its permit back")
	}
}

func TestBreakerDropsStalePermits(t *testing.T) {
	cfg := testConfig()
	cfg.SlidingWindow, cfg.MinimumCalls, cfg.WaitDuration, cfg.HalfOpenCalls = 1, 1, time.Millisecond, 1
	b := newBreaker(cfg, func(State, State) {})
	stale, _ := b.acquire() // given while CLOSED, ends after the breaker moved on
	opener, _ := b.acquire()
	b.record(opener, failure)
	testutil.WaitFor(t, time.Second, "HALF_OPEN", func() bool { return b.State() == StateHalfOpen })
	b.record(stale, failure) // would reopen the breaker if it counted
	if got := b.State(); got != StateHalfOpen {
		t.Errorf("state = %s after a stale permit's failure, want HALF_OPEN", got)
	}
}

// TestBreakerTransitionsReportedInOrder hammers a breaker whose wait is 1ms from many goroutines
// until it has made 50 transitions: each reported transition must start where the previous one
// ended, although they are reported outside the lock.
func TestBreakerTransitionsReportedInOrder(t *testing.T) {
	cfg := testConfig()
	cfg.SlidingWindow, cfg.MinimumCalls, cfg.WaitDuration, cfg.HalfOpenCalls = 2, 2, time.Millisecond, 2
	var got []transition // appended by onChange, whose calls the breaker serialises
	var mu sync.Mutex
	b := newBreaker(cfg, func(from, to State) {
		mu.Lock()
		got = append(got, transition{from, to})
		mu.Unlock()
		runtime.Gosched() // a slow listener widens the window for reports out of order
	})
	var stop atomic.Bool
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(g), 1))
			for !stop.Load() {
				if pm, ok := b.acquire(); ok {
					b.record(pm, []string{success, failure, ignored}[rnd.IntN(3)])
				}
			}
		})
	}
	testutil.WaitFor(t, 10*time.Second, "50 transitions", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 50
	})
	stop.Store(true)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	prev := StateClosed
	for i, tr := range got {
		if tr.from != prev || tr.from == tr.to {
			t.Fatalf("transition %d is %s -> %s after one ending in %s", i+1, tr.from, tr.to, prev)
		}
		prev = tr.to
	}
}
