package fault

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// fakeKubelet is a Supervised ProcessControl: a killed service comes back when the test closes
// back, as a kubelet restarts a container; Start only waits for that.
type fakeKubelet struct {
	*fakeProcs
	back chan struct{}
}

func (f *fakeKubelet) RestartedBy() string { return "the kubelet restarts the container" }

func (f *fakeKubelet) Start(ctx context.Context, s string) (int, bool, error) {
	select {
	case <-f.back:
	case <-ctx.Done():
		return 0, false, ctx.Err()
	}
	return f.fakeProcs.Start(ctx, s)
}

func TestSupervisedKillRefusesRestartAfter(t *testing.T) {
	a, ch, _, events := startAPI(t, &fakeKubelet{fakeProcs: newFakeProcs(), back: make(chan struct{})})
	code, body := call(t, "POST", a.URL()+"/processes/backend-service/kill", `{"signal":"SIGKILL","restart_after":15}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "restart_after is not available here: the kubelet restarts the container") {
		t.Errorf("kill with restart_after = %d %s, want 400 saying the kubelet restarts it", code, body)
	}
	if on, detail := a.Active(); on || len(ch.list()) != 0 || len(events.list()) != 0 {
		t.Errorf("a refused kill left a fault: %v %q, changes %v, events %v", on, detail, ch.list(), events.list())
	}
}

// TestSupervisedKillWaitsForTheKubelet: the crash fault lasts from the kill until the kubelet
// brought the service back, a start during the wait answers once it is back, and the comeback
// is reported once.
func TestSupervisedKillWaitsForTheKubelet(t *testing.T) {
	procs := &fakeKubelet{fakeProcs: newFakeProcs(), back: make(chan struct{})}
	a, ch, _, events := startAPI(t, procs)
	code, body := call(t, "POST", a.URL()+"/processes/backend-service/kill", `{"signal":"SIGKILL"}`)
	if code != 200 || !strings.Contains(body, `"running":false`) || strings.Contains(body, "restart_at") {
		t.Fatalf("kill = %d %s, want 200, not running, no restart_at", code, body)
	}
	if on, detail := a.Active(); !on || !strings.Contains(detail, "backend-service killed with SIGKILL (pid 100); the kubelet restarts the container") {
		t.Errorf("Active() = %v %q", on, detail)
	}
	var wg sync.WaitGroup
	var startCode int
	var startBody string
	wg.Add(1)
	go func() { // the rollback: answers once the service is back
		defer wg.Done()
		startCode, startBody = call(t, "POST", a.URL()+"/processes/backend-service/start", "")
	}()
	close(procs.back)
	wg.Wait()
	if startCode != 200 || !strings.Contains(startBody, `"running":true`) || !strings.Contains(startBody, `"pid":101`) {
		t.Errorf("start = %d %s, want 200 with the new process", startCode, startBody)
	}
	eventually(t, func() bool { on, _ := a.Active(); return !on && len(ch.list()) == 2 })
	if got := ch.list(); got[0].Kind != KindCrash || !got[0].Active || got[1].Active {
		t.Errorf("changes = %+v, want crash on, then off", got)
	}
	eventually(t, func() bool { return len(procs.started) == 1 })
	eventually(t, func() bool { return len(events.list()) >= 2 }) // the start is reported by the goroutine that saw the comeback
	evs := events.list()
	var starts int
	for _, e := range evs {
		if e.Action == "start" {
			starts++
		}
	}
	if len(evs) != 2 || starts != 1 || evs[1].PID != 101 {
		t.Errorf("process events = %+v, want one kill and one start of pid 101", evs)
	}
}

// TestSupervisedCloseEndsTheWait: Close does not wait for a kubelet that never comes.
func TestSupervisedCloseEndsTheWait(t *testing.T) {
	procs := &fakeKubelet{fakeProcs: newFakeProcs(), back: make(chan struct{})}
	a, _, _, _ := startAPI(t, procs)
	if code, body := call(t, "POST", a.URL()+"/processes/backend-service/kill", `{}`); code != 200 {
		t.Fatalf("kill = %d %s", code, body)
	}
	if err := a.Close(context.Background()); err != nil {
		t.Errorf("Close: %v", err)
	}
	if len(procs.started) != 0 {
		t.Error("something was started")
	}
}

func TestAPIRoutes(t *testing.T) {
	var fp fakePartitioner
	a, err := StartAPI(APIConfig{Addr: "127.0.0.1:0", TCP: NewPartitionAPI(PartitionAPIConfig{Partitioner: &fp}),
		Routes: map[string]http.Handler{"GET /healthz": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("alive")) })}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(context.Background()) })
	if code, body := call(t, "GET", a.URL()+"/healthz", ""); code != 200 || body != "alive" {
		t.Errorf("GET /healthz = %d %q, want the extra route", code, body)
	}
	if code, _ := call(t, "GET", a.URL()+"/proxies", ""); code != 200 {
		t.Errorf("GET /proxies = %d: the Toxiproxy-shaped API is no longer served", code)
	}
}
