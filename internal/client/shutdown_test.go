package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"chaoslab/internal/backend"
	"chaoslab/internal/load"
	"chaoslab/internal/results"
	"chaoslab/internal/testutil"
)

// The graceful-shutdown tests drive 200 requests a second through load.Run and cancel a
// service's context in the middle.
const (
	shutdownRPS = 200
	maxLoad     = 10 * time.Second // the load stops earlier, once the test has what it needs
	loadTimeout = 5 * time.Second  // longer than any REQUEST_TIMEOUT here: a hang shows as a timeout
)

// loadRun is load.Run in the background, collecting its records.
type loadRun struct {
	mu   sync.Mutex
	recs []results.Record
	stop context.CancelFunc
	done chan error
}

func startLoad(t *testing.T, target string) *loadRun {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	l := &loadRun{done: make(chan error, 1), stop: cancel}
	cfg := load.Config{Target: target, RPS: shutdownRPS, Timeout: loadTimeout, Duration: maxLoad}
	go func() {
		l.done <- load.Run(ctx, cfg, nil, func(r results.Record) {
			l.mu.Lock()
			l.recs = append(l.recs, r)
			l.mu.Unlock()
		})
	}()
	return l
}

// count counts the records that match.
func (l *loadRun) count(match func(results.Record) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if match(r) {
			n++
		}
	}
	return n
}

func anyRecord(results.Record) bool { return true }

// wait stops the load, waits for its requests in flight (bounded) and returns its records.
func (l *loadRun) wait(t *testing.T) []results.Record {
	t.Helper()
	l.stop()
	select {
	case err := <-l.done:
		if err != nil {
			t.Fatalf("load.Run: %v", err)
		}
	case <-time.After(loadTimeout + 5*time.Second):
		t.Fatal("the load did not end: a request hangs beyond its timeout")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.recs
}

// connection-level failures, from the load's error text.
func refusedErr(e string) bool { return strings.Contains(e, "connection refused") }
func resetErr(e string) bool {
	return strings.Contains(e, "connection reset") || strings.Contains(e, "EOF") || strings.Contains(e, "broken pipe")
}

// poll is one GET /readyz of the poller.
type poll struct {
	start time.Time
	end   time.Time // when the answer or the error came back
	code  int       // 0 when there was no answer
	err   error     // the transport error then
}

// pollReadyz asks url/readyz every 5 ms on new connections until ctx is done or the listener
// refuses, and returns the sequence.
func pollReadyz(ctx context.Context, url string) <-chan []poll {
	out := make(chan []poll, 1)
	go func() {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
		var seq []poll
		defer func() { out <- seq }()
		for ctx.Err() == nil {
			p := poll{start: time.Now()}
			resp, err := c.Get(url + "/readyz")
			p.end = time.Now()
			if err == nil {
				p.code = resp.StatusCode
				resp.Body.Close()
			}
			p.err = err
			seq = append(seq, p)
			if errors.Is(err, syscall.ECONNREFUSED) {
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return out
}

// slowBackend answers /api/data after 200 ms, so client requests are in flight at any moment.
func slowBackend(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(200 * time.Millisecond): // the backend's work, not a synchronisation
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"service":"backend-service","message":"slow"}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestClientShutdownUnderLoad: cancelling client-service's context under 200 rps, with ~40
// requests in flight (each takes 200 ms at the backend), turns /readyz to 503 while the
// listener still accepts (SHUTDOWN_DRAIN), answers every request sent before the cancel in
// full, then refuses new connections; Run returns nil within SHUTDOWN_TIMEOUT.
func TestClientShutdownUnderLoad(t *testing.T) {
	const drain, shutdownTimeout = 300 * time.Millisecond, 5 * time.Second
	// Generous attempt and request timeouts: on a busy machine the 200 ms backend may answer
	// late, and this test is about the shutdown, not the pipeline.
	cl := start(t, Run, map[string]string{
		"BACKEND_URL": slowBackend(t), "ATTEMPT_TIMEOUT": "3s", "REQUEST_TIMEOUT": "4s",
		"SHUTDOWN_TIMEOUT": shutdownTimeout.String(), "SHUTDOWN_DRAIN": drain.String(),
	})
	pctx, stopPolling := context.WithTimeout(context.Background(), maxLoad)
	defer stopPolling()
	polls := pollReadyz(pctx, cl.URL)
	l := startLoad(t, cl.URL+"/api/data")
	// Mid-load: answers coming back, and (200 rps x 200 ms) about 40 more in flight.
	testutil.WaitFor(t, 5*time.Second, "50 answers", func() bool { return l.count(anyRecord) >= 50 })

	stop := cl.stop
	cl.stop = nil // this test checks the shutdown itself; the cleanup has nothing left to do
	cancelAt := time.Now()
	stop()
	select {
	case err := <-cl.done:
		if err != nil {
			t.Errorf("Run = %v after the cancel, want nil", err)
		}
		if el := time.Since(cancelAt); el > shutdownTimeout {
			t.Errorf("Run returned %v after the cancel, want within SHUTDOWN_TIMEOUT %v", el, shutdownTimeout)
		}
	case <-time.After(shutdownTimeout + 2*time.Second):
		t.Fatalf("Run did not return within SHUTDOWN_TIMEOUT %v", shutdownTimeout)
	}
	// The load outlasts the listener: wait for a refused request before stopping it.
	testutil.WaitFor(t, 5*time.Second, "a refused request", func() bool {
		return l.count(func(r results.Record) bool { return refusedErr(r.Error) }) > 0
	})
	recs := l.wait(t)
	stopPolling()
	seq := <-polls

	// Readiness: 200 until the cancel, then 503 on new connections, then refused; never back.
	first503, firstRefused := -1, -1
	for i, p := range seq {
		switch {
		case p.code == http.StatusServiceUnavailable && first503 < 0:
			first503 = i
		case errors.Is(p.err, syscall.ECONNREFUSED) && firstRefused < 0:
			firstRefused = i
		case p.code == http.StatusOK && first503 >= 0:
			t.Errorf("readyz answered 200 at %v after a 503", p.start.Sub(cancelAt))
		case p.err != nil && !errors.Is(p.err, syscall.ECONNREFUSED) && first503 >= 0 && resetErr(p.err.Error()):
			t.Logf("readyz poll at %v reset: a connection queued as the listener closed", p.start.Sub(cancelAt))
		case p.err != nil && !errors.Is(p.err, syscall.ECONNREFUSED):
			t.Errorf("readyz poll at %v after the cancel: %v, want an answer or a refused connection", p.start.Sub(cancelAt), p.err)
		}
	}
	switch {
	case first503 < 0:
		t.Errorf("readyz never answered 503 between the cancel and the listener closing; polls: %d", len(seq))
	case firstRefused < 0:
		t.Errorf("the listener never closed: no refused readyz poll")
	case firstRefused < first503:
		t.Errorf("the listener closed before readyz answered 503")
	case seq[first503].end.Before(cancelAt):
		// A poll sent just before the cancel may be answered after it: what counts is that no
		// 503 came back while the client was still serving.
		t.Errorf("readyz answered 503 %v before the cancel", cancelAt.Sub(seq[first503].end))
	}

	// Requests: every one sent before the cancel got a complete answer from the backend.
	var inFlight, beforeOK, fallbacks, afterOK, refused, reset int
	for _, r := range recs {
		sent := r.Start.Add(r.SendLag)
		switch {
		case r.Source == results.SourceDropped:
			t.Errorf("request %d dropped by the load generator", r.ID)
		case strings.HasPrefix(r.Error, "timeout"):
			t.Errorf("request %d timed out: %s", r.ID, r.Error)
		case sent.Before(cancelAt):
			if r.Status != http.StatusOK {
				t.Errorf("request %d sent %v before the cancel: status %d source %s error %q, want a complete answer",
					r.ID, cancelAt.Sub(sent), r.Status, r.Source, r.Error)
				continue
			}
			beforeOK++
			if r.Source != results.SourceBackend {
				fallbacks++ // only when the busy machine delayed the backend past ATTEMPT_TIMEOUT
			}
			if r.Start.Add(r.Latency).After(cancelAt) {
				inFlight++
			}
		case r.Status == http.StatusOK:
			afterOK++
		case refusedErr(r.Error):
			refused++
		case resetErr(r.Error):
			reset++ // only possible for a connection the kernel queued as the listener closed
		default:
			t.Errorf("request %d sent %v after the cancel: status %d error %q, want an answer or a refused connection",
				r.ID, sent.Sub(cancelAt), r.Status, r.Error)
		}
	}
	t.Logf("before the cancel: %d answered (%d fallbacks; %d in flight at the cancel); after: %d answered during the drain, %d refused, %d reset at the close; readyz polls %d",
		beforeOK, fallbacks, inFlight, afterOK, refused, reset, len(seq))
	if inFlight == 0 {
		t.Errorf("no request was in flight at the cancel: the test proves nothing")
	}
	if reset > 2 {
		t.Errorf("%d requests reset after the cancel, want at most the odd one queued as the listener closed", reset)
	}
}

// TestBackendShutdownUnderClientLoad: cancelling backend-service's context while the client
// serves 200 rps makes the client's attempts fail fast (refused, or EOF on a pooled connection
// the backend closed), which the client retries and turns into fallbacks: every load request
// gets a 200 answer within REQUEST_TIMEOUT, none hangs; the backend's Run returns nil within
// its SHUTDOWN_TIMEOUT.
func TestBackendShutdownUnderClientLoad(t *testing.T) {
	const requestTimeout, backendShutdown = 2 * time.Second, 2 * time.Second
	be := start(t, backend.Run, map[string]string{"SHUTDOWN_TIMEOUT": backendShutdown.String()})
	cl := start(t, Run, map[string]string{
		"BACKEND_URL": be.URL, "ATTEMPT_TIMEOUT": "500ms", "REQUEST_TIMEOUT": requestTimeout.String(),
		"RETRY_MAX_RETRIES": "2", "RETRY_INITIAL_BACKOFF": "10ms", "RETRY_MAX_BACKOFF": "40ms",
	})
	l := startLoad(t, cl.URL+"/api/data")
	testutil.WaitFor(t, 5*time.Second, "100 answers", func() bool { return l.count(anyRecord) >= 100 })

	stop := be.stop
	be.stop = nil
	cancelAt := time.Now()
	stop()
	select {
	case err := <-be.done:
		if err != nil {
			t.Errorf("backend Run = %v after the cancel, want nil", err)
		}
		if el := time.Since(cancelAt); el > backendShutdown {
			t.Errorf("backend Run returned %v after the cancel, want within SHUTDOWN_TIMEOUT %v", el, backendShutdown)
		}
	case <-time.After(backendShutdown + 2*time.Second):
		t.Fatalf("backend Run did not return within SHUTDOWN_TIMEOUT %v", backendShutdown)
	}
	// Half a second of load on the client with its backend gone.
	testutil.WaitFor(t, 5*time.Second, "100 requests sent after the cancel", func() bool {
		return l.count(func(r results.Record) bool { return r.Start.After(cancelAt) }) >= 100
	})
	recs := l.wait(t)

	var fromBackend, fallbacks int
	reasons := map[string]int{}
	for _, r := range recs {
		if r.Status != http.StatusOK || (r.Source != results.SourceBackend && r.Source != results.SourceFallback) {
			t.Errorf("request %d: status %d source %s error %q, want the backend's answer or a fallback", r.ID, r.Status, r.Source, r.Error)
			continue
		}
		if r.Latency-r.SendLag > requestTimeout+time.Second {
			t.Errorf("request %d took %v, want within REQUEST_TIMEOUT %v", r.ID, r.Latency-r.SendLag, requestTimeout)
		}
		if r.Source == results.SourceBackend {
			fromBackend++
			continue
		}
		fallbacks++
		switch e := r.Error; {
		case refusedErr(e):
			reasons["refused"]++
		case resetErr(e):
			reasons["reset/EOF"]++
		case strings.Contains(e, "OPEN"):
			reasons["breaker open"]++
		case strings.Contains(e, "timed out") && r.Start.Add(r.SendLag).Before(cancelAt):
			reasons["timeout before the cancel (busy machine)"]++
		default:
			reasons[e]++
		}
	}
	t.Logf("%d answered by the backend, %d fallbacks by reason %v", fromBackend, fallbacks, reasons)
	if fallbacks == 0 || fromBackend == 0 {
		t.Errorf("want answers from the backend before the cancel and fallbacks after it")
	}
	if reasons["refused"]+reasons["reset/EOF"] == 0 {
		t.Errorf("no attempt saw the backend refuse or close a connection")
	}
	for reason, n := range reasons {
		switch reason {
		case "refused", "reset/EOF", "breaker open", "timeout before the cancel (busy machine)":
		default:
			t.Errorf("%d fallbacks because %q, want a refused or closed connection (or the breaker they opened)", n, reason)
		}
	}
}
