package client

import (
	"context"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/backend"
	"chaoslab/internal/fault"
	"chaoslab/internal/resilience"
	"chaoslab/internal/testutil"
)

// partitionable is backend-service behind the lab's own Toxiproxy, whose Partition is the
// lab's blackhole (a timeout toxic of 0 on both streams): point BACKEND_URL at URL.
type partitionable struct {
	*fault.Proxy
	URL     string
	Backend *service
}

func newPartitionable(t testing.TB, backendEnv map[string]string) *partitionable {
	t.Helper()
	be := start(t, backend.Run, backendEnv)
	px, err := fault.StartProxy(fault.ProxyConfig{Listen: "127.0.0.1:0", Upstream: be.Addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { px.Close(context.Background()) })
	return &partitionable{Proxy: px, URL: "http://" + px.ListenAddr(), Backend: be}
}

// TestColdStartEndToEnd: client-service with RESILIENCE=adaptive and every other variable at its
// default (ADAPTIVE_COLD_START=on) has answered three requests since it started, far from warm
// (100 calls). The backend goes silent: the next request is answered by the fallback after one
// backend call and no retry, with the breaker OPEN, because that call got no answer within the
// cold timeout; /api/resilience counts the opening. After the heal the probes bring it back.
func TestColdStartEndToEnd(t *testing.T) {
	be := newPartitionable(t, nil)
	cl := start(t, Run, map[string]string{"BACKEND_URL": be.URL, "RESILIENCE": "adaptive"})
	for range 3 {
		var a DataAnswer
		if getJSON(t, cl.URL+"/api/data", &a); a.Source != resilience.SourceBackend {
			t.Fatalf("healthy answer: %+v", a)
		}
	}
	var snap ResilienceAnswer
	getJSON(t, cl.URL+"/api/resilience", &snap)
	if ad := snap.Adaptive; ad == nil || !ad.Cold || ad.Samples != 3 || ad.AttemptTimeoutMs >= 1000 || snap.Config["ADAPTIVE_COLD_START"] != "on" {
		t.Fatalf("after 3 calls: %+v, config %v; want cold with a learned timeout under ATTEMPT_TIMEOUT", snap.Adaptive, snap.Config)
	}
	limit := snap.Adaptive.AttemptTimeoutMs

	if err := be.Partition(context.Background()); err != nil {
		t.Fatal(err)
	}
	var a DataAnswer
	resp := getJSON(t, cl.URL+"/api/data", &a)
	if resp.Header.Get("X-Fallback") != "true" || a.Attempts != 1 || a.CircuitBreakerState != resilience.StateOpen ||
		!strings.Contains(a.Error, "adaptive timeout while cold") {
		t.Fatalf("first request into the partition: %+v, want the fallback after 1 call, OPEN, for the cold timeout (%.1f ms)", a, limit)
	}
	getJSON(t, cl.URL+"/api/resilience", &snap)
	if snap.Adaptive.ColdOpenings != 1 || snap.CircuitBreaker.State != resilience.StateOpen {
		t.Errorf("after the opening: %+v, breaker %+v; want 1 cold opening", snap.Adaptive, snap.CircuitBreaker)
	}
	if cl.Logs.hasMsg("Retry 'backendRetry' - Attempt #") {
		t.Errorf("a retry was logged: the opening must end the request at once")
	}

	if err := be.Heal(context.Background()); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "the backend again with the breaker CLOSED", func() bool {
		var a DataAnswer
		getJSON(t, cl.URL+"/api/data", &a)
		return a.Source == resilience.SourceBackend && a.CircuitBreakerState == resilience.StateClosed
	})
	for _, msg := range []string{"CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN", "Fallback response due to error: backend call timed out after ",
		"Probe 'backendCB' - backend /readyz answered in ", "CircuitBreaker 'backendCB' changed state: HALF_OPEN -> CLOSED"} {
		if !cl.Logs.hasMsg(msg) {
			t.Errorf("client log lacks %q", msg)
		}
	}
}
