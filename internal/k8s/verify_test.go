package k8s

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"chaoslab/internal/lab"
	"chaoslab/internal/results"
)

// verifyRunner is a runner whose client answers /api/diagnostics/backend with reachable until
// the given number of checks has been made (never, with a negative number).
func verifyRunner(t *testing.T, reachableChecks int64) (*verifyRun, *atomic.Int64) {
	t.Helper()
	var checks atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := checks.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if reachableChecks < 0 || n <= reachableChecks {
			io.WriteString(w, `{"reachable":true,"error":"","elapsedMs":2}`)
			return
		}
		io.WriteString(w, `{"reachable":false,"error":"connect: connection refused","elapsedMs":1}`)
	}))
	t.Cleanup(srv.Close)
	v := &verifyRun{}
	v.running = &running{env: lab.StartEnv{Logger: slog.New(slog.DiscardHandler), Say: func(string) {}, Problem: v.problem},
		verify: 3 * time.Second, c: &Cluster{Namespace: "lab"}, run: "run-t", policies: map[string]bool{}, events: results.NewEventLog(nil),
		client: &Proxy{URL: srv.URL}, watchCtx: context.Background()}
	return v, &checks
}

// verifyRun is a running stack that keeps the problems it is told of.
type verifyRun struct {
	*running
	mu       sync.Mutex
	problems []string
}

func (v *verifyRun) problem(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

// inconclusive says whether the run was told it proves nothing.
func (v *verifyRun) inconclusive() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, p := range v.problems {
		if strings.HasPrefix(p, Inconclusive) {
			return true
		}
	}
	return false
}

func TestVerifyProvesThePartition(t *testing.T) {
	r, _ := verifyRunner(t, 2)
	r.created("NetworkPolicy", "lab", "p")
	r.verifyWG.Wait()
	if r.inconclusive() || len(r.problems) != 0 {
		t.Errorf("inconclusive %t problems %q, want the partition proven", r.inconclusive(), r.problems)
	}
	var verified *results.Event
	for _, e := range r.events.Events() {
		if e.Kind == results.KindFault && e.Action == "verified" {
			verified = &e
		}
	}
	if verified == nil || !strings.Contains(verified.Message, "connection refused") {
		t.Errorf("no verified event naming the client's error: %+v", r.events.Events())
	}
}

func TestVerifyInconclusiveWhenTheBackendStaysReachable(t *testing.T) {
	r, checks := verifyRunner(t, -1)
	r.created("NetworkPolicy", "lab", "p")
	r.verifyWG.Wait()
	if !r.inconclusive() || len(r.problems) != 1 || !strings.HasPrefix(r.problems[0], Inconclusive) {
		t.Errorf("inconclusive %t problems %q, want %q", r.inconclusive(), r.problems, Inconclusive)
	}
	if checks.Load() < 3 {
		t.Errorf("%d checks in %v: want it to keep asking", checks.Load(), r.verify)
	}
}

// A policy removed before the client lost the backend was never proven either.
func TestVerifyStopsWhenThePolicyGoes(t *testing.T) {
	r, checks := verifyRunner(t, -1)
	r.verify = time.Minute
	r.created("NetworkPolicy", "lab", "p")
	for checks.Load() == 0 {
		time.Sleep(5 * time.Millisecond) // waiting for the first check
	}
	r.deleted("NetworkPolicy", "lab", "p")
	r.verifyWG.Wait()
	if !r.inconclusive() {
		t.Error("a partition removed before it showed must be inconclusive")
	}
}
