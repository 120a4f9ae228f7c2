package stack_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"chaoslab/internal/results"
	"chaoslab/internal/stack"
	"chaoslab/internal/topology"
)

// call sends one request to the fault API (or a service) and returns the status and the body.
func call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// faultEvents returns the fault events recorded so far.
func faultEvents(events *results.EventLog) []results.Event {
	var out []results.Event
	for _, e := range events.Events() {
		if e.Kind == results.KindFault {
			out = append(out, e)
		}
	}
	return out
}

// tierURL is the base URL of the named tier.
func tierURL(t *testing.T, s *stack.Stack, name string) string {
	t.Helper()
	for _, tr := range s.Tiers {
		if tr.Name == name {
			return tr.URL
		}
	}
	t.Fatalf("no tier %s", name)
	return ""
}

// A partition at a named tier of chain-3 (--var fault_target=mid: the toxics of proxy mid) is
// recorded as that tier's fault (its detail names the proxy; the event has no tier, so that the
// report keeps it as the run's fault window) and cuts that hop only: edge loses mid, while mid
// and the tiers below keep serving.
func TestPartitionAtATierOfChain3(t *testing.T) {
	topo, err := topology.Load("chain-3")
	if err != nil {
		t.Fatal(err)
	}
	events := results.NewEventLog(nil)
	run := map[string]string{"ATTEMPT_TIMEOUT": "200ms", "REQUEST_TIMEOUT": "1s", "RETRY_MAX_RETRIES": "1", "RETRY_INITIAL_BACKOFF": "10ms", "RESILIENCE": "retry"}
	s, _, _ := startRecorded(t, stack.Config{ClientEnv: run, Events: events, Topology: topo})

	partitionHop(t, s.FaultURL, "mid")
	waitFor(t, "the fault on", func() bool { return len(faultEvents(events)) == 1 })
	on := faultEvents(events)[0]
	if on.Action != "on" || on.Name != "partition" || on.Tier != "" || !strings.HasPrefix(on.Message, "proxy mid: blackhole") {
		t.Errorf("fault event = %+v, want partition on, its detail naming proxy mid, no tier", on)
	}

	if st := getData(t, s.ClientURL, "9"); st == http.StatusOK {
		t.Errorf("edge answered 200 across the partitioned hop mid")
	}
	if st := getData(t, tierURL(t, s, "mid"), "10"); st != http.StatusOK {
		t.Errorf("mid, reached directly, answered %d: the tiers below the cut hop must keep serving", st)
	}
	waitFor(t, "the calls of requests 9 and 10", func() bool { // each tier's records come from its own log
		ten := attemptsOf(events, 10)
		return len(attemptsOf(events, 9)["edge"]) == 2 && len(ten["mid"]) == 1 && len(ten["client"]) == 1
	})
	for _, e := range attemptsOf(events, 9)["edge"] {
		if e.Outcome == results.OutcomeSuccess {
			t.Errorf("edge's call of request 9 succeeded across the cut: %+v", e)
		}
	}
	if got := attemptsOf(events, 9); len(got["mid"])+len(got["client"]) != 0 {
		t.Errorf("request 9 reached below the cut: %+v", got)
	}
	for _, tier := range []string{"mid", "client"} {
		if got := attemptsOf(events, 10)[tier]; len(got) != 1 || got[0].Outcome != results.OutcomeSuccess {
			t.Errorf("%s's calls of request 10 = %+v, want one success", tier, got)
		}
	}
	for _, stream := range []string{"downstream", "upstream"} {
		if code, body := call(t, "DELETE", s.FaultURL+"/proxies/mid/toxics/cut-"+stream, ""); code != http.StatusNoContent {
			t.Fatalf("heal %s: %d %s", stream, code, body)
		}
	}
	waitFor(t, "the fault off", func() bool { return len(faultEvents(events)) == 2 })
	if off := faultEvents(events)[1]; off.Action != "off" || !strings.Contains(off.Message, "proxy mid:") {
		t.Errorf("fault event = %+v, want the partition of proxy mid off", off)
	}
	if st := getData(t, s.ClientURL, "11"); st != http.StatusOK {
		t.Errorf("after the heal edge answered %d", st)
	}
}

// capacityTotals sums what the backend's capacity model did with every request, from a
// snapshot's metrics.
func capacityTotals(m map[string]float64) float64 {
	return m["backend_requests_completed_total"] + m["backend_requests_wasted_total"] + m["backend_requests_rejected_total"] +
		m["backend_requests_expired_total"] + m["backend_requests_in_service"] + m["backend_requests_queued"]
}

// dataRequests sums a service's own count of GET /api/data requests, every status.
func dataRequests(m map[string]float64) float64 {
	n := 0.0
	for k, v := range m {
		if strings.HasPrefix(k, "http_server_requests_seconds_count") && strings.Contains(k, `uri="GET /api/data"`) {
			n += v
		}
	}
	return n
}

// On the local stack the fault API knows the backend and the entry clients: a capacity fault
// changes the backend's capacity (a fault window), a load spike sends its requests to the entry
// tier, and each is counted as the services count them: the client's requests, the backend's
// capacity counters (in the snapshot).
func TestCapacityFaultAndSpikeOnTheStack(t *testing.T) {
	topo, err := topology.Load("single")
	if err != nil {
		t.Fatal(err)
	}
	events := results.NewEventLog(nil)
	s, _, _ := startRecorded(t, stack.Config{ClientEnv: map[string]string{"RESILIENCE": "off"}, Events: events, Topology: topo})

	if code, body := call(t, "POST", s.FaultURL+"/faults/capacity", `{"name":"drop","workers":1,"service_time_factor":3}`); code != http.StatusCreated {
		t.Fatalf("capacity fault = %d %s", code, body)
	}
	var c struct {
		Workers int     `json:"workers"`
		Factor  float64 `json:"factor"`
	}
	_, body := call(t, "GET", s.BackendURL+"/api/capacity", "")
	if err := json.Unmarshal([]byte(body), &c); err != nil || c.Workers != 1 || c.Factor != 3 {
		t.Errorf("the backend's capacity during the fault = %s", body)
	}
	if code, body := call(t, "DELETE", s.FaultURL+"/faults/capacity/drop", ""); code != http.StatusNoContent {
		t.Fatalf("remove = %d %s", code, body)
	}
	_, body = call(t, "GET", s.BackendURL+"/api/capacity", "")
	if err := json.Unmarshal([]byte(body), &c); err != nil || c.Workers != 4 || c.Factor != 1 {
		t.Errorf("the backend's capacity after the fault = %s, want single's 4 workers back", body)
	}

	if code, body := call(t, "POST", s.FaultURL+"/faults/spike", `{"name":"spike","rate":40,"duration_s":0.5}`); code != http.StatusCreated {
		t.Fatalf("spike = %d %s", code, body)
	}
	_, body = call(t, "GET", s.FaultURL+"/faults/spike/spike/wait", "")
	var spike struct {
		Sent, Answered int64
	}
	if err := json.Unmarshal([]byte(body), &spike); err != nil || spike.Sent < 20 || spike.Answered != spike.Sent {
		t.Fatalf("spike = %s: want its 20 or 21 requests sent and answered", body)
	}
	// A service counts a request once its handler has returned, which may be a moment after
	// its caller read the answer: wait for the counts to settle on the spike's.
	var client, backend map[string]float64
	counted := func() bool {
		snap := s.Snapshot(context.Background(), "after")
		client, backend = snap.Services["client"].Metrics, snap.Services[results.BackendService].Metrics
		return dataRequests(client) >= float64(spike.Sent) && capacityTotals(backend) >= float64(spike.Sent)
	}
	waitFor(t, "the services' counts of the spike", counted)
	if got := dataRequests(client); got != float64(spike.Sent) {
		t.Errorf("the entry tier counted %g requests, the spike sent %d", got, spike.Sent)
	}
	if got := capacityTotals(backend); got != float64(spike.Sent) {
		t.Errorf("the backend's capacity model saw %g requests (%v), the spike sent %d (RESILIENCE=off: one call each)", got, backend, spike.Sent)
	}

	var got []string
	for _, e := range faultEvents(events) {
		got = append(got, e.Action+" "+e.Name)
	}
	if want := "on capacity off capacity on load-spike off load-spike"; strings.Join(got, " ") != want {
		t.Errorf("fault events = %q, want %q", got, want)
	}
}
