package fault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"chaoslab/internal/wait"
)

// HTTPFaults is the L7 injector: an HTTP reverse proxy in front of one node (the backend, or a
// tier of a call graph) that delays and aborts a share of the requests, with the semantics of
// Envoy's HTTP fault filter (envoy.extensions.filters.http.fault.v3.HTTPFault). Faults are added
// and removed through the fault API's /faults/http, which addresses each injector by its target
// (API.AddHTTPHop). It is safe for concurrent use.
//
// Per request, every fault in effect applies in creation order: its delay first (sampled with
// the delay's percentage), then its abort (sampled independently with the abort's percentage);
// the first abort that hits answers the request, which is then not forwarded. Each fault is
// sampled when the request reaches it, so removing a fault takes effect for every request that
// has not yet been sampled for it; a delay already in progress runs to its end. A delay ends
// early if the client gives up, and the request is then not forwarded.
//
// A percentage is Envoy's FractionalPercent: numerator out of HUNDRED (the default),
// TEN_THOUSAND or MILLION, capped at 100%. Like Envoy, a fault part without a percentage
// applies to 0% of the requests (a proto3 message left unset is all zeros): write
// {"numerator": 100} for every request.
type HTTPFaults struct {
	proxy *httputil.ReverseProxy
	stats httpCounters

	mu      sync.Mutex // guards the fields below
	rand    *rand.Rand
	faults  []activeFault // in creation order
	nextSeq uint64
}

// HTTPFaultsConfig configures an HTTPFaults.
type HTTPFaultsConfig struct {
	Upstream string                                                            // host:port of the backend the proxy forwards to
	Dial     func(ctx context.Context, network, addr string) (net.Conn, error) // nil = a net.Dialer; the netns stack dials inside a namespace
	Rand     *rand.Rand                                                        // samples the percentages; nil = seeded from the time; used under a mutex
}

// HTTPStats counts what the injector did with the requests it saw. Every request that entered
// is either aborted, forwarded (the upstream answered with headers), refused by the upstream,
// failed at the upstream, or given up by its client during a delay or while forwarded.
type HTTPStats struct {
	Requests        int64 `json:"requests"`         // requests that entered the injector
	Aborted         int64 `json:"aborted"`          // answered by an abort
	Delayed         int64 `json:"delayed"`          // delayed by at least one delay fault
	Forwarded       int64 `json:"forwarded"`        // forwarded, and the upstream answered with headers
	UpstreamRefused int64 `json:"upstream_refused"` // the upstream connect was refused (backend not listening)
	UpstreamErrors  int64 `json:"upstream_errors"`  // every other upstream failure
}

type httpCounters struct {
	requests, aborted, delayed, forwarded, refused, upstreamErrors atomic.Int64
}

// activeFault is a fault in effect; seq orders faults by creation.
type activeFault struct {
	seq   uint64
	fault httpFault
}

// NewHTTPFaults makes an injector with no fault in effect that forwards to cfg.Upstream.
func NewHTTPFaults(cfg HTTPFaultsConfig) *HTTPFaults {
	r := cfg.Rand
	if r == nil {
		seed := uint64(time.Now().UnixNano())
		r = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	}
	h := &HTTPFaults{rand: r, faults: []activeFault{}}
	h.proxy = h.newProxy(cfg)
	return h
}

// newProxy builds the reverse proxy to http://cfg.Upstream: keep-alives on, no timeout of its
// own (the client's decides), bodies streamed as they come, failures answered like Envoy.
func (h *HTTPFaults) newProxy(cfg HTTPFaultsConfig) *httputil.ReverseProxy {
	target := &url.URL{Scheme: "http", Host: cfg.Upstream}
	dial := cfg.Dial
	if dial == nil {
		dial = (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext
	}
	transport := &http.Transport{
		Proxy: nil, // never the environment's proxy: the upstream is in the lab
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, &connectError{err: err}
			}
			return c, nil
		},
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // pass Accept-Encoding and bodies through untouched
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // like Envoy without host_rewrite, and like the L4 proxy
			pr.SetXForwarded()
		},
		Transport:     transport,
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0),
		ErrorHandler:  h.proxyError,
		ModifyResponse: func(*http.Response) error {
			h.stats.forwarded.Add(1)
			return nil
		},
	}
}

// connectError marks a failure to connect to the upstream, as opposed to one after connecting.
type connectError struct{ err error }

func (e *connectError) Error() string { return e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// Envoy's texts for its local replies.
const (
	envoyAbortBody      = "fault filter abort"
	envoyConnectFailure = "upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: "
	envoyTermination    = "upstream connect error or disconnect/reset before headers. reset reason: connection termination"
)

// ServeHTTP is the data path: it applies the faults in effect, then forwards to the upstream.
func (h *HTTPFaults) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.stats.requests.Add(1)
	hit, alive := h.inject(r.Context())
	if !alive {
		return // the client gave up during a delay: nobody to answer, nothing to forward
	}
	if hit.name != "" {
		h.stats.aborted.Add(1)
		localReply(w, r, hit.status, envoyAbortBody, hit.name)
		return
	}
	h.proxy.ServeHTTP(w, r)
}

// abortHit is the abort that answers a request; the zero value means none did.
type abortHit struct {
	name   string
	status int
}

// inject walks the faults in creation order, waiting out the delays that hit, until an abort
// hits or the faults run out. It reports false if the client gave up during a delay.
func (h *HTTPFaults) inject(ctx context.Context) (abortHit, bool) {
	var after uint64
	delayed := false
	for {
		seq, delay, found := h.sampleDelay(after)
		if !found {
			return abortHit{}, true
		}
		after = seq
		if delay > 0 {
			if !delayed {
				h.stats.delayed.Add(1)
				delayed = true
			}
			if !wait.For(ctx, delay) {
				return abortHit{}, false
			}
		}
		if hit, ok := h.sampleAbort(seq); ok {
			return hit, true
		}
	}
}

// sampleDelay finds the first fault created after the one numbered after and samples its delay
// (0 if it has none or it did not hit).
func (h *HTTPFaults) sampleDelay(after uint64) (seq uint64, delay time.Duration, found bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range h.faults {
		if a.seq <= after {
			continue
		}
		if d := a.fault.Delay; d != nil && d.Percentage.hit(h.rand) {
			delay = d.duration
		}
		return a.seq, delay, true
	}
	return 0, 0, false
}

// sampleAbort samples the abort of fault seq, if it is still in effect and has one.
func (h *HTTPFaults) sampleAbort(seq uint64) (abortHit, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := slices.IndexFunc(h.faults, func(a activeFault) bool { return a.seq == seq })
	if i < 0 {
		return abortHit{}, false
	}
	f := h.faults[i].fault
	if f.Abort == nil || !f.Abort.Percentage.hit(h.rand) {
		return abortHit{}, false
	}
	return abortHit{name: f.Name, status: f.Abort.HTTPStatus}, true
}

// proxyError answers an upstream failure like Envoy does, and counts it.
func (h *HTTPFaults) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client went away: nobody to answer
	}
	var ce *connectError
	if !errors.As(err, &ce) {
		h.stats.upstreamErrors.Add(1)
		localReply(w, r, http.StatusServiceUnavailable, envoyTermination, "")
		return
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		h.stats.refused.Add(1)
	} else {
		h.stats.upstreamErrors.Add(1)
	}
	localReply(w, r, http.StatusServiceUnavailable, envoyConnectFailure+ce.Error(), "")
}

// localReply answers a request without the upstream: a text/plain body, the request's
// X-Request-Id echoed, and the fault's name in X-Chaoslab-Fault when a fault answered.
func localReply(w http.ResponseWriter, r *http.Request, status int, body, fault string) {
	hd := w.Header()
	hd.Set("Content-Type", "text/plain")
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	if id := r.Header.Get("X-Request-Id"); id != "" {
		hd.Set("X-Request-Id", id)
	}
	if fault != "" {
		hd.Set("X-Chaoslab-Fault", fault)
	}
	w.WriteHeader(status)
	io.WriteString(w, body) // refused for 204 and 304, which carry no body: nothing to do
}

// list returns the faults in effect, in creation order.
func (h *HTTPFaults) list() []httpFault {
	h.mu.Lock()
	defer h.mu.Unlock()
	faults := make([]httpFault, len(h.faults))
	for i, a := range h.faults {
		faults[i] = a.fault
	}
	return faults
}

// add puts f in effect after the others; false when a fault of that name is in effect already.
func (h *HTTPFaults) add(f httpFault) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if slices.ContainsFunc(h.faults, func(a activeFault) bool { return a.fault.Name == f.Name }) {
		return false
	}
	h.nextSeq++
	h.faults = append(h.faults, activeFault{seq: h.nextSeq, fault: f})
	return true
}

// remove takes the fault name out of effect; false when there is none of that name.
func (h *HTTPFaults) remove(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := slices.IndexFunc(h.faults, func(a activeFault) bool { return a.fault.Name == name })
	if i < 0 {
		return false
	}
	h.faults = slices.Delete(h.faults, i, i+1)
	return true
}

// Reset removes every fault. It is idempotent, takes effect at once and never fails.
func (h *HTTPFaults) Reset(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults = []activeFault{}
	return nil
}

// Injected lists the faults in effect, in creation order: Kind KindHTTPErrors when the fault
// has an abort, KindHTTPDelay when it only has a delay; Detail such as
// "HTTP 503 on 30% of requests, delay 300ms on 100% of requests (http fault slow-errors)".
func (h *HTTPFaults) Injected() []Injected {
	h.mu.Lock()
	defer h.mu.Unlock()
	in := make([]Injected, 0, len(h.faults))
	for _, a := range h.faults {
		f := a.fault
		kind, parts := KindHTTPDelay, []string{}
		if f.Abort != nil {
			kind = KindHTTPErrors
			parts = append(parts, fmt.Sprintf("HTTP %d on %s of requests", f.Abort.HTTPStatus, f.Abort.Percentage.percent()))
		}
		if f.Delay != nil {
			parts = append(parts, fmt.Sprintf("delay %s on %s of requests", f.Delay.duration, f.Delay.Percentage.percent()))
		}
		in = append(in, Injected{Kind: kind, Detail: strings.Join(parts, ", ") + " (http fault " + f.Name + ")"})
	}
	return in
}

// Stats returns the counters so far (also in GET /faults/http under "stats").
func (h *HTTPFaults) Stats() HTTPStats {
	return HTTPStats{
		Requests:        h.stats.requests.Load(),
		Aborted:         h.stats.aborted.Load(),
		Delayed:         h.stats.delayed.Load(),
		Forwarded:       h.stats.forwarded.Load(),
		UpstreamRefused: h.stats.refused.Load(),
		UpstreamErrors:  h.stats.upstreamErrors.Load(),
	}
}

// httpFault is a fault as the API shows it, in the shape of Envoy's HTTPFault, with every
// default filled in.
type httpFault struct {
	Name string `json:"name"`
	// Target is the node whose injector holds the fault, as the request that made it named it
	// ("" when it named none: the backend's).
	Target string      `json:"target,omitempty"`
	Abort  *faultAbort `json:"abort,omitempty"`
	Delay  *faultDelay `json:"delay,omitempty"`
}

// faultAbort is Envoy's FaultAbort with an http_status.
type faultAbort struct {
	HTTPStatus int      `json:"http_status"`
	Percentage fraction `json:"percentage"`
}

// faultDelay is Envoy's FaultDelay with a fixed_delay.
type faultDelay struct {
	FixedDelay string   `json:"fixed_delay"`
	Percentage fraction `json:"percentage"`
	duration   time.Duration
}

// fraction is Envoy's FractionalPercent: numerator out of the denominator, at most 100%.
type fraction struct {
	Numerator   int64  `json:"numerator"`
	Denominator string `json:"denominator"`
}

// denominators are FractionalPercent's denominators, in the order of their enum values.
func denominators() []struct {
	name  string
	value int64
} {
	return []struct {
		name  string
		value int64
	}{{"HUNDRED", 100}, {"TEN_THOUSAND", 10_000}, {"MILLION", 1_000_000}}
}

func (p fraction) per() int64 {
	for _, d := range denominators() {
		if d.name == p.Denominator {
			return d.value
		}
	}
	return 100
}

// hit samples the fraction like Envoy: a uniform draw below the denominator is under the
// numerator; a numerator at or above the denominator always hits, 0 never does.
func (p fraction) hit(r *rand.Rand) bool {
	per := p.per()
	switch {
	case p.Numerator <= 0:
		return false
	case p.Numerator >= per:
		return true
	}
	return r.Int64N(per) < p.Numerator
}

// percent shows the fraction as a percentage, capped at 100: "30%", "0.05%".
func (p fraction) percent() string {
	per := p.per()
	share := float64(min(p.Numerator, per)) * 100 / float64(per)
	return strconv.FormatFloat(share, 'f', -1, 64) + "%"
}

// Limits of a fault's fields.
const (
	maxFixedDelay  = 10 * time.Minute
	maxNumerator   = math.MaxUint32 // FractionalPercent.numerator is a uint32
	maxNameLength  = 64
	faultObjectHow = `send a fault object such as {"name":"http-errors","abort":{"http_status":503,"percentage":{"numerator":30,"denominator":"HUNDRED"}}}`
)

// faultParser decodes a fault object strictly and collects what is wrong with it.
type faultParser struct{ problems []string }

func (p *faultParser) fail(format string, args ...any) {
	p.problems = append(p.problems, fmt.Sprintf(format, args...))
}

// parseHTTPFault decodes and checks a fault object; the message says what is wrong ("" if
// nothing is).
func parseHTTPFault(body []byte) (httpFault, string) {
	if len(strings.TrimSpace(string(body))) == 0 {
		return httpFault{}, "the request body is empty: " + faultObjectHow
	}
	var raw json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return httpFault{}, "the request body is not valid JSON (" + err.Error() + "): " + faultObjectHow
	}
	p := &faultParser{}
	m := p.object(raw, "", []string{"name", "target", "abort", "delay"}, map[string]string{
		"headers": "a fault applies to every request", "upstream_cluster": "there is one upstream",
		"downstream_nodes": "a fault applies to every client", "max_active_faults": "there is no limit",
		"response_rate_limit": "use a Toxiproxy bandwidth toxic for a slow body",
	})
	if m == nil {
		return httpFault{}, strings.Join(p.problems, "; ")
	}
	f := httpFault{Name: p.name(m["name"]), Target: p.target(m["target"])}
	if raw, ok := present(m, "abort"); ok {
		f.Abort = p.abort(raw)
	}
	if raw, ok := present(m, "delay"); ok {
		f.Delay = p.delay(raw)
	}
	if _, a := present(m, "abort"); !a {
		if _, d := present(m, "delay"); !d {
			p.fail("a fault needs abort or delay (or both)")
		}
	}
	return f, strings.Join(p.problems, "; ")
}

// object decodes a JSON object and refuses members that are not allowed; refused names
// members of Envoy's message this injector does not support, with the reason.
func (p *faultParser) object(raw json.RawMessage, path string, allowed []string, refused map[string]string) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		what := "the request body"
		if path != "" {
			what = path
		}
		p.fail("%s must be a JSON object, got %s", what, brief(raw))
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		field := strings.TrimPrefix(path+"."+k, ".")
		if why, ok := refused[k]; ok {
			p.fail("%s is not supported: %s", field, why)
		} else if !slices.Contains(allowed, k) {
			p.fail("unknown field %q: %s allows %s", field, objectName(path), strings.Join(allowed, ", "))
		}
	}
	return m
}

func objectName(path string) string {
	if path == "" {
		return "a fault"
	}
	return path
}

// present returns member k of m unless it is missing or null.
func present(m map[string]json.RawMessage, k string) (json.RawMessage, bool) {
	raw, ok := m[k]
	if !ok || string(raw) == "null" {
		return nil, false
	}
	return raw, true
}

// brief shows a JSON value in a message, shortened.
func brief(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}

func (p *faultParser) name(raw json.RawMessage) string {
	if raw == nil || string(raw) == "null" {
		p.fail("name is required: 1 to %d characters from A-Z a-z 0-9 _ . -", maxNameLength)
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || !validFaultName(s) {
		p.fail("name must be 1 to %d characters from A-Z a-z 0-9 _ . -, got %s", maxNameLength, brief(raw))
	}
	return s
}

// target reads the node a fault goes in front of ("" when the fault names none).
func (p *faultParser) target(raw json.RawMessage) string {
	if raw == nil || string(raw) == "null" {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || !validFaultName(s) {
		p.fail("target must name the node whose injector makes the fault (backend, or a tier of a topology), got %s", brief(raw))
	}
	return s
}

func validFaultName(s string) bool {
	if len(s) == 0 || len(s) > maxNameLength {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

func (p *faultParser) abort(raw json.RawMessage) *faultAbort {
	m := p.object(raw, "abort", []string{"http_status", "percentage"}, map[string]string{
		"grpc_status":  "this injector aborts with an HTTP status; use abort.http_status (200 to 599)",
		"header_abort": "the status is fixed by the fault; use abort.http_status (200 to 599)",
	})
	if m == nil {
		return nil
	}
	a := &faultAbort{Percentage: p.percentage(m, "abort")}
	status, ok := present(m, "http_status")
	if !ok {
		if _, grpc := m["grpc_status"]; !grpc {
			p.fail("abort.http_status is required: an integer from 200 to 599")
		}
		return a
	}
	n, ok := intValue(status)
	if !ok || n < 200 || n > 599 {
		p.fail("abort.http_status must be an integer from 200 to 599 (Envoy's [200, 600)), got %s", brief(status))
	}
	a.HTTPStatus = int(n)
	return a
}

func (p *faultParser) delay(raw json.RawMessage) *faultDelay {
	m := p.object(raw, "delay", []string{"fixed_delay", "percentage"}, map[string]string{
		"header_delay": `the delay is fixed by the fault; use delay.fixed_delay ("300ms", "1.5s")`,
	})
	if m == nil {
		return nil
	}
	d := &faultDelay{Percentage: p.percentage(m, "delay")}
	fixed, ok := present(m, "fixed_delay")
	if !ok {
		if _, hd := m["header_delay"]; !hd {
			p.fail(`delay.fixed_delay is required: a duration such as "300ms" or "1.5s", at most %s`, maxFixedDelay)
		}
		return d
	}
	var s string
	err := json.Unmarshal(fixed, &s)
	if err == nil {
		d.duration, err = time.ParseDuration(strings.TrimSpace(s))
	}
	switch {
	case err != nil:
		p.fail(`delay.fixed_delay must be a duration string such as "300ms" or "1.5s", got %s`, brief(fixed))
	case d.duration <= 0 || d.duration > maxFixedDelay:
		p.fail("delay.fixed_delay must be greater than 0 and at most %s, got %s", maxFixedDelay, brief(fixed))
	}
	d.FixedDelay = d.duration.String()
	return d
}

// percentage reads member "percentage" of m, an Envoy FractionalPercent; like Envoy, a missing
// percentage is 0% and a missing denominator is HUNDRED.
func (p *faultParser) percentage(m map[string]json.RawMessage, parent string) fraction {
	f := fraction{Denominator: "HUNDRED"}
	raw, ok := present(m, "percentage")
	if !ok {
		return f
	}
	path := parent + ".percentage"
	pm := p.object(raw, path, []string{"numerator", "denominator"}, nil)
	if pm == nil {
		return f
	}
	if num, ok := present(pm, "numerator"); ok {
		n, ok := intValue(num)
		if !ok || n < 0 || n > maxNumerator {
			p.fail("%s.numerator must be an integer from 0 to %d, got %s", path, int64(maxNumerator), brief(num))
		}
		f.Numerator = n
	}
	if den, ok := present(pm, "denominator"); ok {
		f.Denominator = p.denominator(den, path)
	}
	return f
}

// denominator reads a FractionalPercent denominator, by name or (like protobuf's JSON) by number.
func (p *faultParser) denominator(raw json.RawMessage, path string) string {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		for _, d := range denominators() {
			if d.name == name {
				return name
			}
		}
	} else if n, ok := intValue(raw); ok && n >= 0 && int(n) < len(denominators()) {
		return denominators()[n].name
	}
	p.fail("%s.denominator must be HUNDRED, TEN_THOUSAND or MILLION, got %s", path, brief(raw))
	return "HUNDRED"
}

// intValue reads an integer given as a JSON number or as a string holding one (protobuf's JSON
// accepts both, and a substituted variable may arrive as either): 30, 30.0, "30", 3e1. A
// fraction, or anything else, is not an integer.
func intValue(raw json.RawMessage) (int64, bool) {
	s := strings.TrimSpace(string(raw))
	if strings.HasPrefix(s, `"`) {
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		s = strings.TrimSpace(s)
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}
