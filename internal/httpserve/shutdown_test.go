package httpserve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// startServe runs Serve on a free port with a handler whose /slow answers after slow, and
// returns the base URL, the cancel of its context and Serve's result.
func startServe(t *testing.T, drain, timeout, slow time.Duration, entered chan<- struct{}) (string, *atomic.Bool, context.CancelFunc, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // Serve listens itself; the port stays free on loopback for the instant between
	var ready atomic.Bool
	mux := http.NewServeMux()
	mux.Handle("GET /readyz", HandleReadyz(&ready))
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-time.After(slow) // the work of a slow handler, not a synchronisation
		w.Write([]byte("done\n"))
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, Options{Addr: addr, Handler: mux, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Ready: &ready, ShutdownTimeout: timeout, Drain: drain, WriteTimeout: 10 * time.Second})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !ready.Load() {
		if time.Now().After(deadline) {
			t.Fatal("Serve did not turn ready within 5s")
		}
		select {
		case err := <-done:
			t.Fatalf("Serve returned before ready: %v", err)
		case <-time.After(2 * time.Millisecond):
		}
	}
	t.Cleanup(cancel)
	return "http://" + addr, &ready, cancel, done
}

// TestDrainKeepsServingWithReadinessDown: during SHUTDOWN_DRAIN a new connection is still
// accepted and /readyz answers 503 on it; a request in flight at the cancel gets its whole
// answer; after the drain new connections are refused and Serve returns nil within the timeout.
func TestDrainKeepsServingWithReadinessDown(t *testing.T) {
	const drain, timeout, slow = 300 * time.Millisecond, 2 * time.Second, 200 * time.Millisecond
	entered := make(chan struct{}, 1)
	url, ready, cancel, done := startServe(t, drain, timeout, slow, entered)

	inflight := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("GET", url+"/slow", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			var b []byte
			b, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && string(b) != "done\n" {
				err = errors.New("body " + string(b))
			}
		}
		inflight <- err
	}()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow request did not reach its handler within 5s")
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	get := func() (int, error) {
		resp, err := c.Get(url + "/readyz")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := get(); code != 200 || err != nil {
		t.Fatalf("readyz before shutdown = %d, %v", code, err)
	}
	cancelAt := time.Now()
	cancel()
	deadline := time.Now().Add(time.Second)
	for ready.Load() {
		if time.Now().After(deadline) {
			t.Fatal("readiness still true 1s after the cancel")
		}
		<-time.After(time.Millisecond)
	}
	// Within the drain: a fresh connection is accepted and told 503.
	if code, err := get(); code != http.StatusServiceUnavailable || err != nil {
		t.Errorf("readyz during the drain = %d, %v; want 503 on a new connection", code, err)
	}
	// After the drain: refused, bounded wait.
	deadline = time.Now().Add(drain + time.Second)
	for {
		_, err := get()
		if errors.Is(err, syscall.ECONNREFUSED) {
			if el := time.Since(cancelAt); el < drain {
				t.Errorf("listener closed %v after the cancel, before the %v drain", el, drain)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new connections still accepted %v after the cancel (last error %v)", time.Since(cancelAt), err)
		}
		<-time.After(5 * time.Millisecond)
	}
	if err := <-inflight; err != nil {
		t.Errorf("request in flight at the cancel: %v, want its whole answer", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
		if el := time.Since(cancelAt); el > timeout {
			t.Errorf("Serve returned %v after the cancel, want within SHUTDOWN_TIMEOUT %v", el, timeout)
		}
	case <-time.After(timeout + time.Second):
		t.Fatal("Serve did not return within SHUTDOWN_TIMEOUT")
	}
}

// TestDrainIsPartOfTheTimeout: a drain longer than the timeout is cut to it, so Serve still
// returns within SHUTDOWN_TIMEOUT.
func TestDrainIsPartOfTheTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	_, _, cancel, done := startServe(t, time.Hour, timeout, 0, nil)
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
		if el := time.Since(start); el > timeout+100*time.Millisecond {
			t.Errorf("Serve returned after %v, want within %v", el, timeout)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve did not return within 2s of a 200ms SHUTDOWN_TIMEOUT")
	}
}

func TestCheckDrain(t *testing.T) {
	if err := CheckDrain(time.Second, time.Second); err != nil {
		t.Errorf("drain = timeout: %v", err)
	}
	if err := CheckDrain(2*time.Second, time.Second); err == nil || err.Error() != `SHUTDOWN_DRAIN="2s": must not exceed SHUTDOWN_TIMEOUT (1s)` {
		t.Errorf("drain > timeout: %v", err)
	}
}

// TestServeGivenListener: Serve serves a listener it is given (Addr unused), logs that
// listener's address, and closes it at shutdown.
func TestServeGivenListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var ready atomic.Bool
	var logged lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, Options{Addr: "not an address", Listener: ln, Handler: HandleReadyz(&ready),
			Logger: slog.New(slog.NewTextHandler(&logged, nil)), Ready: &ready, ShutdownTimeout: time.Second})
	}()
	url := "http://" + ln.Addr().String() + "/readyz"
	deadline := time.Now().Add(5 * time.Second)
	for !ready.Load() {
		if time.Now().After(deadline) {
			t.Fatal("Serve did not turn ready within 5s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("readyz = %d, want 200", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve = %v, want nil after a graceful shutdown", err)
	}
	if want := "addr=" + ln.Addr().String(); !strings.Contains(logged.String(), want) {
		t.Errorf("log %q lacks %s", logged.String(), want)
	}
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener still accepts after the shutdown")
	}
}

// lockedBuffer is a bytes.Buffer safe for the server's goroutines and the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
