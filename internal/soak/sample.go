package soak

import (
	"sync"
	"time"

	"chaoslab/internal/results"
)

// What a process's task count counts.
const (
	KindGoroutines = "goroutines" // runtime.NumGoroutine of chaoslab itself
	KindThreads    = "threads"    // Threads of /proc/PID/status: the services export no goroutine count
)

// Sample is one look at the load and at every process.
type Sample struct {
	Time    time.Time     // when it was taken
	Elapsed time.Duration // since the soak began
	Load    LoadCounts    // the load so far
	Fault   string        // the entry whose fault is being applied, in place or being removed ("" = none)
	Procs   []ProcSample  // one per Target, in the Targets' order
}

// ProcSample is one process at one moment.
type ProcSample struct {
	Name  string // "chaoslab", "backend-service", "client-service"
	PID   int    // 0 when the process could not be found
	RSS   int64  // resident memory, bytes
	Tasks int    // goroutines or threads, as TasksKind says
	Kind  string // KindGoroutines or KindThreads
	FDs   int    // open file descriptors
	Err   string // why it could not be read ("" = it was); the numbers are then 0
}

// OK says whether the process was read.
func (p ProcSample) OK() bool { return p.Err == "" }

// Target is a process to sample.
type Target struct {
	Name       string
	Process    func() (pid int, running bool) // its current process (a restart changes it)
	Goroutines func() int                     // its goroutine count; nil = count its threads instead
}

// sample reads one target under root.
func (t Target) sample(root string) ProcSample {
	p := ProcSample{Name: t.Name, Kind: KindThreads}
	if t.Goroutines != nil {
		p.Kind = KindGoroutines
	}
	pid, running := t.Process()
	if !running || pid <= 0 {
		p.Err = "not running"
		return p
	}
	p.PID = pid
	st, err := ReadProc(root, pid)
	if err != nil {
		p.Err = err.Error()
		return p
	}
	p.RSS, p.Tasks, p.FDs = st.RSS, st.Threads, st.FDs
	if t.Goroutines != nil {
		p.Tasks = t.Goroutines()
	}
	return p
}

// LoadCounts are the load's numbers at one moment.
//
// The load (internal/load) numbers its arrivals 1, 2, 3... and ends each with exactly one record,
// a dropped arrival included; so the highest number seen is the number of arrivals scheduled so
// far, and once the load has stopped, Arrivals - Records is the number of arrivals that ended
// without a record: lost.
type LoadCounts struct {
	Arrivals int // the highest request number seen, sent or recorded
	Records  int // records received, dropped ones included
	Sent     int // requests that reached the HTTP transport
	Answered int // records of requests sent (not dropped)
	Dropped  int // records of arrivals not sent: the in-flight cap
	Errors   int // records with no usable answer (results.SourceError)
}

// InFlight is the number of requests sent whose record has not come yet.
func (c LoadCounts) InFlight() int { return c.Sent - c.Answered }

// Lost is the number of arrivals without a record; meaningful once the load has stopped.
func (c LoadCounts) Lost() int { return c.Arrivals - c.Records }

// Tally counts the load's arrivals, sends and records. It is safe for concurrent use.
type Tally struct {
	mu sync.Mutex
	c  LoadCounts
}

// Sent counts the request numbered id as it goes to the transport.
func (t *Tally) Sent(id uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.c.Sent++
	t.seen(id)
}

// Record counts one record of the load.
func (t *Tally) Record(r results.Record) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.c.Records++
	switch r.Source {
	case results.SourceDropped:
		t.c.Dropped++
	case results.SourceError:
		t.c.Errors++
	}
	if r.Answered() {
		t.c.Answered++
	}
	t.seen(r.ID)
}

func (t *Tally) seen(id uint64) {
	if int(id) > t.c.Arrivals {
		t.c.Arrivals = int(id)
	}
}

// Counts returns the numbers so far.
func (t *Tally) Counts() LoadCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.c
}
