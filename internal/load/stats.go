package load

import (
	"sync"
	"time"

	"chaoslab/internal/results"
)

// Counter keeps running totals of records for a live status line. It is safe for concurrent use.
type Counter struct {
	mu        sync.Mutex
	total     int
	backend   int
	fallbacks int
	errors    int
	dropped   int
	lastState string
	maxLat    time.Duration
}

// Add counts one record. A dropped one counts only as dropped: it is neither an error nor a
// latency.
func (c *Counter) Add(r results.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total++
	switch r.Source {
	case results.SourceBackend:
		c.backend++
	case results.SourceFallback:
		c.fallbacks++
	case results.SourceDropped:
		c.dropped++
		return
	default:
		c.errors++
	}
	if r.Breaker != "" {
		c.lastState = r.Breaker
	}
	if r.Latency > c.maxLat {
		c.maxLat = r.Latency
	}
}

// Totals is a copy of a Counter's numbers. Requests counts every arrival, sent or not:
// Requests = Backend + Fallbacks + Errors + Dropped.
type Totals struct {
	Requests   int
	Backend    int
	Fallbacks  int
	Errors     int           // sent, with no usable answer (non-200, timeout, refused)
	Dropped    int           // not sent: the in-flight cap was reached (results.SourceDropped)
	Breaker    string        // last breaker state the client reported
	MaxLatency time.Duration // of the requests sent
}

// Totals returns the numbers so far.
func (c *Counter) Totals() Totals {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Totals{Requests: c.total, Backend: c.backend, Fallbacks: c.fallbacks, Errors: c.errors, Dropped: c.dropped,
		Breaker: c.lastState, MaxLatency: c.maxLat}
}

// Recorder collects every record in memory. It is safe for concurrent use.
type Recorder struct {
	mu   sync.Mutex
	recs []results.Record
	Counter
}

// Add keeps r and counts it.
func (rc *Recorder) Add(r results.Record) {
	rc.mu.Lock()
	rc.recs = append(rc.recs, r)
	rc.mu.Unlock()
	rc.Counter.Add(r)
}

// Records returns the records so far, sorted by scheduled start (then ID).
func (rc *Recorder) Records() []results.Record {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]results.Record, len(rc.recs))
	copy(out, rc.recs)
	sortByStart(out)
	return out
}
