package load

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// DefaultWaitTimeout bounds a wait for readiness unless told otherwise.
const DefaultWaitTimeout = 2 * time.Minute

// The defaults of a Wait's polling: short polls close together, progress now and then.
const (
	DefaultPollInterval = 200 * time.Millisecond // pause after one poll before the next
	DefaultPollTimeout  = 2 * time.Second        // bound of one poll
	DefaultWaitEvery    = 5 * time.Second        // at most one progress report this often
)

// Wait says which URL must answer 200 before the load starts, and how long to wait for it.
type Wait struct {
	URL         string        // GET until it answers 200 (http or https, with a host)
	Timeout     time.Duration // bound of the whole wait (> 0)
	Interval    time.Duration // pause between polls; 0 = DefaultPollInterval
	PollTimeout time.Duration // bound of one poll; 0 = DefaultPollTimeout
	Every       time.Duration // progress reported at most this often; 0 = DefaultWaitEvery

	// now, when set, is the clock of Progress.Elapsed and of the progress throttle (the polls and
	// the timeout keep real time). Tests step it to count reports without sleeping.
	now func() time.Time
}

// Validate reports the first problem with the wait, in words a user can act on.
func (w Wait) Validate() error {
	switch {
	case !validTarget(w.URL):
		return fmt.Errorf("wait-ready URL %q: want an http:// or https:// URL with a host, e.g. http://127.0.0.1:8080/readyz", w.URL)
	case w.Timeout <= 0:
		return fmt.Errorf("wait timeout %v: must be > 0", w.Timeout)
	case w.Interval < 0 || w.PollTimeout < 0 || w.Every < 0:
		return fmt.Errorf("wait interval %v, poll timeout %v, progress every %v: must be >= 0 (0 = the default)",
			w.Interval, w.PollTimeout, w.Every)
	}
	return nil
}

func (w Wait) withDefaults() Wait {
	if w.Interval == 0 {
		w.Interval = DefaultPollInterval
	}
	if w.PollTimeout == 0 {
		w.PollTimeout = DefaultPollTimeout
	}
	if w.Every == 0 {
		w.Every = DefaultWaitEvery
	}
	if w.now == nil {
		w.now = time.Now
	}
	return w
}

// Progress is what a wait has seen so far.
type Progress struct {
	Elapsed time.Duration // since the wait began
	Polls   int           // polls finished
	Last    string        // the last poll's answer ("HTTP 503") or why it had none; "" before the first
}

// lastOrNone is p.Last, or says that no poll finished.
func (p Progress) lastOrNone() string {
	if p.Last == "" {
		return "none (no poll finished)"
	}
	return p.Last
}

// NotReadyError is WaitReady's error when the URL did not answer 200 within the timeout.
type NotReadyError struct {
	URL     string
	Timeout time.Duration
	Last    string // the last answer or error, as in Progress.Last
}

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("%s not ready: no 200 within %v; last answer: %s", e.URL, e.Timeout, e.Last)
}

// WaitReady polls GET w.URL until it answers 200 and returns what it saw. It gives up with a
// *NotReadyError after w.Timeout, and at once with an error wrapping ctx's when ctx ends.
// progress, when not nil, is called from WaitReady's goroutine after a poll that was not
// ready, at most once every w.Every (the first time w.Every after the start). A nil client
// is a fresh NewHTTPClient, whose connections are closed on return; redirects are not followed.
func WaitReady(ctx context.Context, w Wait, client *http.Client, progress func(Progress)) (Progress, error) {
	if err := w.Validate(); err != nil {
		return Progress{}, err
	}
	w = w.withDefaults()
	if client == nil {
		client = NewHTTPClient()
		defer client.CloseIdleConnections()
	}
	wctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	var p Progress
	start := w.now()
	reported := start
	timer := time.NewTimer(0) // the first poll at once
	defer timer.Stop()
	for {
		select {
		case <-wctx.Done():
			return p, w.gaveUp(ctx, p)
		case <-timer.C:
		}
		status, err := poll(wctx, client, w.URL, w.PollTimeout)
		p.Polls++
		p.Elapsed = w.now().Sub(start)
		if status == http.StatusOK {
			p.Last = "HTTP 200"
			return p, nil
		}
		if err != nil && wctx.Err() != nil { // cut by the end of the wait: no answer to report
			return p, w.gaveUp(ctx, p)
		}
		p.Last = answered(status, err, w.PollTimeout)
		if now := w.now(); progress != nil && now.Sub(reported) >= w.Every {
			reported = now
			progress(p)
		}
		timer.Reset(w.Interval)
	}
}

// gaveUp is the error of a wait that ended without a 200: ctx's own end, or the timeout.
func (w Wait) gaveUp(ctx context.Context, p Progress) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stopped while waiting for %s to answer 200 (last answer: %s): %w", w.URL, p.lastOrNone(), err)
	}
	return &NotReadyError{URL: w.URL, Timeout: w.Timeout, Last: p.lastOrNone()}
}

// poll sends one GET to url, bounded by timeout, and returns the answer's status. The body is
// drained (a little of it) and closed, so the connection can serve the next poll.
func poll(ctx context.Context, client *http.Client, url string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if err != nil {
		return 0, fmt.Errorf("reading the answer (HTTP %d): %w", resp.StatusCode, err)
	}
	return resp.StatusCode, nil
}

// answered says what one poll got: the status of its answer, or why it had none.
func answered(status int, err error, timeout time.Duration) string {
	if err != nil {
		return describe(err, timeout)
	}
	return fmt.Sprintf("HTTP %d", status)
}
