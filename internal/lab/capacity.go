package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"chaoslab/internal/results"
)

// capacityEvery is how often the lab reads the backend's capacity model while a run goes.
const capacityEvery = time.Second

// capacityTimeout bounds one reading: a backend that does not answer in time gives no sample
// for that moment.
const capacityTimeout = 2 * time.Second

// capacityPath is backend-service's endpoint of its capacity model.
const capacityPath = "/api/capacity"

// capacityMetric is the series backend-service exports only while its capacity model is on.
const capacityMetric = "backend_workers"

// errCapacityOff is a backend that answers it has no capacity model (409).
var errCapacityOff = errors.New("the backend runs without a capacity model")

// sampler reads backend-service's GET /api/capacity through the stack's backend URL (plain
// HTTP, so it works on every stack): once when the run starts, then every capacityEvery, and
// once more when it ends. It is safe for concurrent use; a nil *sampler (the model is off)
// samples nothing.
type sampler struct {
	url      string
	every    time.Duration
	client   *http.Client
	log      *slog.Logger
	onSample func(results.CapacitySample) // told of every sample as it is read (the live page); nil = nobody

	stop context.CancelFunc
	done chan struct{}

	mu      sync.Mutex
	samples []results.CapacitySample
}

// startSampler asks the backend's GET /metrics whether its capacity model is on (the backend_*
// series exist only then; /metrics counts no request, so a backend without the model is left
// exactly as a run before sampling existed left it). When it is, the first reading of GET
// /api/capacity is the first sample and the sampler goes on reading every capacityEvery until
// finish; when it is not, or the model's answer is not the model's, or there is no backend URL,
// it returns nil: nothing is sampled and nothing is written.
func startSampler(ctx context.Context, backendURL string, log *slog.Logger, onSample func(results.CapacitySample)) *sampler {
	return startSamplerEvery(ctx, backendURL, capacityEvery, log, onSample)
}

// startSamplerEvery is startSampler reading every every.
func startSamplerEvery(ctx context.Context, backendURL string, every time.Duration, log *slog.Logger, onSample func(results.CapacitySample)) *sampler {
	if backendURL == "" {
		return nil
	}
	base := strings.TrimSuffix(backendURL, "/")
	s := &sampler{url: base + capacityPath, every: every, client: &http.Client{Timeout: capacityTimeout},
		log: log.With("component", "capacity"), onSample: onSample, done: make(chan struct{})}
	if err := s.modelOn(ctx, base+"/metrics"); err != nil {
		s.log.Info("no capacity samples", "url", base+"/metrics", "error", err)
		return nil
	}
	first, err := s.read(ctx)
	if err != nil {
		level := slog.LevelWarn
		if errors.Is(err, errCapacityOff) {
			level = slog.LevelInfo
		}
		s.log.Log(ctx, level, "no capacity samples", "url", s.url, "error", err)
		return nil
	}
	s.keep(first)
	s.log.Info("sampling the backend's capacity model", "url", s.url, "every", s.every)
	loopCtx, stop := context.WithCancel(ctx)
	s.stop = stop
	go s.loop(loopCtx)
	return s
}

// loop reads a sample every s.every until ctx ends. A reading that fails (the backend
// killed by the experiment, say) is skipped.
func (s *sampler) loop(ctx context.Context) {
	defer close(s.done)
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if smp, err := s.read(ctx); err == nil {
			s.keep(smp)
		} else if ctx.Err() == nil {
			s.log.Debug("capacity sample skipped", "error", err)
		}
	}
}

// finish stops the periodic readings, reads the last sample (the run's end) and returns every
// sample in time order; nil for a nil sampler.
func (s *sampler) finish(ctx context.Context) []results.CapacitySample {
	if s == nil {
		return nil
	}
	s.stop()
	<-s.done
	if smp, err := s.read(ctx); err == nil {
		s.keep(smp)
	} else {
		s.log.Warn("no capacity sample at the end of the run", "error", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.samples)
}

func (s *sampler) keep(smp results.CapacitySample) {
	s.mu.Lock()
	s.samples = append(s.samples, smp)
	s.mu.Unlock()
	if s.onSample != nil {
		s.onSample(smp)
	}
}

// modelOn reads the backend's metrics page: nil when it has the capacity model's series.
func (s *sampler) modelOn(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, capacityMetric+" ") || strings.HasPrefix(l, capacityMetric+"{") {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return errCapacityOff
}

// read takes one sample: GET /api/capacity, 200 with the model's JSON (a queue order is always
// set), dated when the answer was read.
func (s *sampler) read(ctx context.Context) (results.CapacitySample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return results.CapacitySample{}, fmt.Errorf("GET %s: %w", s.url, err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return results.CapacitySample{}, fmt.Errorf("GET %s: %w", s.url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case err != nil:
		return results.CapacitySample{}, fmt.Errorf("GET %s: %w", s.url, err)
	case resp.StatusCode == http.StatusConflict:
		return results.CapacitySample{}, errCapacityOff
	case resp.StatusCode != http.StatusOK:
		return results.CapacitySample{}, fmt.Errorf("GET %s: HTTP %d", s.url, resp.StatusCode)
	}
	var smp results.CapacitySample
	if err := json.Unmarshal(body, &smp); err != nil || smp.QueueOrder == "" {
		return results.CapacitySample{}, fmt.Errorf("GET %s: the answer is not a capacity model (%.80q)", s.url, body)
	}
	smp.Time = time.Now().UTC()
	return smp, nil
}
