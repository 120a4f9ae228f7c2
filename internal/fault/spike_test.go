package fault

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"chaoslab/internal/results"
)

// spikeTarget stands in for an entry client: it counts what it received and answers in turn a
// backend answer, a fallback and a 503 (or, hanging, nothing until its caller gives up).
type spikeTarget struct {
	srv  *httptest.Server
	hang bool

	mu                            sync.Mutex
	received, withID              int
	backend, fallback, errs, gone int
}

func startSpikeTarget(t *testing.T, hang bool) *spikeTarget {
	t.Helper()
	st := &spikeTarget{hang: hang}
	st.srv = httptest.NewServer(http.HandlerFunc(st.serve))
	t.Cleanup(st.srv.Close)
	return st
}

func (st *spikeTarget) serve(w http.ResponseWriter, r *http.Request) {
	st.mu.Lock()
	st.received++
	n := st.received
	if r.Header.Get(results.RequestIDHeader) != "" || r.URL.Path != "/api/data" {
		st.withID++
	}
	st.mu.Unlock()
	if st.hang {
		<-r.Context().Done()
		st.mu.Lock()
		st.gone++
		st.mu.Unlock()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	st.mu.Lock()
	defer st.mu.Unlock()
	switch n % 3 {
	case 0:
		st.backend++
		io.WriteString(w, `{"source":"backend","attempts":1}`)
	case 1:
		st.fallback++
		io.WriteString(w, `{"source":"fallback","attempts":0}`)
	default:
		st.errs++
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"error":"no"}`)
	}
}

func (st *spikeTarget) counts() (received, withID, backend, fallback, errs, gone int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.received, st.withID, st.backend, st.fallback, st.errs, st.gone
}

// startSpikeAPI starts the fault API with the given entry clients.
func startSpikeAPI(t *testing.T, clients ...string) (*API, *changes) {
	t.Helper()
	var ch changes
	a, err := StartAPI(APIConfig{Addr: "127.0.0.1:0", TCP: NewPartitionAPI(PartitionAPIConfig{Partitioner: &fakePartitioner{}}),
		OnChange: ch.add, Clients: clients})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(context.Background()) })
	return a, &ch
}

type spikeAnswer struct {
	Sending      bool       `json:"sending"`
	SendingEnded *time.Time `json:"sending_ended"`
	Ended        *time.Time `json:"ended"`
	SpikeCounts
}

func decodeSpike(t *testing.T, body string) spikeAnswer {
	t.Helper()
	var s spikeAnswer
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return s
}

// A spike sends rate x duration requests on an open-loop schedule, without the lab's request
// id, and counts them as the target saw them: every request sent answered 200 (backend or
// fallback) or failed. Its fault window lasts as long as its sending.
func TestLoadSpike(t *testing.T) {
	target := startSpikeTarget(t, false)
	a, ch := startSpikeAPI(t, target.srv.URL)
	code, body := call(t, "POST", a.URL()+"/faults/spike", `{"name":"spike","rate":200,"duration_s":0.25}`)
	if code != 201 || !decodeSpike(t, body).Sending {
		t.Fatalf("POST = %d %s", code, body)
	}
	if on, detail := a.Active(); !on || !strings.Contains(detail, "load spike of 200 requests/s for 250ms to "+target.srv.URL+"/api/data (spike spike)") {
		t.Errorf("Active() = %t %q", on, detail)
	}
	code, body = call(t, "GET", a.URL()+"/faults/spike/spike/wait", "")
	got := decodeSpike(t, body)
	if code != 200 || got.Ended == nil || got.Sending || got.InFlight != 0 {
		t.Fatalf("wait = %d %s", code, body)
	}
	received, withID, backend, fallback, errs, _ := target.counts()
	if got.Sent != int64(received) || got.Answered != int64(backend+fallback) || got.Fallback != int64(fallback) || got.Failed != int64(errs) {
		t.Errorf("the spike counted %+v; the target received %d: %d backend, %d fallback, %d errors", got.SpikeCounts, received, backend, fallback, errs)
	}
	// 200/s for 250 ms: arrivals at 0, 5, ..., 245 ms (the one due at 250 ms may or may not go).
	if n := got.Sent + got.Dropped; n < 50 || n > 51 || got.Dropped != 0 {
		t.Errorf("%d arrivals (%d dropped), want 50 or 51, none dropped", n, got.Dropped)
	}
	if withID != 0 {
		t.Errorf("%d requests carried an X-Request-Id or went elsewhere than /api/data", withID)
	}
	changes := ch.list()
	if len(changes) != 2 || changes[0].Kind != KindSpike || !changes[0].Active || changes[1].Active {
		t.Fatalf("changes = %+v, want the spike on, then off", changes)
	}
	if d := changes[1].Time.Sub(changes[0].Time); d < 250*time.Millisecond || !changes[1].Time.Before(*got.Ended) && !changes[1].Time.Equal(*got.Ended) {
		t.Errorf("the fault window lasted %v (want at least the 250 ms of sending) and ended at %v, the spike at %v", d, changes[1].Time, *got.Ended)
	}
	if left, what := a.Leftover(); left {
		t.Errorf("after the spike: %s", what)
	}
	// An ended spike's name can be used again.
	if code, body := call(t, "POST", a.URL()+"/faults/spike", `{"name":"spike","rate":10,"duration_s":"100ms"}`); code != 201 {
		t.Errorf("a new spike of the same name = %d %s", code, body)
	}
}

// DELETE stops a spike at once and cuts its requests in flight, which count as failed; a
// sending spike, then its requests in flight, are leftovers until then.
func TestLoadSpikeStopped(t *testing.T) {
	target := startSpikeTarget(t, true)
	a, ch := startSpikeAPI(t, target.srv.URL)
	if code, body := call(t, "POST", a.URL()+"/faults/spike", `{"name":"long","rate":50,"duration_s":60,"timeout_s":30}`); code != 201 {
		t.Fatalf("POST = %d %s", code, body)
	}
	eventually(t, func() bool { n, _, _, _, _, _ := target.counts(); return n >= 5 })
	if left, what := a.Leftover(); !left || !strings.Contains(what, "load spike long is sending") {
		t.Errorf("Leftover() = %t %q", left, what)
	}
	if code, body := call(t, "POST", a.URL()+"/faults/spike", `{"name":"other","rate":1,"duration_s":1}`); code != 409 || !strings.Contains(body, "DELETE /faults/spike/long") {
		t.Errorf("a second spike = %d %s, want 409", code, body)
	}
	started := time.Now()
	if code, body := call(t, "DELETE", a.URL()+"/faults/spike/long", ""); code != 204 {
		t.Fatalf("DELETE = %d %s", code, body)
	}
	if d := time.Since(started); d > 5*time.Second {
		t.Errorf("DELETE took %v: the requests in flight were not cut", d)
	}
	_, body := call(t, "GET", a.URL()+"/faults/spike/long", "")
	got := decodeSpike(t, body)
	eventually(t, func() bool { _, _, _, _, _, gone := target.counts(); return gone == int(got.Sent) })
	received, _, _, _, _, _ := target.counts()
	if got.Sent != int64(received) || got.Failed != got.Sent || got.InFlight != 0 || got.Ended == nil {
		t.Errorf("after DELETE %+v; the target received %d, every one cut", got, received)
	}
	if left, what := a.Leftover(); left {
		t.Errorf("after DELETE: %s", what)
	}
	if c := ch.list(); len(c) != 2 || c[1].Active {
		t.Errorf("changes = %+v, want on, then off", c)
	}
}

// Once a spike has sent its last request, its fault window ends, but its requests in flight
// remain a leftover until they end (within the spike's timeout).
func TestLoadSpikeInFlightAfterSending(t *testing.T) {
	target := startSpikeTarget(t, true)
	a, ch := startSpikeAPI(t, target.srv.URL)
	if code, body := call(t, "POST", a.URL()+"/faults/spike", `{"name":"short","rate":100,"duration_s":0.05,"timeout_s":0.5}`); code != 201 {
		t.Fatalf("POST = %d %s", code, body)
	}
	eventually(t, func() bool { return len(ch.list()) == 2 })
	if on, _ := a.Active(); on {
		t.Error("the fault window did not end with the sending")
	}
	left, what := a.Leftover()
	_, body := call(t, "GET", a.URL()+"/faults/spike/short/wait", "")
	got := decodeSpike(t, body)
	if !left || !strings.Contains(what, "load spike short has") || !strings.Contains(what, "requests in flight") {
		t.Errorf("Leftover() with requests in flight = %t %q", left, what)
	}
	if got.Failed != got.Sent || got.Sent == 0 || got.Ended.Sub(*got.SendingEnded) < 400*time.Millisecond {
		t.Errorf("after the wait %+v: want every request failed by its 500 ms timeout, after the sending ended", got)
	}
}

// POST /reset and Close stop a spike; nothing starts after Close.
func TestLoadSpikeResetAndClose(t *testing.T) {
	target := startSpikeTarget(t, true)
	a, _ := startSpikeAPI(t, target.srv.URL)
	if code, body := call(t, "POST", a.URL()+"/faults/spike", `{"name":"s","rate":20,"duration_s":60}`); code != 201 {
		t.Fatalf("POST = %d %s", code, body)
	}
	if code, body := call(t, "POST", a.URL()+"/reset", ""); code != 204 {
		t.Fatalf("reset = %d %s", code, body)
	}
	if left, what := a.Leftover(); left {
		t.Errorf("after reset: %s", what)
	}
	if code, body := call(t, "POST", a.URL()+"/faults/spike", `{"name":"s","rate":20,"duration_s":60}`); code != 201 {
		t.Fatalf("POST after reset = %d %s", code, body)
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if left, what := a.Leftover(); left {
		t.Errorf("after Close: %s", what)
	}
	n, _, _, _, _, _ := target.counts()
	if err := a.spike.startForTest(); err == nil {
		t.Error("a spike started after Close")
	}
	if m, _, _, _, _, _ := target.counts(); m != n {
		t.Errorf("%d requests arrived after Close", m-n)
	}
}

// startForTest starts a spike the way POST does, past the HTTP server that Close stopped.
func (s *spikes) startForTest() error {
	j, err := spikeRequest{Name: "late", Rate: 10, Duration: json.RawMessage("1")}.job([]string{"http://127.0.0.1:1"})
	if err != nil {
		return err
	}
	_, err = s.start(j)
	return err
}

// Bad spikes are refused with a JSON error naming the mistake, and start nothing.
func TestLoadSpikeRefused(t *testing.T) {
	target := startSpikeTarget(t, false)
	tests := []struct {
		name, body string
		clients    []string
		code       int
		want       string
	}{
		{"no client", `{"name":"s","rate":10,"duration_s":1}`, nil, 501, "knows no client"},
		{"no name", `{"rate":10,"duration_s":1}`, []string{target.srv.URL}, 400, `name ""`},
		{"no rate", `{"name":"s","duration_s":1}`, []string{target.srv.URL}, 400, "rate 0"},
		{"rate too high", `{"name":"s","rate":1e9,"duration_s":1}`, []string{target.srv.URL}, 400, "at most 2000"},
		{"no duration", `{"name":"s","rate":10}`, []string{target.srv.URL}, 400, "duration_s 0s"},
		{"duration too long", `{"name":"s","rate":10,"duration_s":"1h"}`, []string{target.srv.URL}, 400, "at most 10m0s"},
		{"bad duration", `{"name":"s","rate":10,"duration_s":"soon"}`, []string{target.srv.URL}, 400, "duration_s"},
		{"bad timeout", `{"name":"s","rate":10,"duration_s":1,"timeout_s":0}`, []string{target.srv.URL}, 400, "timeout_s 0s"},
		{"unknown field", `{"name":"s","rate":10,"duration_s":1,"rps":3}`, []string{target.srv.URL}, 400, "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ch := startSpikeAPI(t, tt.clients...)
			code, body := call(t, "POST", a.URL()+"/faults/spike", tt.body)
			var e struct {
				Error  string `json:"error"`
				Status int    `json:"status"`
			}
			if code != tt.code || json.Unmarshal([]byte(body), &e) != nil || e.Status != code || !strings.Contains(e.Error, tt.want) {
				t.Errorf("POST %s = %d %s, want %d with %q", tt.body, code, body, tt.code, tt.want)
			}
			if left, what := a.Leftover(); left || len(ch.list()) != 0 {
				t.Errorf("a refused spike left %s", what)
			}
		})
	}
	if n, _, _, _, _, _ := target.counts(); n != 0 {
		t.Errorf("refused spikes sent %d requests", n)
	}
}

// SetClients gives the API its clients after it started (the local stack starts them later);
// with two, the rate is split between them.
func TestLoadSpikeSetClients(t *testing.T) {
	one, two := startSpikeTarget(t, false), startSpikeTarget(t, false)
	a, _ := startSpikeAPI(t)
	a.SetClients(one.srv.URL, two.srv.URL+"/")
	if code, body := call(t, "POST", a.URL()+"/faults/spike", `{"name":"s","rate":100,"duration_s":0.2}`); code != 201 {
		t.Fatalf("POST = %d %s", code, body)
	}
	_, body := call(t, "GET", a.URL()+"/faults/spike/s/wait", "")
	got := decodeSpike(t, body)
	n1, id1, _, _, _, _ := one.counts()
	n2, id2, _, _, _, _ := two.counts()
	if n1 < 10 || n1 > 11 || n2 < 10 || n2 > 11 || got.Sent != int64(n1+n2) || id1+id2 != 0 {
		t.Errorf("the targets received %d and %d (%d off the path or with an id), the spike sent %d: want about 10 each", n1, n2, id1+id2, got.Sent)
	}
}
