package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"chaoslab/internal/resilience"
	"chaoslab/internal/results"
	"chaoslab/internal/tracing"
)

// Limits of the backend calls.
const (
	maxBackendBody  = 1 << 20 // bytes of a backend answer kept
	maxDrain        = 64 << 10
	maxBackendConns = 100 // connections to the backend at once, idle or busy
	idleConnTimeout = 90 * time.Second
)

// backendClient calls BACKEND_URL and nothing else: no proxy, no redirects. It is safe for
// concurrent use.
type backendClient struct {
	base        string            // BACKEND_URL without a trailing slash
	dataURL     string            // base + "/api/data"
	direct      bool              // fetch calls the transport itself (do): BACKEND_URL is http:// and url.URL spells it as it is
	propagate   bool              // DEADLINE_PROPAGATION=on: every attempt sends results.DeadlineHeader
	trace       *tracing.Provider // sends the trace context of every call; nil = tracing off
	http        *http.Client      // over rt
	rt          http.RoundTripper // the transport: transport, or a test's
	transport   *http.Transport
	diagTimeout time.Duration
}

func newBackendClient(cfg Config, trace *tracing.Provider) *backendClient {
	tr := &http.Transport{
		Proxy:               nil, // never another URL than BACKEND_URL, whatever HTTP_PROXY says
		DialContext:         (&agingDialer{maxAge: cfg.BackendConnMaxAge}).DialContext,
		MaxIdleConns:        maxBackendConns,
		MaxIdleConnsPerHost: maxBackendConns,
		MaxConnsPerHost:     maxBackendConns,
		IdleConnTimeout:     idleConnTimeout,
		TLSHandshakeTimeout: cfg.AttemptTimeout,
	}
	dataURL := cfg.BackendURL + "/api/data"
	u, err := url.Parse(dataURL)
	return &backendClient{
		base:        cfg.BackendURL,
		dataURL:     dataURL,
		direct:      err == nil && u.Scheme == "http" && u.User == nil && u.String() == dataURL,
		propagate:   cfg.DeadlinePropagation,
		trace:       trace,
		transport:   tr,
		rt:          tr,
		http:        &http.Client{Transport: tr, CheckRedirect: noRedirects},
		diagTimeout: cfg.AttemptTimeout,
	}
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// fetch is one attempt at GET BACKEND_URL/api/data: the body of a 2xx JSON answer, a
// *resilience.StatusError for another status, or the transport error. The response body is
// always drained and closed, so a discarded attempt never holds a connection. It sends the
// incoming X-Request-Id (withForwarded) and, with DEADLINE_PROPAGATION=on, the whole
// milliseconds left before ctx's deadline (the time this hop waits for this attempt), at least 1.
// With tracing on it sends the trace context of ctx (the attempt's CLIENT span) and puts the
// answer's status on that span.
func (b *backendClient) fetch(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.dataURL, nil)
	if err != nil {
		return nil, fmt.Errorf("building the backend request: %w", err)
	}
	if id := forwarded(ctx); id != "" {
		req.Header.Set(results.RequestIDHeader, id)
	}
	if dl, ok := ctx.Deadline(); ok && b.propagate {
		req.Header.Set(results.DeadlineHeader, strconv.FormatInt(max(1, time.Until(dl).Milliseconds()), 10))
	}
	b.trace.Inject(ctx, req.Header)
	resp, err := b.do(req)
	if err != nil {
		return nil, err
	}
	read := false // the body was read to its end: nothing is left to drain
	defer func() {
		if read {
			resp.Body.Close()
		} else {
			drainClose(resp.Body)
		}
	}()
	b.trace.RecordStatus(ctx, resp.StatusCode)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &resilience.StatusError{Code: resp.StatusCode, Reason: reasonOf(resp)}
	}
	body, read, err := readBody(resp, maxBackendBody)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", resilience.ErrReadingBody, err)
	}
	if !json.Valid(body) {
		return nil, errors.New("backend answered a body that is not JSON")
	}
	return body, nil
}

// do sends req, a GET of b.dataURL, as b.http.Do does: the answer as it came (the client
// follows no redirect), or the error wrapped in a *url.Error ("Get \"URL\": ..."). When the
// URL allows it (direct), it calls the transport itself, without what http.Client does per
// request for redirects, cookies, user info and TLS that this client never needs: the copies
// of the request's headers and URL kept for a redirect.
func (b *backendClient) do(req *http.Request) (*http.Response, error) {
	if !b.direct {
		return b.http.Do(req)
	}
	resp, err := b.rt.RoundTrip(req)
	if err != nil {
		return nil, &url.Error{Op: "Get", URL: b.dataURL, Err: err}
	}
	if loc := resp.Header.Get("Location"); loc != "" && isRedirect(resp.StatusCode) {
		// http.Client parses the Location of a redirect before it asks CheckRedirect.
		if _, err := req.URL.Parse(loc); err != nil {
			resp.Body.Close()
			return nil, &url.Error{Op: "Get", URL: b.dataURL, Err: fmt.Errorf("failed to parse Location header %q: %v", loc, err)}
		}
	}
	return resp, nil
}

// isRedirect reports whether http.Client would follow an answer of status code to a GET.
func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// readBody reads at most limit bytes of resp's body, as io.ReadAll(io.LimitReader(resp.Body,
// limit)) does, into one buffer the size the answer declared when it did; eof says it read the
// body to its end.
func readBody(resp *http.Response, limit int64) (_ []byte, eof bool, _ error) {
	size := int64(512)
	if resp.ContentLength >= 0 {
		size = min(resp.ContentLength, limit) + 1 // + 1: the read that sees the end needs room
	}
	buf := make([]byte, 0, size)
	for int64(len(buf)) < limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow, as io.ReadAll does
		}
		n, err := resp.Body.Read(buf[len(buf):min(int64(cap(buf)), limit)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, true, nil
		}
		if err != nil {
			return buf, false, err
		}
	}
	return buf, false, nil
}

type forwardedKey struct{}

// withForwarded returns ctx carrying the incoming X-Request-Id, as it came ("" = none), which
// every backend attempt of the request sends on: a chain of tiers shares one id.
func withForwarded(ctx context.Context, requestID string) context.Context {
	return context.WithValue(ctx, forwardedKey{}, requestID)
}

func forwarded(ctx context.Context) string {
	id, _ := ctx.Value(forwardedKey{}).(string)
	return id
}

// maxReason bounds the reason kept from a failed answer's body.
const maxReason = 300

// reasonOf returns the first line of a plain-text answer (what a proxy such as Envoy says when
// it cannot reach the backend), or "".
func reasonOf(resp *http.Response) string {
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxReason))
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line)
}

func drainClose(body io.ReadCloser) {
	io.Copy(io.Discard, io.LimitReader(body, maxDrain))
	body.Close()
}

// close releases the idle connections to the backend.
func (b *backendClient) close() { b.transport.CloseIdleConnections() }

// Diagnosis is the answer of GET /api/diagnostics/backend.
type Diagnosis struct {
	Reachable bool   `json:"reachable"`
	Error     string `json:"error"`
	ElapsedMs int64  `json:"elapsedMs"`
}

// diagnose dials a fresh connection to BACKEND_URL (never a pooled one) and asks /healthz over
// it, within the attempt timeout: a blackhole accepts connects, so a connect proves nothing.
func (b *backendClient) diagnose(ctx context.Context) Diagnosis {
	start := time.Now()
	err := b.probe(ctx)
	d := Diagnosis{Reachable: err == nil, ElapsedMs: time.Since(start).Milliseconds()}
	if err != nil {
		d.Error = err.Error()
	}
	return d
}

func (b *backendClient) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.diagTimeout)
	defer cancel()
	_, err := b.ask(ctx, "/healthz")
	return err
}

// ready is the adaptive profile's probe: GET /readyz over a fresh connection, under ctx's
// deadline (the pipeline gives it ATTEMPT_TIMEOUT). With tracing on, ctx carries the probe's
// span, which gets the answer's status.
func (b *backendClient) ready(ctx context.Context) error {
	code, err := b.ask(ctx, "/readyz")
	b.trace.RecordStatus(ctx, code)
	return err
}

// ask GETs BACKEND_URL+path over a fresh connection and wants 200; it returns the status of the
// answer (0 = none). With tracing on it sends the trace context of ctx.
func (b *backendClient) ask(ctx context.Context, path string) (int, error) {
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true, DialContext: (&net.Dialer{}).DialContext}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+path, nil)
	if err != nil {
		return 0, fmt.Errorf("building the %s request: %w", path, err)
	}
	b.trace.Inject(ctx, req.Header)
	// Say which stage failed: a partition that drops SYNs fails the connect, a blackhole proxy
	// accepts the connection and never answers.
	var connected atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		ConnectDone: func(_, _ string, err error) { connected.Store(err == nil) },
	}))
	resp, err := (&http.Client{Transport: tr, CheckRedirect: noRedirects}).Do(req)
	if err != nil {
		if connected.Load() {
			return 0, fmt.Errorf("connected, but no answer: %w", err)
		}
		return 0, fmt.Errorf("could not connect: %w", err)
	}
	defer drainClose(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("backend %s answered %d", path, resp.StatusCode)
	}
	return resp.StatusCode, nil
}
