package fault

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// hopLab is a fault API with two L7 injectors, each in front of its own counting upstream: the
// backend's (APIConfig.HTTP) and tier mid's (AddHTTPHop), and a server for each data path.
type hopLab struct {
	api              *API
	ch               *changes
	backend, mid     *countingUpstream
	toBackend, toMid string // the data paths' URLs: through each injector
}

func startHopLab(t *testing.T) *hopLab {
	t.Helper()
	l := &hopLab{ch: &changes{}, backend: startUpstream(t), mid: startUpstream(t)}
	injector := func(up *countingUpstream, seed uint64) (*HTTPFaults, string) {
		h := NewHTTPFaults(HTTPFaultsConfig{Upstream: up.addr(), Rand: rand.New(rand.NewPCG(seed, seed))})
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return h, srv.URL
	}
	backend, toBackend := injector(l.backend, 1)
	mid, toMid := injector(l.mid, 2)
	a, err := StartAPI(APIConfig{Addr: "127.0.0.1:0", TCP: NewPartitionAPI(PartitionAPIConfig{Partitioner: &fakePartitioner{}}), HTTP: backend, OnChange: l.ch.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(context.Background()) })
	if err := a.AddHTTPHop("mid", mid); err != nil {
		t.Fatal(err)
	}
	l.api, l.toBackend, l.toMid = a, toBackend, toMid
	return l
}

// statuses sends n requests along a data path and counts the answers by status.
func statuses(t *testing.T, url string, n int) map[int]int {
	t.Helper()
	got := map[int]int{}
	for range n {
		resp, _ := send(t, http.DefaultClient, url+"/")
		got[resp.StatusCode]++
	}
	return got
}

// hopStats reads a target's injector counters through GET /faults/http?target=.
func hopStats(t *testing.T, l *hopLab, query string) (HTTPStats, []httpFault) {
	t.Helper()
	code, body := call(t, "GET", l.api.URL()+"/faults/http"+query, "")
	var answer struct {
		Faults []httpFault `json:"faults"`
		Stats  HTTPStats   `json:"stats"`
	}
	if err := json.Unmarshal([]byte(body), &answer); code != http.StatusOK || err != nil {
		t.Fatalf("GET /faults/http%s = %d %s (%v)", query, code, body, err)
	}
	return answer.Stats, answer.Faults
}

// A target that no injector fronts is refused on every route, with the targets there are; a
// target is added once, and only to an API that has HTTP faults.
func TestHTTPFaultUnknownTarget(t *testing.T) {
	l := startHopLab(t)
	const known = `an HTTP fault goes in front of one of backend, mid`
	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/faults/http", `{"name":"e","target":"edge","abort":{"http_status":503,"percentage":{"numerator":100}}}`, http.StatusBadRequest},
		{"GET", "/faults/http?target=edge", "", http.StatusNotFound},
		{"DELETE", "/faults/http/e?target=edge", "", http.StatusNotFound},
		{"DELETE", "/faults/http?target=edge", "", http.StatusNotFound},
	} {
		code, body := call(t, tc.method, l.api.URL()+tc.path, tc.body)
		if code != tc.status || !strings.Contains(body, `unknown target \"edge\": `+known) {
			t.Errorf("%s %s = %d %s, want %d naming the known targets", tc.method, tc.path, code, body, tc.status)
		}
	}
	if on, detail := l.api.Active(); on {
		t.Errorf("a refused fault is in effect: %s", detail)
	}
	if err := l.api.AddHTTPHop("mid", NewHTTPFaults(HTTPFaultsConfig{Upstream: l.mid.addr()})); err == nil || !strings.Contains(err.Error(), "already") {
		t.Errorf("a second target mid: err = %v", err)
	}
	if err := l.api.AddHTTPHop(ProxyName, NewHTTPFaults(HTTPFaultsConfig{Upstream: l.mid.addr()})); err == nil {
		t.Error("a second target backend was added")
	}
	noHTTP, _, _, _ := startAPI(t, nil)
	if err := noHTTP.AddHTTPHop("mid", NewHTTPFaults(HTTPFaultsConfig{Upstream: l.mid.addr()})); err == nil || !strings.Contains(err.Error(), "no L7 injector") {
		t.Errorf("a target on an API without HTTP faults: err = %v", err)
	}
}

// Two targets, each with its own fault (the same name at both): each injector answers with its
// own fault only, counted by its own counters and by what its upstream received; the faults in
// effect and the fault events name the tier's hop (the backend's as before); removing one target's fault leaves the
// other's; DELETE /faults/http?target= clears one target, Reset clears them all.
func TestHTTPFaultsAtTwoHops(t *testing.T) {
	l := startHopLab(t)
	const n = 20
	for _, tc := range []struct{ target, status string }{{`,"target":"mid"`, "502"}, {"", "503"}} {
		f := `{"name":"http-errors"` + tc.target + `,"abort":{"http_status":` + tc.status + `,"percentage":{"numerator":100}}}`
		if code, body := call(t, "POST", l.api.URL()+"/faults/http", f); code != http.StatusCreated {
			t.Fatalf("POST %s = %d %s", f, code, body)
		}
	}
	if code, body := call(t, "POST", l.api.URL()+"/faults/http", `{"name":"http-errors","target":"mid","abort":{"http_status":500}}`); code != http.StatusConflict ||
		!strings.Contains(body, "http-errors at target mid (remove it first with DELETE /faults/http/http-errors?target=mid)") {
		t.Errorf("the same name twice at mid = %d %s, want 409", code, body)
	}
	if got := statuses(t, l.toBackend, n); got[503] != n {
		t.Errorf("through the backend's injector: %v, want %d × 503", got, n)
	}
	if got := statuses(t, l.toMid, n); got[502] != n {
		t.Errorf("through mid's injector: %v, want %d × 502", got, n)
	}
	if l.backend.n.Load() != 0 || l.mid.n.Load() != 0 {
		t.Errorf("upstreams received %d (backend) and %d (mid) requests; every one was aborted", l.backend.n.Load(), l.mid.n.Load())
	}
	for _, q := range []string{"", "?target=backend", "?target=mid"} {
		st, faults := hopStats(t, l, q)
		if st.Requests != n || st.Aborted != n || st.Forwarded != 0 || len(faults) != 1 {
			t.Errorf("GET /faults/http%s: stats %+v, faults %+v; want its own %d requests, all aborted, one fault", q, st, faults, n)
		}
	}
	if _, faults := hopStats(t, l, "?target=mid"); faults[0].Target != "mid" || faults[0].Abort.HTTPStatus != 502 {
		t.Errorf("mid's fault = %+v", faults[0])
	}

	if got := l.ch.list(); len(got) != 1 || !got[0].Active || got[0].Kind != KindHTTPErrors || got[0].Detail != "hop mid: HTTP 502 on 100% of requests (http fault http-errors)" {
		t.Errorf("changes = %+v, want one on, made by mid's fault and naming its hop", got)
	}
	want := "HTTP 503 on 100% of requests (http fault http-errors); hop mid: HTTP 502 on 100% of requests (http fault http-errors)"
	if on, detail := l.api.Active(); !on || detail != want {
		t.Errorf("Active() = %t %q, want %q", on, detail, want)
	}

	if code, body := call(t, "DELETE", l.api.URL()+"/faults/http/http-errors?target=mid", ""); code != http.StatusNoContent {
		t.Fatalf("DELETE mid's = %d %s", code, body)
	}
	if code, body := call(t, "DELETE", l.api.URL()+"/faults/http/http-errors?target=mid", ""); code != http.StatusNotFound || !strings.Contains(body, "http fault not found: http-errors at target mid") {
		t.Errorf("DELETE mid's again = %d %s, want 404", code, body)
	}
	if got := statuses(t, l.toMid, n); got[200] != n || l.mid.n.Load() != n {
		t.Errorf("through mid after its fault went: %v, upstream got %d; want %d × 200", got, l.mid.n.Load(), n)
	}
	if got := statuses(t, l.toBackend, 1); got[503] != 1 {
		t.Errorf("the backend's fault went with mid's: %v", got)
	}

	if code, body := call(t, "POST", l.api.URL()+"/faults/http", `{"name":"slow","target":"mid","delay":{"fixed_delay":"1ms","percentage":{"numerator":100}}}`); code != http.StatusCreated {
		t.Fatalf("POST mid's delay = %d %s", code, body)
	}
	if code, body := call(t, "DELETE", l.api.URL()+"/faults/http?target=mid", ""); code != http.StatusNoContent {
		t.Fatalf("DELETE every fault at mid = %d %s", code, body)
	}
	if on, detail := l.api.Active(); !on || strings.Contains(detail, "mid") {
		t.Errorf("after clearing mid: Active() = %t %q, want the backend's fault only", on, detail)
	}
	if code, body := call(t, "POST", l.api.URL()+"/faults/http", `{"name":"again","target":"mid","abort":{"http_status":500,"percentage":{"numerator":100}}}`); code != http.StatusCreated {
		t.Fatalf("POST mid's again = %d %s", code, body)
	}
	if err := l.api.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	if on, detail := l.api.Active(); on {
		t.Errorf("after Reset: %s", detail)
	}
	if b, m := statuses(t, l.toBackend, 1), statuses(t, l.toMid, 1); b[200] != 1 || m[200] != 1 {
		t.Errorf("after Reset: backend %v, mid %v; want 200 at both", b, m)
	}
	if got := l.ch.list(); len(got) != 2 || got[1].Active || !strings.Contains(got[1].Detail, "hop mid: HTTP 500") {
		t.Errorf("changes = %+v, want on, then off naming what was removed", got)
	}
}

// DELETE /faults/http without a target removes the faults at every target, as it removed every
// fault when there was one injector.
func TestHTTPFaultDeleteAllTargets(t *testing.T) {
	l := startHopLab(t)
	for _, f := range []string{`{"name":"a","abort":{"http_status":503}}`, `{"name":"b","target":"mid","abort":{"http_status":503}}`} {
		if code, body := call(t, "POST", l.api.URL()+"/faults/http", f); code != http.StatusCreated {
			t.Fatalf("POST %s = %d %s", f, code, body)
		}
	}
	if code, body := call(t, "DELETE", l.api.URL()+"/faults/http", ""); code != http.StatusNoContent {
		t.Fatalf("DELETE = %d %s", code, body)
	}
	if on, detail := l.api.Active(); on {
		t.Errorf("after DELETE /faults/http: %s", detail)
	}
}
