package capacity

import (
	"container/list"
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Outcome is what became of one request that went through a Pool.
type Outcome int

// The outcomes of Pool.Do, and the counter of Stats each one adds to.
const (
	Completed Outcome = iota // served in full for a caller still waiting (Completed)
	Wasted                   // served in full after its caller had gone or past its deadline (Wasted)
	Cut                      // its deadline passed in service: the work stopped, the worker freed (Wasted)
	Rejected                 // the queue was full when it arrived (Rejected)
	Expired                  // its deadline passed while it waited: dropped from the queue (Expired)
	Closed                   // the pool closed before its work ended (not counted)

	admitted Outcome = -1 // holds a worker or a place in the queue; internal
)

var outcomeNames = [...]string{"completed", "wasted", "cut", "rejected", "expired", "closed"}

// String is the outcome's name in lower case.
func (o Outcome) String() string {
	if o < 0 || int(o) >= len(outcomeNames) {
		return fmt.Sprintf("Outcome(%d)", int(o))
	}
	return outcomeNames[o]
}

// Stats are a Pool's figures at one moment: two levels and four counters since it was made.
type Stats struct {
	InService int   // requests holding a worker
	Queued    int   // requests waiting for one
	Rejected  int64 // turned away because the queue was full
	Expired   int64 // dropped from the queue when their deadline passed
	Completed int64 // served for a caller still waiting
	Wasted    int64 // served, in full or until their deadline, for a caller that had gone
}

// Options are the parts of a Pool that never change.
type Options struct {
	// Rand draws the service times; the Pool guards it. Nil = seeded from the clock.
	Rand *rand.Rand
	// Work is the service of one request: it returns nil once d has passed, or an error if ctx
	// ends first. Nil = Wait. Tests pass their own to release requests when they choose.
	Work func(ctx context.Context, d time.Duration) error
}

// Pool is a server's finite capacity: workers, a bounded queue and a service time. Its settings
// change at run time (Update, Reset). It is safe for concurrent use.
type Pool struct {
	work  func(context.Context, time.Duration) error
	start Settings
	life  context.Context // done once Close is called
	stop  context.CancelFunc

	mu    sync.Mutex
	rand  *rand.Rand
	set   Settings
	busy  int       // requests holding a worker
	queue list.List // *waiter, oldest at the front
	stats Stats     // the counters; the levels are busy and queue.Len()
}

// waiter is a request in the queue.
type waiter struct {
	granted chan struct{} // closed when it gets a worker
	elem    *list.Element // its place in the queue; nil once it has left it
}

// New makes a Pool with the settings s, which Reset puts back.
func New(s Settings, o Options) (*Pool, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if o.Rand == nil {
		seed := uint64(time.Now().UnixNano())
		o.Rand = rand.New(rand.NewPCG(seed, 0))
	}
	if o.Work == nil {
		o.Work = Wait
	}
	life, stop := context.WithCancel(context.Background())
	return &Pool{work: o.Work, start: s, life: life, stop: stop, rand: o.Rand, set: s}, nil
}

// Wait is the default work: it holds no CPU and returns nil once d has passed, or ctx's cause
// if ctx ends first.
func Wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Close ends the pool: waiting requests leave the queue and work in service stops, all with
// the outcome Closed. Do calls after it return Closed at once.
func (p *Pool) Close() { p.stop() }
