package load

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"chaoslab/internal/results"
)

// NewHTTPClient returns a client suited to the generator: enough idle connections for the rate,
// no redirects followed, no timeout of its own (each request carries one).
func NewHTTPClient() *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     30 * time.Second,
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// send sends request id, due at due, and returns its record. The timeout runs from the send, so
// the target always gets the whole of it; the latency runs from due, so it includes the send lag.
func (s *sender) send(id uint64, due time.Time) results.Record {
	if s.cfg.beforeSend != nil {
		s.cfg.beforeSend(id)
	}
	rec := results.Record{ID: id, Start: due, Source: results.SourceError, Attempts: results.UnknownAttempts}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
	defer cancel()
	rec.SendLag = time.Since(due)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.Target, nil)
	if err != nil {
		rec.Latency, rec.Error = time.Since(due), err.Error()
		return rec
	}
	req.Header.Set(results.RequestIDHeader, strconv.FormatUint(id, 10))
	if s.cfg.TraceSample > 0 {
		tp, err := newTraceparent(s.cfg.TraceSample)
		if err != nil {
			rec.Latency, rec.Error = time.Since(due), err.Error()
			return rec
		}
		req.Header.Set(TraceparentHeader, tp.String())
		rec.TraceID = tp.TraceID()
	}
	resp, err := s.client.Do(req)
	if err != nil {
		rec.Latency, rec.Error = time.Since(due), describe(err, s.cfg.Timeout)
		return rec
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	rec.Latency = time.Since(due)
	rec.Status = resp.StatusCode
	if err != nil {
		rec.Status = 0
		rec.Error = "reading answer: " + describe(err, s.cfg.Timeout)
		return rec
	}
	classify(&rec, body)
	return rec
}

// answer is the part of client-service's /api/data answer the generator records. Attempts is a
// pointer so that an answer without the field (not the client's JSON) leaves the count unknown.
type answer struct {
	Source   string          `json:"source"`
	Attempts *int            `json:"attempts"`
	Breaker  string          `json:"circuitBreakerState"`
	Error    string          `json:"error"`
	Data     json.RawMessage `json:"data"`
}

// maxTiers bounds how deep classify looks into the answers of tiers below the entry.
const maxTiers = 32

// lowerFallback is the error of the first fallback among the answers nested in data: with a
// call graph, a tier relays the answer of the tier it calls as its "data", so a fallback made
// by a lower tier reaches the user inside a chain of "backend" answers. ok is false when every
// nested answer came from its backend (or data is not a tier's answer: the backend's own JSON
// has no "source").
func lowerFallback(data json.RawMessage) (errText string, ok bool) {
	for range maxTiers {
		var a answer
		if len(data) == 0 || json.Unmarshal(data, &a) != nil || a.Source == "" {
			return "", false
		}
		if a.Source == results.SourceFallback {
			return a.Error, true
		}
		data = a.Data
	}
	return "", false
}

// classify fills in what the answer says. A 200 answer is classified by its "source" field
// (backend or fallback; a 200 without one counts as backend), and is a fallback too when a tier
// below the entry answered with one (lowerFallback); anything else is an error. The
// attempts and breaker state come from the client's JSON; a body that is not it still counts by
// its status, with the attempts unknown.
func classify(rec *results.Record, body []byte) {
	var a answer
	if json.Unmarshal(body, &a) != nil {
		a = answer{}
	}
	if a.Attempts != nil {
		rec.Attempts = *a.Attempts
	}
	rec.Breaker = a.Breaker
	switch {
	case rec.Status == http.StatusOK && a.Source == results.SourceFallback:
		rec.Source, rec.Error = results.SourceFallback, a.Error
	case rec.Status == http.StatusOK:
		rec.Source = results.SourceBackend
		if e, ok := lowerFallback(a.Data); ok {
			rec.Source, rec.Error = results.SourceFallback, e
		}
	default:
		rec.Source = results.SourceError
		rec.Error = fmt.Sprintf("HTTP %d", rec.Status)
		if a.Error != "" {
			rec.Error += ": " + a.Error
		}
	}
}

// describe says why a request failed; a timeout reads the same whichever layer noticed it.
func describe(err error, timeout time.Duration) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Sprintf("timeout: no answer within %v of the send", timeout)
	}
	return err.Error()
}
