package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"chaoslab/internal/fault"
	"chaoslab/internal/results"
	"chaoslab/internal/stack"
	"chaoslab/internal/topology"
)

// startChain3 starts chain-3 (edge -> mid -> client -> backend) with the retry profile at every
// tier: short timeouts, retries after a few ms, no breaker.
func startChain3(t *testing.T, retries int) (*stack.Stack, *results.EventLog) {
	t.Helper()
	topo, err := topology.Load("chain-3")
	if err != nil {
		t.Fatal(err)
	}
	events := results.NewEventLog(nil)
	run := map[string]string{"RESILIENCE": "retry", "ATTEMPT_TIMEOUT": "500ms", "REQUEST_TIMEOUT": "2s", "RETRY_MAX_RETRIES": fmt.Sprint(retries),
		"RETRY_INITIAL_BACKOFF": "5ms", "RETRY_MAX_BACKOFF": "10ms"}
	s, _, _ := startRecorded(t, stack.Config{ClientEnv: run, Events: events, Topology: topo})
	return s, events
}

// ownCounts is each service's own count of the GET /api/data requests it served, from its
// /metrics.
func ownCounts(t *testing.T, s *stack.Stack) map[string]float64 {
	t.Helper()
	snap := s.Snapshot(context.Background(), "now")
	out := map[string]float64{}
	for name, ss := range snap.Services {
		out[name] = dataRequests(ss.Metrics)
	}
	return out
}

// injectorStats reads a target's injector counters from the fault API.
func injectorStats(t *testing.T, s *stack.Stack, target string) fault.HTTPStats {
	t.Helper()
	code, body := call(t, "GET", s.FaultURL+"/faults/http?target="+target, "")
	var answer struct {
		Stats fault.HTTPStats `json:"stats"`
	}
	if err := json.Unmarshal([]byte(body), &answer); code != http.StatusOK || err != nil {
		t.Fatalf("GET /faults/http?target=%s = %d %s", target, code, body)
	}
	return answer.Stats
}

// HTTP errors at a named tier of chain-3 (the catalogue's http-errors with --var
// fault_target=mid) are made by the injector in front of mid: edge, mid's caller, sees them
// and retries; mid, the tiers below it and the backend see none of those requests, by their
// own counts; the injector's own counters match edge's attempt records; the fault window names
// the hop and has no tier; the backend's injector saw nothing.
func TestHTTPErrorsAtATierOfChain3(t *testing.T) {
	const retries, requests = 2, 4
	s, events := startChain3(t, retries)
	checkNames(t, "HTTP fault targets (the proxies)", s.Proxies(), "backend mid client")
	before := ownCounts(t, s)
	backendBefore := injectorStats(t, s, "backend")

	f := `{"name":"http-errors","target":"mid","abort":{"http_status":503,"percentage":{"numerator":100,"denominator":"HUNDRED"}}}`
	if code, body := call(t, "POST", s.FaultURL+"/faults/http", f); code != http.StatusCreated {
		t.Fatalf("POST /faults/http = %d %s", code, body)
	}
	waitFor(t, "the fault on", func() bool { return len(faultEvents(events)) == 1 })
	if on := faultEvents(events)[0]; on.Action != "on" || on.Name != fault.KindHTTPErrors || on.Tier != "" ||
		on.Message != "hop mid: HTTP 503 on 100% of requests (http fault http-errors)" {
		t.Errorf("fault event = %+v, want http-errors on, its detail naming hop mid, no tier", on)
	}

	for i := range requests {
		if st := getData(t, s.ClientURL, fmt.Sprint(100+i)); st == http.StatusOK {
			t.Errorf("request %d: edge answered 200 through a hop that aborts every call", 100+i)
		}
	}
	edgeCalls := 0
	waitFor(t, "edge's calls of every request", func() bool {
		edgeCalls = 0
		for i := range requests {
			edgeCalls += len(attemptsOf(events, uint64(100+i))["edge"])
		}
		return edgeCalls == requests*(1+retries)
	})
	for i := range requests {
		got := attemptsOf(events, uint64(100+i))
		for _, e := range got["edge"] {
			if e.Outcome != results.OutcomeFailure || !strings.Contains(e.Error, "503") {
				t.Errorf("edge's call of request %d = %+v, want a failure with the injected 503", 100+i, e)
			}
		}
		if len(got["mid"])+len(got["client"]) != 0 {
			t.Errorf("request %d made calls below edge: %+v", 100+i, got)
		}
	}
	if st := injectorStats(t, s, "mid"); st.Requests != int64(edgeCalls) || st.Aborted != int64(edgeCalls) || st.Forwarded != 0 {
		t.Errorf("mid's injector: %+v, want edge's %d calls, every one aborted", st, edgeCalls)
	}
	waitFor(t, "edge's own count of the requests", func() bool { return ownCounts(t, s)["edge"] >= before["edge"]+requests })
	after := ownCounts(t, s)
	for name, want := range map[string]float64{"edge": requests, "mid": 0, "client": 0, results.BackendService: 0} {
		if got := after[name] - before[name]; got != want {
			t.Errorf("%s counted %g requests of its own during the fault, want %g", name, got, want)
		}
	}
	if st := injectorStats(t, s, "backend"); st != backendBefore {
		t.Errorf("the backend's injector went from %+v to %+v during a fault at mid", backendBefore, st)
	}

	if code, body := call(t, "DELETE", s.FaultURL+"/faults/http/http-errors?target=mid", ""); code != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", code, body)
	}
	waitFor(t, "the fault off", func() bool { return len(faultEvents(events)) == 2 })
	if off := faultEvents(events)[1]; off.Action != "off" || !strings.Contains(off.Message, "hop mid: ") {
		t.Errorf("fault event = %+v, want the fault at hop mid off", off)
	}
	if st := getData(t, s.ClientURL, "200"); st != http.StatusOK {
		t.Errorf("after the fault edge answered %d", st)
	}
	waitFor(t, "a call of request 200 at every tier", func() bool { return len(attemptsOf(events, 200)) == 3 })
	// The same counters count it at every service: they would have seen the fault's requests.
	waitFor(t, "every service's own count of request 200", func() bool {
		now := ownCounts(t, s)
		for _, name := range []string{"edge", "mid", "client", results.BackendService} {
			if now[name] != after[name]+1 {
				return false
			}
		}
		return true
	})
}

// processStatus is one service of GET /processes.
type processStatus struct {
	Service  string `json:"service"`
	PID      int    `json:"pid"`
	Running  bool   `json:"running"`
	Restarts int    `json:"restarts"`
}

// processes reads GET /processes, by service.
func processes(t *testing.T, s *stack.Stack) map[string]processStatus {
	t.Helper()
	code, body := call(t, "GET", s.FaultURL+"/processes", "")
	var list []processStatus
	if err := json.Unmarshal([]byte(body), &list); code != http.StatusOK || err != nil {
		t.Fatalf("GET /processes = %d %s", code, body)
	}
	out := map[string]processStatus{}
	for _, p := range list {
		out[p.Service] = p
	}
	return out
}

// processEvents returns the process events recorded so far, as "action service".
func processEvents(events *results.EventLog) []string {
	var out []string
	for _, e := range events.Events() {
		if e.Kind == results.KindProcess {
			out = append(out, e.Action+" "+e.Service)
		}
	}
	return out
}

// A process fault at a named tier of chain-3 (the catalogue's backend-crash with --var
// fault_target=mid) kills that tier only: while it is down its caller's calls are refused at
// its hop's injector and the tiers below keep serving; the restart after the delay brings it
// back on its address with a new pid, the other services untouched. The entry tier is killed
// and started again the same way, and serves the load's way in again.
func TestCrashAtATierOfChain3(t *testing.T) {
	s, events := startChain3(t, 0)
	was := processes(t, s)
	checkNames(t, "Services()", s.Services(), "backend-service client mid edge")

	if code, body := call(t, "POST", s.FaultURL+"/processes/mid/kill", `{"signal":"SIGKILL"}`); code != http.StatusOK {
		t.Fatalf("kill mid = %d %s", code, body)
	}
	down := processes(t, s)
	for name, p := range down {
		if running := name != "mid"; p.Running != running || (running && p.PID != was[name].PID) {
			t.Errorf("after killing mid, %s = %+v (was %+v)", name, p, was[name])
		}
	}
	if st := getData(t, s.ClientURL, "300"); st == http.StatusOK {
		t.Error("edge answered 200 while mid was down")
	}
	if st := getData(t, tierURL(t, s, "client"), "301"); st != http.StatusOK {
		t.Errorf("client, below the killed mid, answered %d", st)
	}
	if st := injectorStats(t, s, "mid"); st.UpstreamRefused != 1 {
		t.Errorf("mid's injector: %+v, want edge's one call refused by the killed mid", st)
	}
	if on := faultEvents(events); len(on) != 1 || on[0].Name != fault.KindCrash || !strings.HasPrefix(on[0].Message, fmt.Sprintf("mid killed with SIGKILL (pid %d)", was["mid"].PID)) {
		t.Errorf("fault events = %+v, want mid's crash on", on)
	}

	if code, body := call(t, "POST", s.FaultURL+"/processes/mid/kill", `{"signal":"SIGKILL","restart_after":"50ms"}`); code != http.StatusConflict {
		t.Errorf("a second kill of mid = %d %s, want 409", code, body)
	}
	if code, body := call(t, "POST", s.FaultURL+"/processes/mid/start", ""); code != http.StatusOK || !strings.Contains(body, `"running":true`) {
		t.Fatalf("start mid = %d %s", code, body)
	}
	waitFor(t, "the crash off", func() bool { return len(faultEvents(events)) == 2 })
	back := processes(t, s)
	for name, p := range back {
		restarted := name == "mid"
		if !p.Running || (p.PID != was[name].PID) != restarted || p.Restarts != map[bool]int{true: 1}[restarted] {
			t.Errorf("after mid's restart, %s = %+v (was %+v)", name, p, was[name])
		}
	}
	if st := getData(t, s.ClientURL, "302"); st != http.StatusOK {
		t.Errorf("after mid's restart edge answered %d", st)
	}
	waitFor(t, "a call of request 302 at every tier", func() bool { return len(attemptsOf(events, 302)) == 3 })

	// The entry: killed, restarted by the fault API after its delay, on the address the load uses.
	if code, body := call(t, "POST", s.FaultURL+"/processes/edge/kill", `{"signal":"SIGTERM","restart_after":"50ms"}`); code != http.StatusOK {
		t.Fatalf("kill edge = %d %s", code, body)
	}
	waitFor(t, "edge's restart", func() bool { p := processes(t, s)["edge"]; return p.Running && p.Restarts == 1 })
	waitFor(t, "the crash of edge off", func() bool { return len(faultEvents(events)) == 4 })
	if st := getData(t, s.ClientURL, "303"); st != http.StatusOK {
		t.Errorf("after edge's restart the entry answered %d", st)
	}
	if got := strings.Join(processEvents(events), ", "); got != "kill mid, start mid, kill edge, start edge" {
		t.Errorf("process events = %s", got)
	}
	if p := processes(t, s); p["mid"].PID != back["mid"].PID || p[results.BackendService].PID != was[results.BackendService].PID {
		t.Errorf("killing edge touched mid or the backend: %+v", p)
	}
}
