package client

import (
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"chaoslab/internal/testutil"
)

// TestNoLeakWhileBackendFails sends 200 requests, 20 at a time, against a backend that fails or
// hangs, with a breaker that keeps probing (HALF_OPEN every 50ms). Goroutines and connections
// to the backend must stay bounded, and settle back once the requests are done.
func TestNoLeakWhileBackendFails(t *testing.T) {
	tests := []struct {
		name         string
		mode         int32
		maxNewConns  int64 // connections the backend accepted over the 200 requests
		maxOpenConns int64 // connections still open once the requests are done
	}{
		{"backend answers 500", modeFail, 25, 25},
		{"backend hangs", modeHang, 60, 25},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBackend(t)
			cl := start(t, Run, fastEnv(f.srv.URL, "CB_WAIT_DURATION", "50ms", "ATTEMPT_TIMEOUT", "50ms",
				"REQUEST_TIMEOUT", "300ms"))
			getJSON(t, cl.URL+"/api/data", nil) // warm up: pools and server goroutines
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 20}}
			defer client.CloseIdleConnections()
			baseline := runtime.NumGoroutine()
			f.mode.Store(tt.mode)
			before := f.newConns.Load()

			fallbacks := fire(t, client, cl.URL+"/api/data", 200, 20)

			if fallbacks < 150 {
				t.Errorf("%d of 200 answers were fallbacks, want most", fallbacks)
			}
			if n := f.newConns.Load() - before; n > tt.maxNewConns {
				t.Errorf("backend accepted %d connections for 200 requests, want at most %d", n, tt.maxNewConns)
			}
			if n := f.open.Load(); n > tt.maxOpenConns {
				t.Errorf("%d connections to the backend still open, want at most %d", n, tt.maxOpenConns)
			}
			client.CloseIdleConnections()
			t.Logf("goroutines: baseline %d, now %d; backend conns: new %d, open %d",
				baseline, runtime.NumGoroutine(), f.newConns.Load()-before, f.open.Load())
			// Beyond the baseline, only pooled keep-alive connections may hold goroutines: a
			// transport read and write loop on the client side, a serving one on the backend side.
			testutil.WaitFor(t, 3*time.Second, "goroutines to settle", func() bool {
				return runtime.NumGoroutine() <= baseline+3*int(f.open.Load())+10
			})
		})
	}
}

// fire sends n GETs to url from workers goroutines and returns how many were fallbacks.
func fire(t *testing.T, client *http.Client, url string, n, workers int) int {
	t.Helper()
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	var mu sync.Mutex
	fallbacks := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range jobs {
				resp, err := client.Get(url)
				if err != nil {
					t.Errorf("GET: %v", err)
					return
				}
				resp.Body.Close()
				if resp.Header.Get("X-Fallback") == "true" {
					mu.Lock()
					fallbacks++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return fallbacks
}
