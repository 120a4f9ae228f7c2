package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"chaoslab/internal/fault"
	"chaoslab/internal/stack"
)

// serviceStack is the running lab the service bench measures, with the breaker's timeline, and
// the calls the bench makes to it: the fault API (partition, heal) and the backend's counter.
type serviceStack struct {
	stack    *stack.Stack
	timeline *Timeline
}

// apiTimeout bounds each of the bench's own calls to the lab (never the measured traffic).
const apiTimeout = 5 * time.Second

// partitionToxics are the network-partition experiment's two toxics, a blackhole both ways,
// by toxic name and stream.
func partitionToxics() [][2]string {
	return [][2]string{{"partition-downstream", "downstream"}, {"partition-upstream", "upstream"}}
}

// partition adds the blackhole on the proxy in front of the backend, as the network-partition
// experiment does, through the same fault API.
func (s *serviceStack) partition(ctx context.Context) error {
	for _, t := range partitionToxics() {
		body := fmt.Sprintf(`{"name":%q,"type":"timeout","stream":%q,"toxicity":1,"attributes":{"timeout":0}}`, t[0], t[1])
		if _, _, err := do(ctx, http.MethodPost, s.stack.FaultURL+"/proxies/"+fault.ProxyName+"/toxics", body, http.StatusOK); err != nil {
			return fmt.Errorf("partition the backend: %w", err)
		}
	}
	return nil
}

// heal removes the partition's toxics; one that is not there is not an error.
func (s *serviceStack) heal(ctx context.Context) error {
	var errs []error
	for _, t := range partitionToxics() {
		url := s.stack.FaultURL + "/proxies/" + fault.ProxyName + "/toxics/" + t[0]
		if _, _, err := do(ctx, http.MethodDelete, url, "", http.StatusNoContent, http.StatusOK, http.StatusNotFound); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("heal the partition: %w", err)
	}
	return nil
}

// proxyListen is the address of the fault proxy in front of the backend: client-service's
// BACKEND_URL, to which the closed loop's other targets forward as well.
func (s *serviceStack) proxyListen(ctx context.Context) (string, error) {
	_, b, err := do(ctx, http.MethodGet, s.stack.FaultURL+"/proxies/"+fault.ProxyName, "", http.StatusOK)
	if err != nil {
		return "", fmt.Errorf("find the fault proxy's address: %w", err)
	}
	var p struct {
		Listen string `json:"listen"`
	}
	if err := json.Unmarshal(b, &p); err != nil || p.Listen == "" {
		return "", fmt.Errorf("find the fault proxy's address: no \"listen\" in %.200s", b)
	}
	return p.Listen, nil
}

// DataRoute is the backend's route whose served requests the count checks read.
const DataRoute = "GET /api/data"

// counters are the counts a count check reads from the services themselves.
type counters struct {
	served int64 // the backend's GET /api/data answered, any status
	failed int64 // client-service's breaker calls that failed or were ignored (cut short)
}

// counters reads the backend's and client-service's own counters.
func (s *serviceStack) counters(ctx context.Context) (counters, error) {
	var c counters
	_, b, err := do(ctx, http.MethodGet, s.stack.BackendURL+"/metrics", "", http.StatusOK)
	if err != nil {
		return c, fmt.Errorf("read the backend's counters: %w", err)
	}
	if c.served, err = ServedFromMetrics(b); err != nil {
		return c, err
	}
	_, b, err = do(ctx, http.MethodGet, s.stack.ClientURL+"/metrics", "", http.StatusOK)
	if err != nil {
		return c, fmt.Errorf("read client-service's counters: %w", err)
	}
	c.failed, err = FailedFromMetrics(b)
	return c, err
}

// ServedFromMetrics sums http_server_requests_total{uri="GET /api/data"} in a Prometheus text page.
func ServedFromMetrics(page []byte) (int64, error) {
	return sumSeries(page, "http_server_requests_total", "uri", DataRoute)
}

// FailedFromMetrics sums client-service's breaker calls of kind failed and ignored
// (resilience4j_circuitbreaker_calls_seconds' counts) in a Prometheus text page.
func FailedFromMetrics(page []byte) (int64, error) {
	failed, err := sumSeries(page, "resilience4j_circuitbreaker_calls_seconds", "kind", "failed")
	if err != nil {
		return 0, err
	}
	ignored, err := sumSeries(page, "resilience4j_circuitbreaker_calls_seconds", "kind", "ignored")
	return failed + ignored, err
}

// sumSeries adds up the series of family name whose label has value: a counter's values, or a
// histogram's counts.
func sumSeries(page []byte, name, label, value string) (int64, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(page)))
	if err != nil {
		return 0, fmt.Errorf("parse a /metrics page: %w", err)
	}
	var n float64
	for _, m := range fams[name].GetMetric() {
		if slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == label && l.GetValue() == value }) {
			n += m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return int64(n), nil
}

// settle waits until the backend's counter has grown by at least answers since base (it counts
// a request after its answer is written, so a moment after the bench has read it), or until
// settleWait has passed, and returns the check, widened by the failed calls since base and
// extra (failures the bench saw itself).
func (s *serviceStack) settle(ctx context.Context, part string, base counters, answers, extra int64) (CountCheck, error) {
	deadline := time.Now().Add(settleWait)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		now, err := s.counters(ctx)
		if err != nil {
			return CountCheck{}, err
		}
		c := CountCheck{Part: part, Served: now.served - base.served, Counted: answers, Failed: now.failed - base.failed + extra}
		if c.Served >= answers || time.Now().After(deadline) {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return c, context.Cause(ctx)
		case <-tick.C:
		}
	}
}

// settleWait bounds how long settle waits for the backend's counter to catch up.
const settleWait = 2 * time.Second

// do sends one request of the bench's own (bounded by apiTimeout) and checks its status.
func do(ctx context.Context, method, url, body string, want ...int) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: read the answer: %w", method, url, err)
	}
	if !slices.Contains(want, resp.StatusCode) {
		return resp.StatusCode, b, fmt.Errorf("%s %s: HTTP %d: %.200s", method, url, resp.StatusCode, b)
	}
	return resp.StatusCode, b, nil
}
