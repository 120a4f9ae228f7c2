package fault

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeProcs is a ProcessControl over pretend processes.
type fakeProcs struct {
	mu       sync.Mutex
	running  map[string]bool
	pid      map[string]int
	restarts map[string]int
	signals  []syscall.Signal
	started  chan string // every Start that started something
}

func newFakeProcs() *fakeProcs {
	return &fakeProcs{running: map[string]bool{"backend-service": true, "client-service": true},
		pid: map[string]int{"backend-service": 100, "client-service": 200}, restarts: map[string]int{}, started: make(chan string, 10)}
}

func (f *fakeProcs) Services() []string { return []string{"backend-service", "client-service"} }

func (f *fakeProcs) Kill(_ context.Context, s string, sig syscall.Signal) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running[s] = false
	f.signals = append(f.signals, sig)
	return f.pid[s], nil
}

func (f *fakeProcs) Start(_ context.Context, s string) (int, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running[s] {
		return f.pid[s], false, nil
	}
	f.running[s] = true
	f.pid[s]++
	f.restarts[s]++
	f.started <- s
	return f.pid[s], true, nil
}

func (f *fakeProcs) Status(s string) ProcessStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return ProcessStatus{PID: f.pid[s], Running: f.running[s], Restarts: f.restarts[s]}
}

// startAPI starts the API over a partition fake and the given processes.
// processLog keeps the API's process events; they are reported from the goroutines that
// watch the processes, so a test reads them with list.
type processLog struct {
	mu     sync.Mutex
	events []ProcessEvent
}

func (l *processLog) add(e ProcessEvent) { l.mu.Lock(); l.events = append(l.events, e); l.mu.Unlock() }

func (l *processLog) list() []ProcessEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

func startAPI(t *testing.T, procs ProcessControl) (*API, *changes, *fakePartitioner, *processLog) {
	t.Helper()
	var ch changes
	var fp fakePartitioner
	events := &processLog{}
	a, err := StartAPI(APIConfig{Addr: "127.0.0.1:0", TCP: NewPartitionAPI(PartitionAPIConfig{Partitioner: &fp}), Processes: procs, OnChange: ch.add,
		OnProcess: events.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(context.Background()) })
	return a, &ch, &fp, events
}

func TestKillAndRestartAfterDelay(t *testing.T) {
	procs := newFakeProcs()
	a, ch, _, events := startAPI(t, procs)
	code, body := call(t, "POST", a.URL()+"/processes/backend/kill", `{"signal":"SIGKILL","restart_after":0.2}`)
	if code != 200 || !strings.Contains(body, `"running":false`) || !strings.Contains(body, "restart_at") {
		t.Fatalf("kill = %d %s", code, body)
	}
	if on, detail := a.Active(); !on || !strings.Contains(detail, "backend-service killed with SIGKILL (pid 100); restart after 200ms") {
		t.Errorf("Active() = %v %q", on, detail)
	}
	if code, body := call(t, "POST", a.URL()+"/processes/backend-service/kill", `{}`); code != 409 || !strings.Contains(body, "already down") {
		t.Errorf("second kill = %d %s, want 409", code, body)
	}
	select {
	case <-procs.started:
	case <-time.After(5 * time.Second):
		t.Fatal("the backend was not restarted after its delay")
	}
	eventually(t, func() bool { return len(ch.list()) == 2 })
	got := ch.list()
	if len(got) != 2 || got[0].Kind != KindCrash || !got[0].Active || got[1].Active || got[1].Time.Sub(got[0].Time) < 200*time.Millisecond {
		t.Errorf("changes = %+v, want crash on, then off at least 200ms later", got)
	}
	eventually(t, func() bool { return len(events.list()) == 2 })
	if evs := events.list(); len(evs) != 2 || evs[0].Action != "kill" || evs[1].Action != "start" || evs[1].PID != 101 || evs[1].Since < 200*time.Millisecond {
		t.Errorf("process events = %+v", evs)
	}
}

func TestKillWithoutRestartThenStart(t *testing.T) {
	procs := newFakeProcs()
	a, _, _, _ := startAPI(t, procs)
	if code, body := call(t, "POST", a.URL()+"/processes/client-service/kill", `{"signal":"SIGTERM"}`); code != 200 {
		t.Fatalf("kill = %d %s", code, body)
	}
	if left, detail := a.Leftover(); !left || !strings.Contains(detail, "no restart scheduled") {
		t.Errorf("Leftover() = %v %q", left, detail)
	}
	if code, body := call(t, "POST", a.URL()+"/processes/client-service/start", ""); code != 200 || !strings.Contains(body, `"running":true`) {
		t.Fatalf("start = %d %s", code, body)
	}
	if code, body := call(t, "POST", a.URL()+"/processes/client-service/start", ""); code != 200 || !strings.Contains(body, `"pid":201`) {
		t.Errorf("start again = %d %s, want the same process", code, body)
	}
	if left, detail := a.Leftover(); left {
		t.Errorf("Leftover() after start = %q", detail)
	}
	if procs.signals[0] != syscall.SIGTERM {
		t.Errorf("signal = %v, want SIGTERM", procs.signals[0])
	}
}

func TestProcessRequestsRefused(t *testing.T) {
	a, _, _, _ := startAPI(t, newFakeProcs())
	for _, tc := range []struct {
		name, url, body string
		code            int
		want            string
	}{
		{"unknown service", "/processes/db/kill", `{}`, 404, `use one of backend-service, client-service`},
		{"unknown signal", "/processes/backend/kill", `{"signal":"SIGFOO"}`, 400, "use one of SIGKILL"},
		{"unknown field", "/processes/backend/kill", `{"sig":"SIGKILL"}`, 400, "unknown field"},
		{"bad delay", "/processes/backend/kill", `{"restart_after":"soon"}`, 400, "restart_after"},
		{"negative delay", "/processes/backend/kill", `{"restart_after":-1}`, 400, "between 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, body := call(t, "POST", a.URL()+tc.url, tc.body); code != tc.code || !strings.Contains(body, tc.want) {
				t.Errorf("= %d %s, want %d with %q", code, body, tc.code, tc.want)
			}
		})
	}
}

func TestCloseCancelsScheduledRestart(t *testing.T) {
	procs := newFakeProcs()
	a, _, _, _ := startAPI(t, procs)
	if code, body := call(t, "POST", a.URL()+"/processes/backend/kill", `{"restart_after":"150ms"}`); code != 200 {
		t.Fatalf("kill = %d %s", code, body)
	}
	a.Close(context.Background())
	select {
	case s := <-procs.started:
		t.Fatalf("%s was started after Close", s)
	case <-time.After(400 * time.Millisecond): // well past the restart's due time
	}
}

func TestFlappingPartition(t *testing.T) {
	a, ch, fp, _ := startAPI(t, nil)
	code, body := call(t, "POST", a.URL()+"/faults/flapping", `{"name":"flap","on":"60ms","off":0.04,"cycles":3}`)
	if code != 201 {
		t.Fatalf("create = %d %s", code, body)
	}
	if code, body := call(t, "POST", a.URL()+"/faults/flapping", `{"name":"other","on":1,"off":1,"cycles":1}`); code != 409 {
		t.Errorf("second schedule = %d %s, want 409", code, body)
	}
	code, body = call(t, "GET", a.URL()+"/faults/flapping/flap/wait", "")
	var rec struct {
		Cycle int     `json:"cycle"`
		Ended *string `json:"ended"`
	}
	if err := json.Unmarshal([]byte(body), &rec); code != 200 || err != nil || rec.Cycle != 3 || rec.Ended == nil {
		t.Fatalf("wait = %d %s", code, body)
	}
	got := ch.list()
	if len(got) != 6 {
		t.Fatalf("changes = %+v, want 3 on/off pairs", got)
	}
	for i, c := range got {
		if c.Active != (i%2 == 0) || c.Kind != KindPartition {
			t.Errorf("change %d = %+v", i, c)
		}
		if i%2 == 1 && c.Time.Sub(got[i-1].Time) < 60*time.Millisecond {
			t.Errorf("cycle %d lasted %v, want >= 60ms", i/2+1, c.Time.Sub(got[i-1].Time))
		}
	}
	if !strings.Contains(got[2].Detail, "cycle 2 of 3") {
		t.Errorf("detail = %q, want the cycle", got[2].Detail)
	}
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if fp.parts != 3 || fp.heals < 3 {
		t.Errorf("partitions=%d heals=%d, want 3 and at least 3", fp.parts, fp.heals)
	}
}

func TestFlappingStoppedMidCycleHeals(t *testing.T) {
	a, ch, _, _ := startAPI(t, nil)
	if code, body := call(t, "POST", a.URL()+"/faults/flapping", `{"name":"flap","on":"10s","off":"1s","cycles":5}`); code != 201 {
		t.Fatalf("create = %d %s", code, body)
	}
	eventually(t, func() bool { on, _ := a.Active(); return on })
	if left, _ := a.Leftover(); !left {
		t.Error("a running schedule is not a leftover")
	}
	if code, body := call(t, "DELETE", a.URL()+"/faults/flapping/flap", ""); code != 204 {
		t.Fatalf("delete = %d %s", code, body)
	}
	if left, detail := a.Leftover(); left {
		t.Errorf("after DELETE Leftover() = %q", detail)
	}
	if got := ch.list(); len(got) != 2 || got[1].Active {
		t.Errorf("changes = %+v, want on then off", got)
	}
	for _, tc := range []struct{ body, want string }{
		{`{"name":"x","on":0,"off":1,"cycles":1}`, "must be above 0"},
		{`{"name":"x","on":1,"off":1,"cycles":0}`, "cycles 0"},
		{`{"name":"bad name","on":1,"off":1,"cycles":1}`, "letters, digits"},
		{`{"name":"x","on":1,"off":1,"cycles":1,"extra":1}`, "unknown field"},
	} {
		if code, body := call(t, "POST", a.URL()+"/faults/flapping", tc.body); code != 400 || !strings.Contains(body, tc.want) {
			t.Errorf("POST %s = %d %s, want 400 with %q", tc.body, code, body, tc.want)
		}
	}
}

// eventually polls cond until it holds, failing the test after 5 s.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var _ http.Handler = (*HTTPFaults)(nil)

// GET /faults says over HTTP what Leftover says in process: a runner that reaches the API from
// afar (the Kubernetes sidecar) checks with it that the rollbacks removed every fault.
func TestFaultsAnswerIsLeftover(t *testing.T) {
	procs := newFakeProcs()
	a, _, _, _ := startAPI(t, procs)
	if code, body := call(t, "GET", a.URL()+"/faults", ""); code != 200 || body != `{"leftover":false,"detail":""}`+"\n" {
		t.Errorf("GET /faults with no fault = %d %q", code, body)
	}
	if code, body := call(t, "POST", a.URL()+"/processes/client-service/kill", `{"signal":"SIGTERM"}`); code != 200 {
		t.Fatalf("kill = %d %s", code, body)
	}
	_, detail := a.Leftover()
	code, body := call(t, "GET", a.URL()+"/faults", "")
	if code != 200 || !strings.Contains(body, `"leftover":true`) || !strings.Contains(body, detail) || detail == "" {
		t.Errorf("GET /faults after a kill = %d %q, want leftover with %q", code, body, detail)
	}
}
