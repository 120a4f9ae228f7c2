package fault

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"time"

	"chaoslab/internal/wait"
)

// Partitioner makes and removes a network partition between the client and the backend.
type Partitioner interface {
	Partition(ctx context.Context) error // must verify that the partition took effect
	Heal(ctx context.Context) error      // must be idempotent
}

// Hops is a Partitioner with more than one hop (the local stack's Toxiproxy, one proxy per hop
// of a call graph): a flapping partition may then name the proxy it cuts.
type Hops interface {
	// Hop returns the partitioner of the proxy name; false when there is no such proxy.
	Hop(name string) (Partitioner, bool)
}

// maxCycles bounds a flapping schedule.
const maxCycles = 1000

// namePattern is what a fault's name may look like.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// flapping runs partition schedules: on for On, off for Off, Cycles times. It is safe for
// concurrent use.
type flapping struct {
	part  Partitioner
	check func(time.Time)

	mu     sync.Mutex
	jobs   map[string]*flapJob
	closed bool
	wg     sync.WaitGroup
}

// flapJob is one schedule; its exported fields are its JSON record.
type flapJob struct {
	Name    string     `json:"name"`
	Proxy   string     `json:"proxy"` // the proxy whose hop it cuts
	On      string     `json:"on"`
	Off     string     `json:"off"`
	Cycles  int        `json:"cycles"`
	Cycle   int        `json:"cycle"`       // the cycle under way (1-based), or the last one
	InOn    bool       `json:"partitioned"` // the partition is in effect now
	Started time.Time  `json:"started"`
	Ended   *time.Time `json:"ended,omitempty"`
	Error   string     `json:"error,omitempty"`

	on, off time.Duration
	part    Partitioner // the proxy's
	cancel  context.CancelFunc
	done    chan struct{}
}

type flapRequest struct {
	Name   string          `json:"name"`
	Proxy  string          `json:"proxy"` // default ProxyName
	On     json.RawMessage `json:"on"`
	Off    json.RawMessage `json:"off"`
	Cycles int             `json:"cycles"`
}

func newFlapping(part Partitioner, check func(time.Time)) *flapping {
	return &flapping{part: part, check: check, jobs: map[string]*flapJob{}}
}

func (f *flapping) register(mux *http.ServeMux) {
	jobRoutes[*flapJob, flapJob]{what: "flapping fault", names: f.names, find: f.find, record: f.record,
		done: func(j *flapJob) <-chan struct{} { return j.done }, stop: func(j *flapJob) { j.cancel() },
	}.register(mux, "/faults/flapping", f.handleCreate)
}

func (r flapRequest) job(f *flapping) (*flapJob, error) {
	if !namePattern.MatchString(r.Name) {
		return nil, fmt.Errorf("name %q: 1 to 64 letters, digits, '.', '_' or '-'", r.Name)
	}
	if r.Proxy == "" {
		r.Proxy = ProxyName
	}
	part, err := f.partitioner(r.Proxy)
	if err != nil {
		return nil, err
	}
	on, err := parseSeconds(r.On, "on")
	if err != nil {
		return nil, err
	}
	off, err := parseSeconds(r.Off, "off")
	if err != nil {
		return nil, err
	}
	if on <= 0 || off <= 0 || on > maxRestartAfter || off > maxRestartAfter {
		return nil, fmt.Errorf("on %v and off %v: each must be above 0 and at most %v", on, off, maxRestartAfter)
	}
	if r.Cycles < 1 || r.Cycles > maxCycles {
		return nil, fmt.Errorf("cycles %d: must be between 1 and %d", r.Cycles, maxCycles)
	}
	return &flapJob{Name: r.Name, Proxy: r.Proxy, On: on.String(), Off: off.String(), Cycles: r.Cycles, on: on, off: off, part: part, done: make(chan struct{})}, nil
}

// partitioner is the partitioner of the proxy name: the stack's own for ProxyName, a hop's when
// the stack has hops.
func (f *flapping) partitioner(name string) (Partitioner, error) {
	if name == ProxyName {
		return f.part, nil
	}
	if h, ok := f.part.(Hops); ok {
		if p, ok := h.Hop(name); ok {
			return p, nil
		}
		return nil, fmt.Errorf("proxy %q: no such proxy (GET /proxies lists them)", name)
	}
	return nil, fmt.Errorf("proxy %q: this stack's flapping partition cuts proxy %q only", name, ProxyName)
}

func (f *flapping) handleCreate(w http.ResponseWriter, r *http.Request) {
	var req flapRequest
	if err := decodeStrict(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	j, err := req.job(f)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if code, err := f.start(j); err != nil {
		writeError(w, code, err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, f.record(j))
}

// start runs the schedule in the background; a finished schedule of the same name is replaced.
func (f *flapping) start(j *flapJob) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return http.StatusConflict, fmt.Errorf("the lab is shutting down")
	}
	for _, o := range f.jobs {
		if o.Ended == nil {
			return http.StatusConflict, fmt.Errorf("flapping %q is running: DELETE /faults/flapping/%s first", o.Name, o.Name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	j.cancel, j.Started = cancel, time.Now().UTC()
	f.jobs[j.Name] = j
	f.wg.Add(1)
	go f.run(ctx, j)
	return 0, nil
}

// run is the schedule: partition, wait On, heal, wait Off, Cycles times. It heals on the way out.
func (f *flapping) run(ctx context.Context, j *flapJob) {
	defer f.wg.Done()
	defer close(j.done)
	defer f.finish(j)
	for c := 1; c <= j.Cycles; c++ {
		started := time.Now()
		if err := j.part.Partition(ctx); err != nil {
			f.fail(j, fmt.Errorf("cycle %d: %w", c, err))
			return
		}
		f.set(j, c, true)
		f.check(started)
		if !wait.For(ctx, j.on) {
			return
		}
		if err := j.part.Heal(context.WithoutCancel(ctx)); err != nil {
			f.fail(j, fmt.Errorf("cycle %d: %w", c, err))
			return
		}
		f.set(j, c, false)
		f.check(time.Now())
		if c < j.Cycles && !wait.For(ctx, j.off) {
			return
		}
	}
}

func (f *flapping) set(j *flapJob, cycle int, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j.Cycle, j.InOn = cycle, on
}

func (f *flapping) fail(j *flapJob, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j.Error = err.Error()
}

// finish heals (the schedule may have been stopped mid-cycle) and marks the job ended.
func (f *flapping) finish(j *flapJob) {
	if err := j.part.Heal(context.Background()); err != nil {
		f.fail(j, err)
	}
	f.mu.Lock()
	now := time.Now().UTC()
	j.InOn, j.Ended = false, &now
	f.mu.Unlock()
	f.check(time.Now())
}

// record copies a job's JSON fields under the lock.
func (f *flapping) record(j *flapJob) flapJob {
	f.mu.Lock()
	defer f.mu.Unlock()
	return flapJob{Name: j.Name, Proxy: j.Proxy, On: j.On, Off: j.Off, Cycles: j.Cycles, Cycle: j.Cycle, InOn: j.InOn, Started: j.Started, Ended: j.Ended, Error: j.Error}
}

func (f *flapping) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.jobs))
}

func (f *flapping) find(name string) *flapJob {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.jobs[name]
}

// Injected lists the schedules whose partition is in effect now.
func (f *flapping) Injected() []Injected {
	f.mu.Lock()
	defer f.mu.Unlock()
	var in []Injected
	for _, n := range slices.Sorted(maps.Keys(f.jobs)) {
		if j := f.jobs[n]; j.InOn {
			prefix := ""
			if j.Proxy != ProxyName {
				prefix = "proxy " + j.Proxy + ": " // as Proxy.Injected names a hop's toxics
			}
			in = append(in, Injected{Kind: KindPartition, Detail: fmt.Sprintf("%sblackhole both ways (flapping %s: cycle %d of %d, %s on, %s off)", prefix, j.Name, j.Cycle, j.Cycles, j.On, j.Off), Target: j.Proxy})
		}
	}
	return in
}

// scheduled lists the schedules still running.
func (f *flapping) scheduled() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, j := range f.jobs {
		if j.Ended == nil {
			out = append(out, fmt.Sprintf("flapping %s is running (cycle %d of %d)", j.Name, j.Cycle, j.Cycles))
		}
	}
	return out
}

// stop ends every schedule (each heals on its way out) and waits for them.
func (f *flapping) stop(closing bool) {
	f.mu.Lock()
	f.closed = f.closed || closing
	for _, j := range f.jobs {
		j.cancel()
	}
	f.mu.Unlock()
	f.wg.Wait()
}
