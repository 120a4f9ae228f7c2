package client

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// Modes of the fake backend.
const (
	modeOK int32 = iota
	modeFail
	modeHang
	mode404
)

// fakeBackend is an httptest backend that can answer, fail or hang, and counts the requests and
// the TCP connections it accepts.
type fakeBackend struct {
	srv      *httptest.Server
	mode     atomic.Int32
	calls    atomic.Int64
	newConns atomic.Int64
	open     atomic.Int64 // connections not yet closed

	mu      sync.Mutex
	headers []http.Header // the headers of each /api/data call, in order of arrival
}

// seen returns the headers of the /api/data calls so far.
func (f *fakeBackend) seen() []http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]http.Header(nil), f.headers...)
}

func newFakeBackend(t *testing.T) *fakeBackend {
	t.Helper()
	f := &fakeBackend{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("GET /api/data", func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		f.mu.Lock()
		f.headers = append(f.headers, r.Header.Clone())
		f.mu.Unlock()
		switch f.mode.Load() {
		case modeFail:
			http.Error(w, "boom", http.StatusInternalServerError)
		case modeHang:
			<-r.Context().Done()
		case mode404:
			http.NotFound(w, r)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"service":"backend-service","message":"hi"}`))
		}
	})
	f.srv = httptest.NewUnstartedServer(mux)
	f.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			f.newConns.Add(1)
			f.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			f.open.Add(-1)
		}
	}
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

// blackhole accepts TCP connections and never answers, like a partition behind a proxy.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

// refused returns a URL on which nothing listens.
func refused(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// fastEnv is a client configuration with tiny durations against url.
func fastEnv(url string, extra ...string) map[string]string {
	e := map[string]string{
		"BACKEND_URL": url, "ATTEMPT_TIMEOUT": "100ms", "REQUEST_TIMEOUT": "500ms",
		"RETRY_INITIAL_BACKOFF": "10ms", "RETRY_MAX_BACKOFF": "40ms", "CB_WAIT_DURATION": "10s",
	}
	for i := 0; i+1 < len(extra); i += 2 {
		e[extra[i]] = extra[i+1]
	}
	return e
}
