package fault

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingUpstream is a backend that answers "ok" (and echoes X-Request-Id) and counts the
// requests it received; safe for concurrent use.
type countingUpstream struct {
	n   atomic.Int64
	srv *httptest.Server
}

func startUpstream(t *testing.T) *countingUpstream {
	t.Helper()
	u := &countingUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.n.Add(1)
		w.Header().Set("X-Seen-Request-Id", r.Header.Get("X-Request-Id"))
		io.WriteString(w, "ok")
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *countingUpstream) addr() string { return strings.TrimPrefix(u.srv.URL, "http://") }

// injectorLab is an injector in front of an upstream, its fault API on a mux, and a server for
// its data path.
type injectorLab struct {
	h       *HTTPFaults
	api     *http.ServeMux
	up      *countingUpstream
	through string // the data path's URL
}

func startInjector(t *testing.T, upstream string) *injectorLab {
	t.Helper()
	h := NewHTTPFaults(HTTPFaultsConfig{Upstream: upstream, Rand: rand.New(rand.NewPCG(1, 2))})
	mux := http.NewServeMux()
	newHTTPHops(h).register(mux)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &injectorLab{h: h, api: mux, through: srv.URL}
}

func startLab(t *testing.T) *injectorLab {
	t.Helper()
	up := startUpstream(t)
	l := startInjector(t, up.addr())
	l.up = up
	return l
}

// apiCall sends one request to the fault API and returns the status and body.
func (l *injectorLab) apiCall(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	l.api.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	return rec.Code, rec.Body.String()
}

func (l *injectorLab) addFault(t *testing.T, body string) {
	t.Helper()
	if code, got := l.apiCall(t, http.MethodPost, "/faults/http", body); code != http.StatusCreated {
		t.Fatalf("POST /faults/http %s: %d %s", body, code, got)
	}
}

// send makes one request through the injector and returns its answer, body read.
func send(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp, string(b)
}

// serveN sends n requests straight to the injector's ServeHTTP and counts the aborted ones.
func serveN(h *HTTPFaults, n int) (aborted int) {
	for range n {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		if rec.Header().Get("X-Chaoslab-Fault") != "" {
			aborted++
		}
	}
	return aborted
}

func TestHTTPFaultAbortShareConverges(t *testing.T) {
	l := startLab(t)
	l.addFault(t, `{"name":"http-errors","abort":{"http_status":503,"percentage":{"numerator":30,"denominator":"HUNDRED"}}}`)
	const n = 4000
	c := &http.Client{}
	got503 := 0
	for range n {
		resp, body := send(t, c, l.through+"/")
		switch {
		case resp.StatusCode == http.StatusServiceUnavailable && body == "fault filter abort":
			got503++
		case resp.StatusCode != http.StatusOK || body != "ok":
			t.Fatalf("got %d %q, want 503 (abort) or 200 ok", resp.StatusCode, body)
		}
	}
	if share := float64(got503) / n; share < 0.27 || share > 0.33 {
		t.Errorf("aborted share %.3f, want 0.27..0.33", share)
	}
	s := l.h.Stats()
	if s.Requests != n || s.Aborted != int64(got503) {
		t.Errorf("stats %+v: want requests %d and aborted %d (the 503s received)", s, n, got503)
	}
	if up := l.up.n.Load(); up != s.Requests-s.Aborted || s.Forwarded != up {
		t.Errorf("upstream saw %d requests, stats %+v: want requests-aborted = forwarded = upstream's count", up, s)
	}
}

func TestHTTPFaultDelay(t *testing.T) {
	const delay = 150 * time.Millisecond
	for _, tc := range []struct {
		name      string
		numerator int
		delayed   bool
	}{
		{"every request", 100, true},
		{"no request", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := startLab(t)
			l.addFault(t, `{"name":"slow","delay":{"fixed_delay":"150ms","percentage":{"numerator":`+itoa(tc.numerator)+`}}}`)
			const n = 4
			c := &http.Client{}
			for range n {
				start := time.Now()
				resp, body := send(t, c, l.through+"/")
				took := time.Since(start)
				if resp.StatusCode != http.StatusOK || body != "ok" {
					t.Fatalf("got %d %q, want the upstream's 200 ok", resp.StatusCode, body)
				}
				if tc.delayed && took < delay {
					t.Errorf("answer took %v, want at least %v", took, delay)
				}
			}
			want := int64(0)
			if tc.delayed {
				want = n
			}
			if s := l.h.Stats(); s.Delayed != want || s.Forwarded != n {
				t.Errorf("stats %+v: want delayed %d, forwarded %d", s, want, n)
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestHTTPFaultDenominators(t *testing.T) {
	for _, tc := range []struct {
		name, percentage string
		lo, hi           float64 // bounds of the aborted share
		percent          string  // as Injected shows it
	}{
		{"ten thousand, all", `{"numerator":10000,"denominator":"TEN_THOUSAND"}`, 1, 1, "100%"},
		{"ten thousand, a quarter", `{"numerator":2500,"denominator":"TEN_THOUSAND"}`, 0.21, 0.29, "25%"},
		{"ten thousand, 0.05%", `{"numerator":5,"denominator":"TEN_THOUSAND"}`, 0, 0.01, "0.05%"},
		{"million, half", `{"numerator":500000,"denominator":"MILLION"}`, 0.45, 0.55, "50%"},
		{"million, none", `{"numerator":0,"denominator":"MILLION"}`, 0, 0, "0%"},
		{"million by enum number", `{"numerator":1,"denominator":2}`, 0, 0.01, "0.0001%"},
		{"hundred is the default", `{"numerator":100}`, 1, 1, "100%"},
		{"above hundred is capped", `{"numerator":250,"denominator":"HUNDRED"}`, 1, 1, "100%"},
		{"above a million is capped", `{"numerator":2000000,"denominator":"MILLION"}`, 1, 1, "100%"},
		{"missing percentage is 0%, like Envoy", ``, 0, 0, "0%"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := startLab(t)
			pct := ""
			if tc.percentage != "" {
				pct = `,"percentage":` + tc.percentage
			}
			l.addFault(t, `{"name":"e","abort":{"http_status":500`+pct+`}}`)
			const n = 1000
			share := float64(serveN(l.h, n)) / n
			if share < tc.lo || share > tc.hi {
				t.Errorf("aborted share %.3f, want %.2f..%.2f", share, tc.lo, tc.hi)
			}
			want := "HTTP 500 on " + tc.percent + " of requests (http fault e)"
			if in := l.h.Injected(); len(in) != 1 || in[0].Detail != want {
				t.Errorf("Injected() = %+v, want detail %q", in, want)
			}
		})
	}
}

func TestHTTPFaultRemovalIsImmediate(t *testing.T) {
	l := startLab(t)
	l.addFault(t, `{"name":"down","abort":{"http_status":503,"percentage":{"numerator":100}}}`)
	c := &http.Client{}
	if resp, _ := send(t, c, l.through+"/"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("with the fault: %d, want 503", resp.StatusCode)
	}
	if code, body := l.apiCall(t, http.MethodDelete, "/faults/http/down", ""); code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s, want 204", code, body)
	}
	if resp, body := send(t, c, l.through+"/"); resp.StatusCode != http.StatusOK || body != "ok" {
		t.Errorf("right after DELETE: %d %q, want the upstream's 200 ok", resp.StatusCode, body)
	}
	if in := l.h.Injected(); len(in) != 0 {
		t.Errorf("Injected() = %+v, want none", in)
	}
	code, body := l.apiCall(t, http.MethodDelete, "/faults/http/down", "")
	if code != http.StatusNotFound || !strings.Contains(body, `"error":"http fault not found: down"`) {
		t.Errorf("DELETE again: %d %s, want 404 http fault not found: down", code, body)
	}
}

func TestHTTPFaultDeleteAllAndList(t *testing.T) {
	l := startLab(t)
	l.addFault(t, `{"name":"b","delay":{"fixed_delay":"1.5s"}}`)
	l.addFault(t, `{"name":"a","abort":{"http_status":"418","percentage":{"numerator":"100"}}}`)
	serveN(l.h, 1)
	code, body := l.apiCall(t, http.MethodGet, "/faults/http", "")
	var list struct {
		Faults []httpFault `json:"faults"`
		Stats  HTTPStats   `json:"stats"`
	}
	if err := json.Unmarshal([]byte(body), &list); code != http.StatusOK || err != nil {
		t.Fatalf("GET: %d %s (%v)", code, body, err)
	}
	if len(list.Faults) != 2 || list.Faults[0].Name != "b" || list.Faults[1].Name != "a" {
		t.Errorf("faults %+v, want b then a (creation order)", list.Faults)
	}
	if list.Stats != (HTTPStats{Requests: 1, Aborted: 1}) {
		t.Errorf("stats %+v, want 1 request, 1 aborted", list.Stats)
	}
	for range 2 { // idempotent
		if code, body := l.apiCall(t, http.MethodDelete, "/faults/http", ""); code != http.StatusNoContent {
			t.Fatalf("DELETE all: %d %s", code, body)
		}
	}
	if _, body := l.apiCall(t, http.MethodGet, "/faults/http", ""); !strings.Contains(body, `"faults":[]`) {
		t.Errorf("after DELETE all: %s, want no faults", body)
	}
}

func TestHTTPFaultCreateNormalises(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"numbers as strings", `{"name":"s","abort":{"http_status":"503","percentage":{"numerator":"30"}}}`,
			`{"name":"s","abort":{"http_status":503,"percentage":{"numerator":30,"denominator":"HUNDRED"}}}`},
		{"integer-valued floats", `{"name":"f","abort":{"http_status":503.0,"percentage":{"numerator":3e1,"denominator":"MILLION"}}}`,
			`{"name":"f","abort":{"http_status":503,"percentage":{"numerator":30,"denominator":"MILLION"}}}`},
		{"protobuf duration", `{"name":"d","delay":{"fixed_delay":"1.500s","percentage":{"numerator":100}}}`,
			`{"name":"d","delay":{"fixed_delay":"1.5s","percentage":{"numerator":100,"denominator":"HUNDRED"}}}`},
		{"nulls are absent", `{"name":"n","abort":null,"delay":{"fixed_delay":"300ms","percentage":null}}`,
			`{"name":"n","delay":{"fixed_delay":"300ms","percentage":{"numerator":0,"denominator":"HUNDRED"}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := startLab(t)
			code, body := l.apiCall(t, http.MethodPost, "/faults/http", tc.body)
			if code != http.StatusCreated || strings.TrimSpace(body) != tc.want {
				t.Errorf("got %d %s\nwant 201 %s", code, body, tc.want)
			}
		})
	}
}

func TestHTTPFaultBadRequests(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"not JSON", `{"name":`, "the request body is not valid JSON"},
		{"empty", ``, "the request body is empty"},
		{"not an object", `[1]`, "the request body must be a JSON object"},
		{"trailing data", `{"name":"x","delay":{"fixed_delay":"1s"}} {}`, "not valid JSON"},
		{"unknown field", `{"name":"x","abort":{"http_status":503},"colour":"red"}`, `unknown field "colour": a fault allows name, target, abort, delay`},
		{"unknown nested field", `{"name":"x","abort":{"http_status":503,"percentage":{"numerator":1,"per":2}}}`, `unknown field "abort.percentage.per"`},
		{"unsupported Envoy field", `{"name":"x","abort":{"http_status":503},"headers":[]}`, "headers is not supported: a fault applies to every request"},
		{"missing name", `{"abort":{"http_status":503}}`, "name is required"},
		{"bad name", `{"name":"a b","abort":{"http_status":503}}`, `name must be 1 to 64 characters from A-Z a-z 0-9 _ . -, got "a b"`},
		{"long name", `{"name":"` + strings.Repeat("n", 65) + `","abort":{"http_status":503}}`, "name must be 1 to 64 characters"},
		{"name not a string", `{"name":7,"abort":{"http_status":503}}`, "name must be 1 to 64 characters"},
		{"neither abort nor delay", `{"name":"x"}`, "a fault needs abort or delay (or both)"},
		{"target not a string", `{"name":"x","target":7,"abort":{"http_status":503}}`, "target must name the node whose injector makes the fault (backend, or a tier of a topology), got 7"},
		{"empty target", `{"name":"x","target":"","abort":{"http_status":503}}`, `target must name the node whose injector makes the fault (backend, or a tier of a topology), got ""`},
		{"unknown target", `{"name":"x","target":"mid","abort":{"http_status":503}}`, `unknown target "mid": an HTTP fault goes in front of one of backend (the nodes an L7 injector fronts on this stack)`},
		{"abort not an object", `{"name":"x","abort":503}`, "abort must be a JSON object, got 503"},
		{"missing http_status", `{"name":"x","abort":{"percentage":{"numerator":1}}}`, "abort.http_status is required"},
		{"http_status 99", `{"name":"x","abort":{"http_status":99}}`, "abort.http_status must be an integer from 200 to 599 (Envoy's [200, 600)), got 99"},
		{"http_status 600", `{"name":"x","abort":{"http_status":600}}`, "abort.http_status must be an integer from 200 to 599 (Envoy's [200, 600)), got 600"},
		{"fractional http_status", `{"name":"x","abort":{"http_status":503.5}}`, "abort.http_status must be an integer from 200 to 599"},
		{"grpc_status", `{"name":"x","abort":{"grpc_status":14}}`, "abort.grpc_status is not supported: this injector aborts with an HTTP status; use abort.http_status (200 to 599)"},
		{"fractional numerator", `{"name":"x","abort":{"http_status":503,"percentage":{"numerator":30.5}}}`, "abort.percentage.numerator must be an integer from 0 to 4294967295, got 30.5"},
		{"negative numerator", `{"name":"x","abort":{"http_status":503,"percentage":{"numerator":-1}}}`, "abort.percentage.numerator must be an integer from 0 to 4294967295, got -1"},
		{"unknown denominator", `{"name":"x","abort":{"http_status":503,"percentage":{"numerator":1,"denominator":"THOUSAND"}}}`, `abort.percentage.denominator must be HUNDRED, TEN_THOUSAND or MILLION, got "THOUSAND"`},
		{"missing fixed_delay", `{"name":"x","delay":{"percentage":{"numerator":1}}}`, "delay.fixed_delay is required"},
		{"negative delay", `{"name":"x","delay":{"fixed_delay":"-1s"}}`, `delay.fixed_delay must be greater than 0 and at most 10m0s, got "-1s"`},
		{"zero delay", `{"name":"x","delay":{"fixed_delay":"0s"}}`, `delay.fixed_delay must be greater than 0 and at most 10m0s, got "0s"`},
		{"huge delay", `{"name":"x","delay":{"fixed_delay":"11m"}}`, `delay.fixed_delay must be greater than 0 and at most 10m0s, got "11m"`},
		{"delay as a number", `{"name":"x","delay":{"fixed_delay":300}}`, `delay.fixed_delay must be a duration string such as "300ms" or "1.5s", got 300`},
		{"delay not a duration", `{"name":"x","delay":{"fixed_delay":"soon"}}`, `delay.fixed_delay must be a duration string such as "300ms" or "1.5s", got "soon"`},
		{"delay percentage fraction", `{"name":"x","delay":{"fixed_delay":"1s","percentage":{"numerator":"1.5"}}}`, "delay.percentage.numerator must be an integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := startLab(t)
			code, body := l.apiCall(t, http.MethodPost, "/faults/http", tc.body)
			var e struct {
				Error  string `json:"error"`
				Status int    `json:"status"`
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil || code != http.StatusBadRequest || e.Status != http.StatusBadRequest {
				t.Fatalf("got %d %s, want 400 in Toxiproxy's error shape", code, body)
			}
			if !strings.Contains(e.Error, tc.want) {
				t.Errorf("message %q\nwant it to contain %q", e.Error, tc.want)
			}
			if in := l.h.Injected(); len(in) != 0 {
				t.Errorf("a refused fault is in effect: %+v", in)
			}
		})
	}
}

func TestHTTPFaultDuplicateName(t *testing.T) {
	l := startLab(t)
	const f = `{"name":"twice","abort":{"http_status":503}}`
	l.addFault(t, f)
	if code, body := l.apiCall(t, http.MethodPost, "/faults/http", f); code != http.StatusConflict || !strings.Contains(body, "http fault already exists: twice") {
		t.Errorf("second POST: %d %s, want 409 already exists", code, body)
	}
}

func TestHTTPFaultAbortAnswer(t *testing.T) {
	l := startLab(t)
	l.addFault(t, `{"name":"teapot","abort":{"http_status":418,"percentage":{"numerator":100}}}`)
	req, _ := http.NewRequest(http.MethodGet, l.through+"/x", nil)
	req.Header.Set("X-Request-Id", "req-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, c := range []struct{ what, got, want string }{
		{"status", resp.Status, "418 I'm a teapot"},
		{"body", string(body), "fault filter abort"},
		{"Content-Type", resp.Header.Get("Content-Type"), "text/plain"},
		{"X-Chaoslab-Fault", resp.Header.Get("X-Chaoslab-Fault"), "teapot"},
		{"X-Request-Id", resp.Header.Get("X-Request-Id"), "req-1"},
	} {
		if c.got != c.want {
			t.Errorf("%s %q, want %q", c.what, c.got, c.want)
		}
	}
	if n := l.up.n.Load(); n != 0 {
		t.Errorf("the upstream saw %d requests, want none", n)
	}
}

func TestHTTPFaultForwardKeepsRequestID(t *testing.T) {
	l := startLab(t)
	req, _ := http.NewRequest(http.MethodGet, l.through+"/", nil)
	req.Header.Set("X-Request-Id", "abc-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Seen-Request-Id"); got != "abc-123" {
		t.Errorf("the upstream saw X-Request-Id %q, want abc-123", got)
	}
}

func TestHTTPFaultsInOrder(t *testing.T) {
	l := startLab(t)
	l.addFault(t, `{"name":"slow","delay":{"fixed_delay":"100ms","percentage":{"numerator":100}}}`)
	l.addFault(t, `{"name":"first","abort":{"http_status":503,"percentage":{"numerator":100}}}`)
	l.addFault(t, `{"name":"second","abort":{"http_status":500,"percentage":{"numerator":100}}}`)
	c := &http.Client{}
	start := time.Now()
	resp, _ := send(t, c, l.through+"/")
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("answer took %v, want the delay of 100ms first", took)
	}
	if resp.StatusCode != 503 || resp.Header.Get("X-Chaoslab-Fault") != "first" {
		t.Errorf("got %d from %q, want 503 from the first abort", resp.StatusCode, resp.Header.Get("X-Chaoslab-Fault"))
	}
	l.apiCall(t, http.MethodDelete, "/faults/http/first", "")
	if resp, _ := send(t, c, l.through+"/"); resp.StatusCode != 500 || resp.Header.Get("X-Chaoslab-Fault") != "second" {
		t.Errorf("after removing first: %d from %q, want 500 from second", resp.StatusCode, resp.Header.Get("X-Chaoslab-Fault"))
	}
	if s := l.h.Stats(); s != (HTTPStats{Requests: 2, Aborted: 2, Delayed: 2}) {
		t.Errorf("stats %+v, want 2 requests, both delayed and aborted", s)
	}
}

// closedAddr returns an address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestHTTPFaultUpstreamFailures(t *testing.T) {
	hangUp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(hangUp.Close)
	for _, tc := range []struct {
		name, upstream string
		body           []string // substrings of the answer
		stats          HTTPStats
	}{
		{"refused", closedAddr(t),
			[]string{"upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: ", "connection refused"},
			HTTPStats{Requests: 1, UpstreamRefused: 1}},
		{"hang-up after connect", strings.TrimPrefix(hangUp.URL, "http://"),
			[]string{"upstream connect error or disconnect/reset before headers. reset reason: connection termination"},
			HTTPStats{Requests: 1, UpstreamErrors: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := startInjector(t, tc.upstream)
			resp, body := send(t, &http.Client{}, l.through+"/")
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") != "text/plain" {
				t.Errorf("got %d %s, want 503 text/plain", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			for _, want := range tc.body {
				if !strings.Contains(body, want) {
					t.Errorf("body %q\nwant it to contain %q", body, want)
				}
			}
			if s := l.h.Stats(); s != tc.stats {
				t.Errorf("stats %+v, want %+v", s, tc.stats)
			}
		})
	}
}

func TestHTTPFaultClientGivesUpDuringDelay(t *testing.T) {
	up := startUpstream(t)
	h := NewHTTPFaults(HTTPFaultsConfig{Upstream: up.addr()})
	mux := http.NewServeMux()
	newHTTPHops(h).register(mux)
	done := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		done <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	l := &injectorLab{h: h, api: mux, up: up}
	l.addFault(t, `{"name":"slow","delay":{"fixed_delay":"5s","percentage":{"numerator":100}}}`)

	c := &http.Client{Timeout: 100 * time.Millisecond}
	_, err := c.Get(srv.URL + "/")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("got %v, want the client's timeout", err)
	}
	select {
	case <-done:
	case <-time.After(4 * time.Second): // well before the 5s delay would end
		t.Fatal("the injector still waits out the delay after the client gave up")
	}
	if n := up.n.Load(); n != 0 {
		t.Errorf("the upstream saw %d requests, want none", n)
	}
	if s := h.Stats(); s != (HTTPStats{Requests: 1, Delayed: 1}) {
		t.Errorf("stats %+v, want 1 request, delayed, nothing else", s)
	}
}

func TestHTTPFaultInjected(t *testing.T) {
	for _, tc := range []struct {
		name, fault string
		want        Injected
	}{
		{"abort only", `{"name":"http-errors","abort":{"http_status":503,"percentage":{"numerator":30,"denominator":"HUNDRED"}}}`,
			Injected{Kind: KindHTTPErrors, Detail: "HTTP 503 on 30% of requests (http fault http-errors)"}},
		{"delay only", `{"name":"slow","delay":{"fixed_delay":"300ms","percentage":{"numerator":100}}}`,
			Injected{Kind: KindHTTPDelay, Detail: "delay 300ms on 100% of requests (http fault slow)"}},
		{"both", `{"name":"both","abort":{"http_status":500,"percentage":{"numerator":5,"denominator":"TEN_THOUSAND"}},"delay":{"fixed_delay":"1.5s","percentage":{"numerator":50}}}`,
			Injected{Kind: KindHTTPErrors, Detail: "HTTP 500 on 0.05% of requests, delay 1.5s on 50% of requests (http fault both)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := startLab(t)
			l.addFault(t, tc.fault)
			if in := l.h.Injected(); len(in) != 1 || in[0] != tc.want {
				t.Errorf("Injected() = %+v\nwant [%+v]", in, tc.want)
			}
			if err := l.h.Reset(context.Background()); err != nil || len(l.h.Injected()) != 0 {
				t.Errorf("after Reset: %v, %+v, want nothing in effect", err, l.h.Injected())
			}
		})
	}
}
