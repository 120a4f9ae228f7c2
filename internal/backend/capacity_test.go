package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"chaoslab/internal/capacity"
	"chaoslab/internal/httpserve"
	"chaoslab/internal/testutil"

	"github.com/prometheus/client_golang/prometheus"
)

// labelHeader names a test request, so the gate knows who enters service.
const labelHeader = "X-Test-Label"

type labelKey struct{}

// gate is a capacity Work that reports each request (by its label) entering service and holds
// it until the test releases it, or its work context ends.
type gate struct {
	started chan string
	release chan struct{}
}

func newGate() *gate { return &gate{started: make(chan string, 1000), release: make(chan struct{})} }

func (g *gate) work(ctx context.Context, _ time.Duration) error {
	label, _ := ctx.Value(labelKey{}).(string)
	g.started <- label
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// free ends the service of one request in service.
func (g *gate) free(t *testing.T) {
	t.Helper()
	select {
	case g.release <- struct{}{}:
	case <-time.After(5 * time.Second):
		t.Fatal("no request in service to release")
	}
}

func (g *gate) next(t *testing.T) string {
	t.Helper()
	select {
	case l := <-g.started:
		return l
	case <-time.After(5 * time.Second):
		t.Fatal("no request entered service")
		return ""
	}
}

// capServer is a backend-service with a capacity model, behind httptest.
type capServer struct {
	url  string
	pool *capacity.Pool
	logs *syncBuffer
	reqs sync.Map // label -> the server side context of the request
}

// newCapServer serves NewServer with a pool of s whose work is work (nil = the real wait).
func newCapServer(t *testing.T, s capacity.Settings, work func(context.Context, time.Duration) error) *capServer {
	t.Helper()
	s.Factor = 1
	if s.Order == "" {
		s.Order = capacity.FIFO
	}
	pool, err := capacity.New(s, capacity.Options{Rand: rand.New(rand.NewPCG(1, 0)), Work: work})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	hm, err := httpserve.NewHTTPMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	reg.MustRegister(newCapacityCollector(pool))
	cs := &capServer{pool: pool, logs: &syncBuffer{}}
	h := NewServer(Deps{Instance: "i", Ready: new(atomic.Bool), Metrics: hm, Registry: reg, Now: time.Now,
		Capacity: pool, Logger: httpserve.NewLogger("json", slog.LevelInfo, cs.logs, "backend-service")})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		label := r.Header.Get(labelHeader)
		cs.reqs.Store(label, r.Context())
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), labelKey{}, label)))
	}))
	t.Cleanup(func() { pool.Close(); srv.Close() })
	cs.url = srv.URL
	return cs
}

// answer is what a test client got.
type answer struct {
	status     int
	retryAfter string
	body       string
	err        error
}

func (cs *capServer) get(ctx context.Context, label string, headers ...string) answer {
	req, _ := http.NewRequestWithContext(ctx, "GET", cs.url+"/api/data", nil)
	req.Header.Set(labelHeader, label)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(body)}
}

// goGet sends the request in the background; its answer arrives on the channel.
func (cs *capServer) goGet(ctx context.Context, label string, headers ...string) <-chan answer {
	c := make(chan answer, 1)
	go func() { c <- cs.get(ctx, label, headers...) }()
	return c
}

func (cs *capServer) stats() capacity.Stats { _, st := cs.pool.Snapshot(); return st }

func (cs *capServer) waitQueued(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for cs.stats().Queued != n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d queued (%+v)", n, cs.stats())
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func await(t *testing.T, c <-chan answer) answer {
	t.Helper()
	select {
	case a := <-c:
		return a
	case <-time.After(5 * time.Second):
		t.Fatal("no answer")
		return answer{}
	}
}

// capacityAPI calls /api/capacity and decodes the answer.
func (cs *capServer) capacityAPI(t *testing.T, method, body string) (int, Capacity, string) {
	t.Helper()
	req, _ := http.NewRequest(method, cs.url+"/api/capacity", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var c Capacity
	json.Unmarshal(raw, &c)
	return resp.StatusCode, c, string(raw)
}

func TestFullQueueAnswers503AtOnce(t *testing.T) {
	g := newGate()
	cs := newCapServer(t, capacity.Settings{Workers: 2, Queue: 1}, g.work)
	ctx := context.Background()
	held := []<-chan answer{cs.goGet(ctx, "a"), cs.goGet(ctx, "b")}
	g.next(t)
	g.next(t)
	held = append(held, cs.goGet(ctx, "c"))
	cs.waitQueued(t, 1)
	// The 4th is sent from the test's goroutine while a, b and c are all held: an answer that
	// waited for a worker would never come.
	d := cs.get(ctx, "d")
	if d.status != http.StatusServiceUnavailable || d.retryAfter != "1" || !strings.Contains(d.body, "queue is full") {
		t.Errorf("4th request: %d Retry-After %q %q, want 503, Retry-After 1 and the reason", d.status, d.retryAfter, d.body)
	}
	for range 3 {
		g.free(t)
	}
	for _, c := range held {
		if a := await(t, c); a.status != http.StatusOK {
			t.Errorf("held request: %d %s", a.status, a.body)
		}
	}
}

func TestQueueOrderServed(t *testing.T) {
	tests := []struct {
		order capacity.Order
		want  []string
	}{
		{capacity.FIFO, []string{"a", "b", "c", "d"}},
		{capacity.LIFO, []string{"a", "d", "c", "b"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.order), func(t *testing.T) {
			g := newGate()
			cs := newCapServer(t, capacity.Settings{Workers: 1, Queue: 3, Order: tt.order}, g.work)
			var answers []<-chan answer
			for i, label := range []string{"a", "b", "c", "d"} {
				answers = append(answers, cs.goGet(context.Background(), label))
				if i == 0 {
					g.next(t)
				} else {
					cs.waitQueued(t, i)
				}
			}
			got := []string{"a"}
			for range 3 {
				g.free(t)
				got = append(got, g.next(t))
			}
			g.free(t)
			if !slices.Equal(got, tt.want) {
				t.Errorf("served %v, want %v", got, tt.want)
			}
			for _, c := range answers {
				await(t, c)
			}
		})
	}
}

func TestCallerGoneKeepsTheWorkerAndCountsWasted(t *testing.T) {
	g := newGate()
	cs := newCapServer(t, capacity.Settings{Workers: 1}, g.work)
	ctx, cancel := context.WithCancel(context.Background())
	a := cs.goGet(ctx, "a")
	g.next(t)
	cancel()
	if got := await(t, a); got.err == nil {
		t.Fatalf("the cancelled caller got an answer: %+v", got)
	}
	reqCtx, _ := cs.reqs.Load("a")
	<-reqCtx.(context.Context).Done() // the server has seen its caller go
	select {
	case b := <-cs.goGet(context.Background(), "b"):
		if b.status != http.StatusServiceUnavailable {
			t.Fatalf("while the gone caller's work holds the only worker: %d, want 503", b.status)
		}
	case label := <-g.started:
		t.Fatalf("%s entered service: the gone caller's worker was freed", label)
	}
	g.free(t)
	// the gone caller's handler ends on its own goroutine: until it has released the only worker
	// (and counted the work wasted), c would be turned away with no queue to wait in
	testutil.WaitFor(t, 5*time.Second, "the gone caller's worker released", func() bool {
		st := cs.stats()
		return st.InService == 0 && st.Wasted == 1
	})
	c := cs.goGet(context.Background(), "c")
	g.next(t)
	g.free(t)
	if got := await(t, c); got.status != http.StatusOK {
		t.Fatalf("once the worker is free: %d", got.status)
	}
	if st := cs.stats(); st != (capacity.Stats{Rejected: 1, Wasted: 1, Completed: 1}) {
		t.Errorf("stats %+v, want 1 rejected, 1 wasted, 1 completed", st)
	}
}

func TestDeadlineHeader(t *testing.T) {
	g := newGate()
	cs := newCapServer(t, capacity.Settings{Workers: 1, Queue: 1}, g.work)
	a := cs.goGet(context.Background(), "a")
	g.next(t)
	start := time.Now()
	b := cs.get(context.Background(), "b", deadlineHeader, "20")
	if b.status != http.StatusServiceUnavailable || b.retryAfter != "" || !strings.Contains(b.body, "while it waited") {
		t.Errorf("queued past its deadline: %d Retry-After %q %q", b.status, b.retryAfter, b.body)
	}
	if waited := time.Since(start); waited < 20*time.Millisecond {
		t.Errorf("dropped after %v, before its deadline", waited)
	}
	g.free(t)
	await(t, a)
	// c's work is never released: only its deadline ends it, and frees the worker for d.
	c := cs.get(context.Background(), "c", deadlineHeader, "10")
	if c.status != http.StatusServiceUnavailable || !strings.Contains(c.body, "in service") {
		t.Errorf("in service past its deadline: %d %q", c.status, c.body)
	}
	g.next(t)
	d := cs.goGet(context.Background(), "d", deadlineHeader, "not a number")
	if got := g.next(t); got != "d" {
		t.Fatalf("next in service %q, want d", got)
	}
	g.free(t)
	if got := await(t, d); got.status != http.StatusOK {
		t.Errorf("a malformed deadline header is no deadline: %d", got.status)
	}
	if st := cs.stats(); st != (capacity.Stats{Expired: 1, Wasted: 1, Completed: 2}) {
		t.Errorf("stats %+v, want 1 expired, 1 wasted (c), 2 completed (a, d)", st)
	}
}

// capacityLine is a line of /metrics of a capacity metric.
var capacityLine = regexp.MustCompile(`(?m)^(backend_\w+) (\S+)$`)

// TestCountersMatchAnIndependentCount: under a mixed concurrent load the counters of
// GET /api/capacity and /metrics equal the test's own count of the answers it got.
func TestCountersMatchAnIndependentCount(t *testing.T) {
	st, _ := capacity.ParseServiceTime("uniform:0s-2ms")
	cs := newCapServer(t, capacity.Settings{Workers: 2, Queue: 2, ServiceTime: st}, nil)
	var mu sync.Mutex
	count := map[string]int64{}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 0))
			for range 10 {
				var headers []string
				if r.IntN(3) == 0 {
					headers = []string{deadlineHeader, strconv.Itoa(r.IntN(3))}
				}
				a := cs.get(context.Background(), "", headers...)
				mu.Lock()
				count[kindOf(a)]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	_, got, _ := cs.capacityAPI(t, "GET", "")
	if got.Rejected != count["rejected"] || got.Expired != count["expired"] ||
		got.Completed+got.Wasted != count["ok"]+count["cut"] || got.InService != 0 || got.Queued != 0 || count["other"] != 0 {
		t.Errorf("GET /api/capacity %+v, answers counted %v", got, count)
	}
	if count["ok"] == 0 || count["rejected"] == 0 {
		t.Errorf("the load did not reach both outcomes: %v", count)
	}
	metrics := map[string]string{}
	for _, m := range capacityLine.FindAllStringSubmatch(fetch(t, cs.url+"/metrics"), -1) {
		metrics[m[1]] = m[2]
	}
	want := map[string]int64{"backend_workers": 2, "backend_requests_in_service": 0, "backend_requests_queued": 0,
		"backend_requests_rejected_total": got.Rejected, "backend_requests_expired_total": got.Expired,
		"backend_requests_completed_total": got.Completed, "backend_requests_wasted_total": got.Wasted}
	for name, v := range want {
		if metrics[name] != strconv.FormatInt(v, 10) {
			t.Errorf("%s = %q, want %d", name, metrics[name], v)
		}
	}
}

// kindOf sorts an answer by what the capacity model made of it.
func kindOf(a answer) string {
	switch {
	case a.status == http.StatusOK:
		return "ok"
	case a.status != http.StatusServiceUnavailable:
	case a.retryAfter == "1" && strings.Contains(a.body, "queue is full"):
		return "rejected"
	case strings.Contains(a.body, "while it waited"):
		return "expired"
	case strings.Contains(a.body, "in service"):
		return "cut"
	}
	return "other"
}

func fetch(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestCapacityAPI(t *testing.T) {
	cs := newCapServer(t, capacity.Settings{Workers: 2, Queue: 5}, nil)
	tests := []struct {
		name, method, body string
		wantStatus         int
		want               string // in the answer
	}{
		{"get", "GET", "", 200, `"workers":2,"queueLimit":5,"queueOrder":"fifo","serviceTime":"0s","factor":1,`},
		{"put", "PUT", `{"workers":3,"service_time":"exp:4ms","service_time_factor":3}`, 200,
			`"workers":3,"queueLimit":5,"queueOrder":"fifo","serviceTime":"exp:4ms","factor":3,`},
		{"get after put", "GET", "", 200, `"workers":3,"queueLimit":5,"queueOrder":"fifo","serviceTime":"exp:4ms","factor":3,`},
		{"put one field", "PUT", `{"service_time_factor":0.5}`, 200, `"workers":3,"queueLimit":5,"queueOrder":"fifo","serviceTime":"exp:4ms","factor":0.5,`},
		{"unknown field", "PUT", `{"workers":1,"queue":9}`, 400, `unknown field \"queue\"`},
		{"bad service time", "PUT", `{"service_time":"soon"}`, 400, `service_time: must be`},
		{"negative workers", "PUT", `{"workers":-1}`, 400, `workers: must be`},
		{"factor 0", "PUT", `{"service_time_factor":0}`, 400, `service_time_factor: must be`},
		{"not JSON", "PUT", `workers=1`, 400, `bad JSON body`},
		{"two objects", "PUT", `{}{}`, 400, `one object expected`},
		{"bad put changed nothing", "GET", "", 200, `"workers":3,"queueLimit":5,"queueOrder":"fifo","serviceTime":"exp:4ms","factor":0.5,`},
		{"delete", "DELETE", "", 200, `"workers":2,"queueLimit":5,"queueOrder":"fifo","serviceTime":"0s","factor":1,`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, raw := cs.capacityAPI(t, tt.method, tt.body)
			if status != tt.wantStatus || !strings.Contains(raw, tt.want) {
				t.Errorf("%s %s = %d %s, want %d with %s", tt.method, tt.body, status, raw, tt.wantStatus, tt.want)
			}
		})
	}
	var changes []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(cs.logs.String()), "\n") {
		var r map[string]any
		if json.Unmarshal([]byte(line), &r) == nil && r["event"] == "capacity" {
			delete(r, "time")
			delete(r, "level")
			delete(r, "service")
			changes = append(changes, r)
		}
	}
	want := []map[string]any{
		{"msg": "capacity changed", "event": "capacity", "workers": 3.0, "service_time": "exp:4ms", "service_time_factor": 3.0},
		{"msg": "capacity changed", "event": "capacity", "service_time_factor": 0.5},
		{"msg": "capacity restored", "event": "capacity", "workers": 2.0, "queue": 5.0, "queue_order": "fifo", "service_time": "0s", "service_time_factor": 1.0},
	}
	if fmt.Sprint(changes) != fmt.Sprint(want) {
		t.Errorf("capacity records\n%v\nwant\n%v", changes, want)
	}
}

func TestCapacityOffAnswers409(t *testing.T) {
	url, _, stop := startBackend(t, "json")
	defer stop()
	for _, method := range []string{"GET", "PUT", "DELETE"} {
		t.Run(method, func(t *testing.T) {
			req, _ := http.NewRequest(method, url+"/api/capacity", strings.NewReader(`{"workers":1}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "start it with BACKEND_WORKERS") {
				t.Errorf("%s /api/capacity = %d %s", method, resp.StatusCode, body)
			}
		})
	}
}

func TestRunWithCapacity(t *testing.T) {
	url, logs, stop := startBackendEnv(t, map[string]string{"LOG_FORMAT": "json", "BACKEND_WORKERS": "2",
		"BACKEND_QUEUE_ORDER": "lifo", "BACKEND_SERVICE_TIME": "1ms", "BACKEND_SEED": "42"})
	defer stop()
	if body := fetch(t, url+"/api/data"); !strings.Contains(body, `"service":"backend-service"`) {
		t.Fatalf("GET /api/data = %s", body)
	}
	var set map[string]any
	for _, line := range strings.Split(logs.String(), "\n") {
		if json.Unmarshal([]byte(line), &set) == nil && set["msg"] == "capacity set" {
			break
		}
		set = nil
	}
	if set["event"] != "capacity" || set["seed"] != 42.0 || set["workers"] != 2.0 || set["queue"] != 100.0 ||
		set["queue_order"] != "lifo" || set["service_time"] != "1ms" {
		t.Errorf("start-up record %v", set)
	}
	metrics := fetch(t, url+"/metrics")
	for _, want := range []string{"backend_workers 2\n", "backend_requests_completed_total 1\n", "backend_requests_in_service 0\n"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if got := fetch(t, url+"/api/capacity"); !strings.Contains(got, `"queueOrder":"lifo","serviceTime":"1ms","factor":1,"inService":0,"queued":0,"rejected":0,"expired":0,"completed":1,"wasted":0`) {
		t.Errorf("GET /api/capacity = %s", got)
	}
}
