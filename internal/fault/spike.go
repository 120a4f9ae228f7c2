package fault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"chaoslab/internal/load"
	"chaoslab/internal/results"
)

// Bounds of a load spike: beyond them a request is a mistake, not an experiment.
const (
	maxSpikeRate        = 2000.0 // requests per second, over every target
	maxSpikeDuration    = 10 * time.Minute
	maxSpikeTimeout     = time.Minute
	defaultSpikeTimeout = 5 * time.Second
	maxSpikeInFlight    = 1000 // requests of one spike in flight at once, over every target
)

// spikes sends load spikes: extra GET /api/data requests to the entry clients at an open-loop
// rate for a while, on top of whatever load runs already (the lab's own load keeps measuring).
// One spike runs at a time. It is safe for concurrent use.
//
// A spike's requests carry no X-Request-Id (the load generator's is removed), so the lab's
// per-request figures, which join the services' records to the lab's load by that id, never
// count them; the services' own counters do.
type spikes struct {
	check func(time.Time)

	mu      sync.Mutex
	clients []string // the entry clients' base URLs
	jobs    map[string]*spikeJob
	closed  bool
	wg      sync.WaitGroup
}

// spikeRecord is a spike as the API shows it.
type spikeRecord struct {
	Name         string     `json:"name"`
	Rate         float64    `json:"rate"`     // requests per second, over every target
	Duration     string     `json:"duration"` // of the sending
	Timeout      string     `json:"timeout"`  // of each request, from its send
	Targets      []string   `json:"targets"`  // the URLs it sends to, the rate split evenly
	Started      time.Time  `json:"started"`
	Sending      bool       `json:"sending"`                 // requests are being sent now: the fault is in effect
	SendingEnded *time.Time `json:"sending_ended,omitempty"` // when the sending stopped (its duration, or a stop)
	Ended        *time.Time `json:"ended,omitempty"`         // when the last request in flight ended
	SpikeCounts
}

// spikeJob is one spike: its record (guarded by spikes.mu, but for the counters) and its run.
type spikeJob struct {
	spikeRecord
	duration, timeout time.Duration
	stop              context.CancelFunc // ends the sending and cuts the requests in flight
	done              chan struct{}
	sent, answered    atomic.Int64
	fallback, failed  atomic.Int64
	dropped           atomic.Int64
}

// SpikeCounts are a spike's requests so far, counted by the spike itself: every request sent
// is answered, failed or still in flight; a dropped one was never sent.
type SpikeCounts struct {
	Sent     int64 `json:"sent"`     // requests sent
	Answered int64 `json:"answered"` // answered 200 (by the backend or a fallback)
	Fallback int64 `json:"fallback"` // of the answered, the fallback answers
	Failed   int64 `json:"failed"`   // any other status, no answer, or cut by a stop
	InFlight int64 `json:"in_flight"`
	Dropped  int64 `json:"dropped"` // not sent: the spike's in-flight bound was reached
}

// spikeRequest is the body of POST /faults/spike.
type spikeRequest struct {
	Name     string          `json:"name"`
	Rate     float64         `json:"rate"`
	Duration json.RawMessage `json:"duration_s"` // seconds, or a duration such as "5s"
	Timeout  json.RawMessage `json:"timeout_s"`  // of each request; default defaultSpikeTimeout
}

func newSpikes(check func(time.Time), clients []string) *spikes {
	return &spikes{check: check, clients: slices.Clone(clients), jobs: map[string]*spikeJob{}}
}

// setClients sets the entry clients' base URLs a spike sends to.
func (s *spikes) setClients(urls []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients = slices.Clone(urls)
}

func (s *spikes) register(mux *http.ServeMux) {
	jobRoutes[*spikeJob, spikeRecord]{what: "load spike", names: s.names, find: s.find, record: s.record,
		done: func(j *spikeJob) <-chan struct{} { return j.done }, stop: func(j *spikeJob) { j.stop() },
	}.register(mux, "/faults/spike", s.handleCreate)
}

func (r spikeRequest) job(clients []string) (*spikeJob, error) {
	if !namePattern.MatchString(r.Name) {
		return nil, fmt.Errorf("name %q: 1 to 64 letters, digits, '.', '_' or '-'", r.Name)
	}
	if !(r.Rate > 0 && r.Rate <= maxSpikeRate) { // also refuses NaN
		return nil, fmt.Errorf("rate %g: must be above 0 and at most %g requests per second", r.Rate, maxSpikeRate)
	}
	d, err := parseSeconds(r.Duration, "duration_s")
	if err != nil {
		return nil, err
	}
	if d <= 0 || d > maxSpikeDuration {
		return nil, fmt.Errorf("duration_s %v: must be above 0 and at most %v", d, maxSpikeDuration)
	}
	timeout, err := parseSeconds(r.Timeout, "timeout_s")
	if err != nil {
		return nil, err
	}
	if len(r.Timeout) == 0 {
		timeout = defaultSpikeTimeout
	}
	if timeout <= 0 || timeout > maxSpikeTimeout {
		return nil, fmt.Errorf("timeout_s %v: must be above 0 and at most %v", timeout, maxSpikeTimeout)
	}
	targets := make([]string, len(clients))
	for i, c := range clients {
		targets[i] = strings.TrimSuffix(c, "/") + "/api/data"
	}
	rec := spikeRecord{Name: r.Name, Rate: r.Rate, Duration: d.String(), Timeout: timeout.String(), Targets: targets}
	return &spikeJob{spikeRecord: rec, duration: d, timeout: timeout, done: make(chan struct{})}, nil
}

func (s *spikes) handleCreate(w http.ResponseWriter, r *http.Request) {
	var req spikeRequest
	if err := decodeStrict(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	clients := s.clients
	s.mu.Unlock()
	if len(clients) == 0 {
		writeError(w, http.StatusNotImplemented, "this fault API knows no client to send a load spike to (the Kubernetes sidecar fronts the backend only): run the spike on the local stack")
		return
	}
	j, err := req.job(clients)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if code, err := s.start(j); err != nil {
		writeError(w, code, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, s.record(j))
}

// start runs the spike in the background; an ended spike of the same name is replaced.
func (s *spikes) start(j *spikeJob) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return http.StatusConflict, errors.New("the lab is shutting down")
	}
	for _, o := range s.jobs {
		if o.Ended == nil {
			return http.StatusConflict, fmt.Errorf("load spike %q is running: DELETE /faults/spike/%s first", o.Name, o.Name)
		}
	}
	stopCtx, stop := context.WithCancel(context.Background())
	j.stop, j.Started, j.Sending = stop, time.Now().UTC(), true
	s.jobs[j.Name] = j
	s.wg.Add(1)
	go s.run(stopCtx, j)
	return 0, nil
}

// run sends the spike: one open-loop generator per target at its share of the rate, until the
// duration has passed or the spike is stopped; then it waits for the requests in flight (each
// bounded by the timeout, cut at once by a stop).
func (s *spikes) run(stopCtx context.Context, j *spikeJob) {
	defer s.wg.Done()
	defer close(j.done)
	sendCtx, cancel := context.WithTimeout(stopCtx, j.duration)
	defer cancel()
	client := load.NewHTTPClient()
	client.Transport = spikeTransport{base: client.Transport, stop: stopCtx, sent: &j.sent}
	defer client.CloseIdleConnections()
	rate := j.Rate / float64(len(j.Targets))
	inFlight := min(int(rate*j.timeout.Seconds())+10, max(1, maxSpikeInFlight/len(j.Targets)))
	var gens sync.WaitGroup
	for _, target := range j.Targets {
		gens.Go(func() {
			cfg := load.Config{Target: target, RPS: rate, Timeout: j.timeout, MaxInFlight: inFlight}
			_ = load.Run(sendCtx, cfg, client, j.count) // cannot fail: job() checked the same bounds
		})
	}
	<-sendCtx.Done()
	s.mark(j, func(now time.Time) { j.Sending, j.SendingEnded = false, &now })
	s.check(time.Now())
	gens.Wait()
	s.mark(j, func(now time.Time) { j.Ended = &now })
}

// mark changes a job under the lock, with the time of the change.
func (s *spikes) mark(j *spikeJob, change func(now time.Time)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	change(time.Now().UTC())
}

// count counts one request of the spike as the load generator recorded it.
func (j *spikeJob) count(r results.Record) {
	switch {
	case r.Source == results.SourceDropped:
		j.dropped.Add(1)
	case r.Status == http.StatusOK:
		j.answered.Add(1)
		if r.Source == results.SourceFallback {
			j.fallback.Add(1)
		}
	default:
		j.failed.Add(1)
	}
}

// counts reads the counters: answered and failed first, so in flight is never negative.
func (j *spikeJob) counts() SpikeCounts {
	c := SpikeCounts{Answered: j.answered.Load(), Fallback: j.fallback.Load(), Failed: j.failed.Load(), Dropped: j.dropped.Load()}
	c.Sent = j.sent.Load()
	c.InFlight = max(0, c.Sent-c.Answered-c.Failed)
	return c
}

// record copies a job's record under the lock, with its counts now.
func (s *spikes) record(j *spikeJob) spikeRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := j.spikeRecord
	rec.SpikeCounts = j.counts()
	return rec
}

func (s *spikes) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.jobs))
}

func (s *spikes) find(name string) *spikeJob {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobs[name]
}

// Injected lists the spikes sending now.
func (s *spikes) Injected() []Injected {
	s.mu.Lock()
	defer s.mu.Unlock()
	var in []Injected
	for _, n := range slices.Sorted(maps.Keys(s.jobs)) {
		if j := s.jobs[n]; j.Sending {
			in = append(in, Injected{Kind: KindSpike, Detail: fmt.Sprintf("load spike of %g requests/s for %s to %s (spike %s)", j.Rate, j.Duration, strings.Join(j.Targets, ", "), j.Name), Target: strings.Join(j.Targets, ",")})
		}
	}
	return in
}

// scheduled lists the spikes not ended: sending, or waiting for their requests in flight.
func (s *spikes) scheduled() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, n := range slices.Sorted(maps.Keys(s.jobs)) {
		switch j := s.jobs[n]; {
		case j.Ended != nil:
		case j.Sending:
			out = append(out, fmt.Sprintf("load spike %s is sending", j.Name))
		default:
			out = append(out, fmt.Sprintf("load spike %s has %d requests in flight", j.Name, j.counts().InFlight))
		}
	}
	return out
}

// stop ends every spike, cutting the requests in flight, and waits for them. After a stop with
// closing, no spike starts.
func (s *spikes) stop(closing bool) {
	s.mu.Lock()
	s.closed = s.closed || closing
	for _, j := range s.jobs {
		j.stop()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// spikeTransport sends a spike's requests: it removes the load generator's X-Request-Id (a
// spike is not the lab's load), counts each send, and cuts a request in flight when the spike
// is stopped.
type spikeTransport struct {
	base http.RoundTripper
	stop context.Context
	sent *atomic.Int64
}

func (t spikeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	unhook := context.AfterFunc(t.stop, cancel)
	release := func() { unhook(); cancel() }
	out := req.Clone(ctx)
	out.Header.Del(results.RequestIDHeader)
	t.sent.Add(1)
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		release()
		return nil, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: release}
	return resp, nil
}

// releasingBody releases its request's context once the body is closed.
type releasingBody struct {
	io.ReadCloser
	release func()
}

func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}
