package live

import (
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"chaoslab/internal/results"
)

// queueSize is how many messages a viewer may have waiting. A viewer that falls that far
// behind is dropped: its stream ends and its browser reconnects to a fresh snapshot.
const queueSize = 512

// Message types of the stream.
const (
	msgSnapshot = "snapshot"
	msgEvent    = "event"
	msgRecord   = "record"
	msgChart    = "chart"
	msgCounters = "counters"
	msgDone     = "done"
)

// message is one message of the stream: its type and its data, encoded as JSON by the viewer's
// handler. Data is never modified once published.
type message struct {
	Type string
	Data any
}

// subscriber is one viewer's queue.
type subscriber struct {
	queue chan message
	gone  chan struct{} // closed when the viewer is dropped or leaves
}

// Hub collects what a run reports and hands it to the viewers of the live page. It is safe for
// concurrent use, and its methods never block their callers: they take a short lock, and each
// viewer's message is queued without waiting (a viewer whose queue is full is dropped). Info,
// Event, Record and Done may be called before any server starts, and while none runs.
type Hub struct {
	mu      sync.Mutex
	now     func() time.Time
	after   func(time.Duration, func()) // time.AfterFunc; tests hold the renders
	log     *slog.Logger
	st      state
	hasInfo bool      // Info was called: a later call with another run starts afresh
	first   time.Time // the earliest time seen: the origin when RunInfo has no Start
	records []results.Record
	events  []results.Event
	samples []results.CapacitySample // the backend's capacity model, as the lab sampled it
	run     results.RunInfo          // the run's settings as Info gave them (the analysis reads more than the page shows)
	subs    map[*subscriber]struct{}
	draw    drawing

	// testHookSubscribed, when set, is called (without the lock) after a viewer subscribed.
	testHookSubscribed func()
}

// NewHub returns an empty hub: no run yet, the breaker CLOSED.
func NewHub() *Hub {
	h := &Hub{now: time.Now, after: func(d time.Duration, f func()) { time.AfterFunc(d, f) },
		log: slog.New(slog.NewTextHandler(io.Discard, nil)), subs: map[*subscriber]struct{}{}}
	h.resetLocked()
	h.st.Info = newInfoView(results.RunInfo{})
	return h
}

// setLogger sets where the hub says what went wrong (a chart it could not draw).
func (h *Hub) setLogger(l *slog.Logger) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.log = l
}

// Info sets the run's settings (title, stack, resilience, rps). It may be called again: with
// the same run (the same Label and Start) it updates them; with another run (a compare's second
// run) the page starts afresh. Either way every viewer gets a new snapshot.
func (h *Hub) Info(info results.RunInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if old := h.st.Info; h.hasInfo && (old.Label != info.Label || !old.Start.Equal(info.Start)) {
		h.resetLocked()
	}
	h.hasInfo = true
	h.st.Info, h.run = newInfoView(info), info
	if !results.HasBreaker(info.Resilience) {
		h.st.Status.Breaker = breakerNone
	} else if h.st.Status.Breaker == breakerNone {
		h.st.Status.Breaker = results.BreakerClosed
	}
	h.changedLocked()
	h.publishLocked(message{msgSnapshot, h.st.clone()})
}

// resetLocked forgets the run so far: a new one begins.
func (h *Hub) resetLocked() {
	h.st = state{Status: status{Breaker: results.BreakerClosed}, Counters: countersOf(emptyTotals),
		Activities: []activity{}, Log: []logLine{}}
	h.first, h.records, h.events, h.samples = time.Time{}, nil, nil, nil
	h.draw.epoch++
}

// Event adds an event of the run. It is meant for results.EventLog.Observe: it only queues.
func (h *Hub) Event(e results.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen(e.Time)
	h.events = append(h.events, e)
	act, line := h.st.apply(e, h.originLocked())
	h.changedLocked()
	h.publishLocked(message{msgEvent, eventMsg{Event: e, Status: h.st.Status.clone(), Activity: act, Log: line}})
}

// Record adds a finished load request.
func (h *Hub) Record(r results.Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen(r.Start)
	h.records = append(h.records, r)
	h.changedLocked()
	h.publishLocked(message{msgRecord, newRecordView(r, h.originLocked())})
}

// Capacity adds a sample of the backend's capacity model: the page draws the goodput and the
// capacity chart once there is one.
func (h *Hub) Capacity(s results.CapacitySample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen(s.Time)
	h.samples = append(h.samples, s)
	h.changedLocked()
}

// Done says the run ended: the page shows the verdict and links the report at reportPath (a
// report.html, or the run folder holding it), when it lies in the server's ResultsDir.
func (h *Hub) Done(reportPath string, verdict string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.st.Done = &doneView{Verdict: verdict, Passed: strings.HasPrefix(verdict, "PASSED"), Path: reportPath}
	h.changedLocked()
	d := *h.st.Done
	h.publishLocked(message{msgDone, &d})
}

// done reports whether the run ended.
func (h *Hub) done() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.st.Done != nil
}

// title returns the run's title.
func (h *Hub) title() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.st.Info.Title
}

// seen keeps the earliest time of the run.
func (h *Hub) seen(t time.Time) {
	if !t.IsZero() && (h.first.IsZero() || t.Before(h.first)) {
		h.first = t
	}
}

// originLocked is the moment the page's offsets count from: the run's start, or the earliest
// time seen when the run gave none.
func (h *Hub) originLocked() time.Time {
	if !h.st.Info.Start.IsZero() {
		return h.st.Info.Start
	}
	return h.first
}

// subscribe adds a viewer and returns its queue and the state it starts from.
func (h *Hub) subscribe() (*subscriber, state) {
	h.mu.Lock()
	s := &subscriber{queue: make(chan message, queueSize), gone: make(chan struct{})}
	h.subs[s] = struct{}{}
	snap := h.st.clone()
	h.kickLocked()
	hook := h.testHookSubscribed
	h.mu.Unlock()
	if hook != nil {
		hook()
	}
	return s, snap
}

// unsubscribe removes a viewer that left; dropping it twice is harmless.
func (h *Hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropLocked(s)
}

func (h *Hub) dropLocked(s *subscriber) {
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.gone)
	}
}

// subscribers returns how many viewers are connected.
func (h *Hub) subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// publishLocked queues m for every viewer without waiting; a viewer whose queue is full is
// dropped.
func (h *Hub) publishLocked(m message) {
	for s := range h.subs {
		select {
		case s.queue <- m:
		default:
			h.dropLocked(s)
		}
	}
}
