package resilience

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeClock is a clock a test moves by hand; safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// normalizedLog is the failing scenario's text log at level, with the lease set up by prepare
// (nil: no lease at all), the times and durations blanked: the only parts that change from run
// to run.
func normalizedLog(t *testing.T, level slog.Level, prepare func(*AttemptLease, *fakeClock) *AttemptLease) string {
	t.Helper()
	var buf logBuffer
	blank := func(_ []string, a slog.Attr) slog.Attr {
		switch a.Key {
		case slog.TimeKey:
			return slog.Attr{}
		case "duration_ms":
			return slog.Float64(a.Key, 0)
		}
		return a
	}
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level, ReplaceAttr: blank}))
	clock := newFakeClock()
	var lease *AttemptLease
	if prepare != nil {
		lease = prepare(NewAttemptLease(clock.Now), clock)
	}
	failingScenarioWith(t, Options{Logger: logger, Registry: prometheus.NewRegistry(), AttemptRecords: lease})
	return buf.String()
}

// TestAttemptLeaseLeavesLogsAlone: without a lease in force the log is byte for byte the log
// without any lease, at info level (no attempt records) and at debug level (one per call).
func TestAttemptLeaseLeavesLogsAlone(t *testing.T) {
	leases := []struct {
		name    string
		prepare func(*AttemptLease, *fakeClock) *AttemptLease
	}{
		{"never granted", func(l *AttemptLease, _ *fakeClock) *AttemptLease { return l }},
		{"expired", func(l *AttemptLease, c *fakeClock) *AttemptLease {
			l.Grant(time.Minute)
			c.advance(time.Minute)
			return l
		}},
		{"turned off", func(l *AttemptLease, _ *fakeClock) *AttemptLease {
			l.Grant(time.Minute)
			l.Grant(0)
			return l
		}},
	}
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		want := normalizedLog(t, level, nil)
		if n := strings.Count(want, "event=attempt"); (level == slog.LevelDebug) != (n == 3) {
			t.Fatalf("%s without a lease: %d attempt records:\n%s", level, n, want)
		}
		for _, tt := range leases {
			t.Run(level.String()+"/"+tt.name, func(t *testing.T) {
				if got := normalizedLog(t, level, tt.prepare); got != want {
					t.Errorf("log with a lease %s:\n%s\nwant, as without a lease:\n%s", tt.name, got, want)
				}
			})
		}
	}
}

// TestAttemptLeaseAtInfo: while a lease is in force, an info-level log gets exactly the attempt
// records a debug-level log has, and nothing else of debug level.
func TestAttemptLeaseAtInfo(t *testing.T) {
	granted := func(l *AttemptLease, _ *fakeClock) *AttemptLease {
		l.Grant(time.Minute)
		return l
	}
	got := normalizedLog(t, slog.LevelInfo, granted)
	want := normalizedLog(t, slog.LevelDebug, nil)
	if got != want {
		t.Errorf("info log under a lease:\n%s\nwant the debug log:\n%s", got, want)
	}
	if n := strings.Count(got, "level=DEBUG msg=\"Backend call #"); n != 3 {
		t.Errorf("%d attempt records at debug level under a lease, want 3", n)
	}
}

func TestAttemptLease(t *testing.T) {
	clock := newFakeClock()
	l := NewAttemptLease(clock.Now)
	start := clock.Now()
	tests := []struct {
		name      string
		do        func()
		wantUntil time.Time // zero: off
	}{
		{"off at first", func() {}, time.Time{}},
		{"granted for a minute", func() { l.Grant(time.Minute) }, start.Add(time.Minute)},
		{"still on a moment before the end", func() { clock.advance(time.Minute - time.Nanosecond) }, start.Add(time.Minute)},
		{"off at the end, by itself", func() { clock.advance(time.Nanosecond) }, time.Time{}},
		{"granted again", func() { l.Grant(2 * time.Minute) }, start.Add(3 * time.Minute)},
		{"shortened: the last grant holds", func() { l.Grant(time.Second) }, start.Add(time.Minute + time.Second)},
		{"turned off", func() { l.Grant(0) }, time.Time{}},
		{"a negative grant is off", func() { l.Grant(time.Minute); l.Grant(-time.Second) }, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.do()
			if got := l.Until(); !got.Equal(tt.wantUntil) || l.active() != !tt.wantUntil.IsZero() {
				t.Errorf("Until() = %v, active %v; want %v", got, l.active(), tt.wantUntil)
			}
		})
	}
	var none *AttemptLease
	if none.active() || !none.Until().IsZero() {
		t.Errorf("a nil lease is active")
	}
}
