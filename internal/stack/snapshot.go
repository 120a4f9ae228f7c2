package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"chaoslab/internal/results"
)

// keyMetric says whether a metric family belongs in a snapshot: the resilience series, the
// fallback counter, the HTTP server counters and the backend's capacity model (which exports
// nothing when it is off).
func keyMetric(name string) bool {
	for _, p := range []string{"resilience4j_", "client_", "http_server_", "http_requests_", "backend_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Snapshot observes every service (both, or the backend and each tier), like one run of the
// guide's observe-system.sh: process status, health, each client-service's /api/resilience and
// key metrics.
func (s *Stack) Snapshot(ctx context.Context, moment string) results.Snapshot {
	snap := results.Snapshot{Time: time.Now().UTC(), Moment: moment, Services: map[string]results.ServiceSnapshot{}}
	urls := s.serviceURLs()
	client := &http.Client{Timeout: 2 * time.Second}
	for name, base := range urls {
		var ss results.ServiceSnapshot
		if c := s.service(name); c != nil {
			ss.Running = c.running()
			ss.Restarts = c.restarts
			if c.cmd.Process != nil {
				ss.PID = c.cmd.Process.Pid
			}
		}
		var errs []string
		ss.Healthz = statusOf(ctx, client, base+"/healthz")
		ss.Readyz = statusOf(ctx, client, base+"/readyz")
		if s.clients[name] {
			if b, err := fetch(ctx, client, base+"/api/resilience"); err != nil {
				errs = append(errs, err.Error())
			} else if json.Valid(b) {
				ss.Resilience = b
			}
		}
		m, err := scrape(ctx, client, base+"/metrics")
		if err != nil {
			errs = append(errs, err.Error())
		}
		ss.Metrics = m
		ss.Error = strings.Join(errs, "; ")
		snap.Services[name] = ss
	}
	if s.injector != nil {
		st := results.InjectorStats(s.injector.Stats())
		snap.Injector = &st
	}
	return snap
}

func statusOf(ctx context.Context, c *http.Client, url string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func fetch(ctx context.Context, c *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return b, nil
}

// scrape reads a Prometheus text endpoint and keeps the key series as "name{labels}" -> value;
// histograms and summaries become their _count and _sum.
func scrape(ctx context.Context, c *http.Client, url string) (map[string]float64, error) {
	b, err := fetch(ctx, c, url)
	if err != nil {
		return nil, err
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", url, err)
	}
	out := map[string]float64{}
	for name, fam := range fams {
		if !keyMetric(name) {
			continue
		}
		for _, m := range fam.GetMetric() {
			addSeries(out, name, m)
		}
	}
	return out, nil
}

func addSeries(out map[string]float64, name string, m *dto.Metric) {
	var labels []string
	for _, l := range m.GetLabel() {
		labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	sort.Strings(labels)
	key := func(suffix string) string {
		if len(labels) == 0 {
			return name + suffix
		}
		return name + suffix + "{" + strings.Join(labels, ",") + "}"
	}
	switch {
	case m.Counter != nil:
		out[key("")] = m.Counter.GetValue()
	case m.Gauge != nil:
		out[key("")] = m.Gauge.GetValue()
	case m.Histogram != nil:
		out[key("_count")] = float64(m.Histogram.GetSampleCount())
		out[key("_sum")] = m.Histogram.GetSampleSum()
	case m.Summary != nil:
		out[key("_count")] = float64(m.Summary.GetSampleCount())
		out[key("_sum")] = m.Summary.GetSampleSum()
	case m.Untyped != nil:
		out[key("")] = m.Untyped.GetValue()
	}
}
