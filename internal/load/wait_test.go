package load

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// flipServer answers 503 to its first notReady requests and 200 after, counting them.
type flipServer struct {
	notReady int64
	polls    atomic.Int64
	onPoll   func(n int64) // called with the poll's number (1-based) before answering; may be nil
}

func (f *flipServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.polls.Add(1)
	if f.onPoll != nil {
		f.onPoll(n)
	}
	if n <= f.notReady {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
	}
}

// refusedURL is an http URL where nothing listens.
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String() + "/readyz"
	ln.Close()
	return u
}

// A URL that answers 503 a few times and then 200: the wait returns at the first 200, after
// exactly the polls the server counted.
func TestWaitReadyAfterNotReady(t *testing.T) {
	for _, notReady := range []int64{0, 1, 4} {
		t.Run(strings.Repeat("503,", int(notReady))+"200", func(t *testing.T) {
			fs := &flipServer{notReady: notReady}
			srv := httptest.NewServer(fs)
			defer srv.Close()
			w := Wait{URL: srv.URL + "/readyz", Timeout: 10 * time.Second, Interval: time.Millisecond}
			p, err := WaitReady(context.Background(), w, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := fs.polls.Load(); got != notReady+1 || int64(p.Polls) != got {
				t.Errorf("server saw %d polls, WaitReady counted %d, want %d", got, p.Polls, notReady+1)
			}
			if p.Last != "HTTP 200" {
				t.Errorf("last answer %q, want HTTP 200", p.Last)
			}
		})
	}
}

// A URL that never answers 200 within the timeout: a *NotReadyError naming the URL, the timeout
// and the last answer or error.
func TestWaitReadyTimesOut(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	never := httptest.NewServer(&flipServer{notReady: 1 << 62})
	defer never.Close()
	redirect := httptest.NewServer(http.RedirectHandler("/elsewhere", http.StatusFound))
	defer redirect.Close()
	tests := []struct {
		name, url   string
		pollTimeout time.Duration
		last        string
	}{
		{"503", never.URL + "/readyz", 0, "HTTP 503"},
		{"redirect not followed", redirect.URL + "/readyz", 0, "HTTP 302"},
		{"connection refused", refusedURL(t), 0, "connection refused"},
		{"each poll times out", hang.URL + "/readyz", 5 * time.Millisecond, "timeout: no answer within 5ms"},
		{"the only poll is cut by the wait's end", hang.URL + "/readyz", time.Minute, "none (no poll finished)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := Wait{URL: tt.url, Timeout: 60 * time.Millisecond, Interval: time.Millisecond, PollTimeout: tt.pollTimeout}
			_, err := WaitReady(context.Background(), w, nil, nil)
			var nr *NotReadyError
			if !errors.As(err, &nr) {
				t.Fatalf("err = %v, want a *NotReadyError", err)
			}
			if nr.URL != tt.url || nr.Timeout != w.Timeout || !strings.Contains(nr.Last, tt.last) {
				t.Errorf("error = %+v, want URL %s, timeout %v, last answer with %q", nr, tt.url, w.Timeout, tt.last)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.url) || !strings.Contains(msg, "60ms") || !strings.Contains(msg, tt.last) || strings.Contains(msg, "\n") {
				t.Errorf("message %q: want one line with the URL, 60ms and %q", msg, tt.last)
			}
		})
	}
}

// Cancelling the context ends the wait at once, also in the middle of a poll that would hang for
// a minute, with an error that wraps context.Canceled and is no NotReadyError.
func TestWaitReadyCancel(t *testing.T) {
	tests := []struct {
		name string
		hang bool // the poll hangs until its request is cancelled
	}{
		{"between 503s", false},
		{"during a hanging poll", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			fs := &flipServer{notReady: 1 << 62}
			fs.onPoll = func(n int64) {
				if n == 2 || tt.hang {
					cancel()
				}
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fs.ServeHTTP(w, r)
				if tt.hang {
					<-r.Context().Done()
				}
			}))
			defer srv.Close()
			w := Wait{URL: srv.URL + "/readyz", Timeout: time.Minute, Interval: time.Millisecond, PollTimeout: time.Minute}
			done := make(chan error, 1)
			go func() { _, err := WaitReady(ctx, w, nil, nil); done <- err }()
			select {
			case err := <-done:
				var nr *NotReadyError
				if !errors.Is(err, context.Canceled) || errors.As(err, &nr) || !strings.Contains(err.Error(), w.URL) {
					t.Errorf("err = %v, want context.Canceled naming %s", err, w.URL)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("WaitReady did not return after its context was cancelled")
			}
		})
	}
}

// steppedClock is a clock that moves only when told.
type steppedClock struct{ ns atomic.Int64 }

func (c *steppedClock) now() time.Time { return time.Unix(0, c.ns.Load()) }

// Progress is reported at most once every Every of the wait's clock, first after Every: a clock
// moved 1s per poll, 503 for ten polls and Every 3s give reports after polls 3, 6 and 9.
func TestWaitReadyProgress(t *testing.T) {
	var clock steppedClock
	fs := &flipServer{notReady: 10, onPoll: func(int64) { clock.ns.Add(int64(time.Second)) }}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	w := Wait{URL: srv.URL, Timeout: 10 * time.Second, Interval: time.Millisecond, Every: 3 * time.Second, now: clock.now}
	var got []Progress
	p, err := WaitReady(context.Background(), w, nil, func(p Progress) { got = append(got, p) })
	if err != nil {
		t.Fatal(err)
	}
	want := []Progress{{3 * time.Second, 3, "HTTP 503"}, {6 * time.Second, 6, "HTTP 503"}, {9 * time.Second, 9, "HTTP 503"}}
	if len(got) != len(want) {
		t.Fatalf("progress reports %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("report %d = %+v, want %+v", i+1, got[i], want[i])
		}
	}
	if p.Polls != 11 || p.Elapsed != 11*time.Second || fs.polls.Load() != 11 {
		t.Errorf("final %+v, server saw %d polls; want 11 polls in 11s", p, fs.polls.Load())
	}
}

func TestWaitValidate(t *testing.T) {
	ok := Wait{URL: "http://127.0.0.1:8080/readyz", Timeout: time.Second}
	tests := []struct {
		name   string
		edit   func(*Wait)
		errHas string // "" = valid
	}{
		{"valid", func(*Wait) {}, ""},
		{"https", func(w *Wait) { w.URL = "https://client-service/readyz" }, ""},
		{"empty URL", func(w *Wait) { w.URL = "" }, `wait-ready URL "": want an http:// or https:// URL with a host`},
		{"no scheme", func(w *Wait) { w.URL = "client-service:8080/readyz" }, "want an http:// or https:// URL"},
		{"ftp", func(w *Wait) { w.URL = "ftp://client-service/readyz" }, "want an http:// or https:// URL"},
		{"no host", func(w *Wait) { w.URL = "http:///readyz" }, "with a host"},
		{"zero timeout", func(w *Wait) { w.Timeout = 0 }, "wait timeout 0s: must be > 0"},
		{"negative interval", func(w *Wait) { w.Interval = -time.Millisecond }, "must be >= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := ok
			tt.edit(&w)
			err := w.Validate()
			if (tt.errHas == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.errHas)) {
				t.Fatalf("Validate() = %v, want %q", err, tt.errHas)
			}
			if err == nil {
				return
			}
			if _, werr := WaitReady(context.Background(), w, nil, nil); werr == nil || werr.Error() != err.Error() {
				t.Errorf("WaitReady = %v, want the validation error %v", werr, err)
			}
		})
	}
}
