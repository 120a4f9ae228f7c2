package lab

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"chaoslab/internal/load"
)

// status shows one live line while a run goes on: on a terminal it is redrawn in place every
// second; otherwise a plain line is printed every few seconds.
type status struct {
	w        io.Writer
	tty      bool
	start    time.Time
	expected time.Duration // the run's expected length, for "remaining"
	counter  *load.Counter
	breaker  func() string
	mu       sync.Mutex
	phase    string
	drawn    bool
	stop     chan struct{}
	done     chan struct{}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func startStatus(w io.Writer, expected time.Duration, counter *load.Counter, breaker func() string) *status {
	s := &status{w: w, tty: isTerminal(w), start: time.Now(), expected: expected, counter: counter, breaker: breaker,
		phase: "starting", stop: make(chan struct{}), done: make(chan struct{})}
	every := 5 * time.Second
	if s.tty {
		every = time.Second
	}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				s.draw()
			}
		}
	}()
	return s
}

// setPhase changes the phase shown and prints a line for it.
func (s *status) setPhase(p string) {
	s.mu.Lock()
	s.phase = p
	s.mu.Unlock()
	s.draw()
}

// printf prints a message line without garbling the live line.
func (s *status) printf(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tty && s.drawn {
		fmt.Fprint(s.w, "\r\033[K")
		s.drawn = false
	}
	fmt.Fprintf(s.w, format+"\n", args...)
}

func (s *status) line() string {
	t := s.counter.Totals()
	elapsed := time.Since(s.start).Truncate(time.Second)
	remaining := (s.expected - elapsed).Truncate(time.Second)
	if remaining < 0 {
		remaining = 0
	}
	br := s.breaker()
	if br == "" {
		br = "-"
	}
	dropped := ""
	if t.Dropped > 0 {
		dropped = fmt.Sprintf(", %d dropped", t.Dropped)
	}
	return fmt.Sprintf("[%-10s] %s elapsed, ~%s left | %d requests, %d backend, %d fallback, %d errors%s | breaker %s",
		s.phase, elapsed, remaining, t.Requests, t.Backend, t.Fallbacks, t.Errors, dropped, br)
}

func (s *status) draw() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tty {
		fmt.Fprint(s.w, "\r\033[K"+s.line())
		s.drawn = true
		return
	}
	fmt.Fprintln(s.w, s.line())
}

// close stops the live line and leaves the cursor on a fresh line.
func (s *status) close() {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tty && s.drawn {
		fmt.Fprintln(s.w)
	}
}
