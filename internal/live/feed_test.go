package live

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/results"
)

// feedPartitionStart feeds the first half of a partition: the fault, the breaker opening, an
// activity, retries and fallbacks, and the requests around them.
func feedPartitionStart(h *Hub) {
	h.Info(runInfo())
	h.Event(phaseEv(0, "warmup"))
	for i := range 10 {
		h.Record(record(uint64(i+1), 0.05*float64(i), results.SourceBackend, 2*time.Millisecond))
	}
	h.Event(phaseEv(1, "experiment"))
	h.Event(activityEv(1, "partition-client-from-backend-downstream", "start", ""))
	h.Event(faultEv(1, "on"))
	h.Event(activityEv(1.01, "partition-client-from-backend-downstream", "end", "succeeded"))
	h.Event(retryEv(1.5, 1, 1002.5, 11))
	h.Event(breakerEv(2.5, results.BreakerClosed, results.BreakerOpen))
	h.Event(fallbackEv(2.5, 11, "circuit breaker is open"))
	h.Record(record(11, 1.2, results.SourceFallback, 1300*time.Millisecond))
	h.Record(record(12, 2.6, results.SourceFallback, time.Millisecond))
}

// watchSnapshot serves h, connects a viewer (closed with the test) and returns it with its
// first message, which must be the snapshot.
func watchSnapshot(t *testing.T, h *Hub) (*viewer, sseMsg) {
	t.Helper()
	srv := httptest.NewServer(newHandler(Config{Hub: h}))
	t.Cleanup(srv.Close)
	v := watch(t, srv.URL)
	t.Cleanup(v.cancel)
	first := v.next()
	if first.Type != msgSnapshot {
		t.Fatalf("first message is %q, want a snapshot", first.Type)
	}
	return v, first
}

// TestLateViewerGetsSnapshotThenStream: a viewer that connects mid-run first gets everything
// that came before, as one snapshot, then the stream.
func TestLateViewerGetsSnapshotThenStream(t *testing.T) {
	h := NewHub()
	feedPartitionStart(h)
	v, first := watchSnapshot(t, h)
	var snap state
	if err := json.Unmarshal([]byte(first.Data), &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Info.Title != runInfo().Title || snap.Status.Phase != "experiment" || snap.Status.Breaker != results.BreakerOpen {
		t.Errorf("snapshot info/status = %+v / %+v, want the title, phase experiment, breaker OPEN", snap.Info, snap.Status)
	}
	if f := snap.Status.Fault; f == nil || f.Kind != "partition" || f.Since != "+1.0s" {
		t.Errorf("snapshot fault = %+v, want the partition since +1.0s", f)
	}
	if len(snap.Activities) != 1 || snap.Activities[0].Status != "succeeded" || snap.Activities[0].End != "+1.0s" {
		t.Errorf("snapshot activities = %+v, want the partition action, succeeded", snap.Activities)
	}
	wantLog := []string{
		"Retry 'backendRetry' - Attempt #1",
		"CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN",
		"Fallback response due to error: circuit breaker is open",
	}
	var got []string
	for _, l := range snap.Log {
		got = append(got, l.Text)
	}
	if !slices.Equal(got, wantLog) {
		t.Errorf("snapshot log = %q, want %q", got, wantLog)
	}

	// Then the stream: the chart and counters of what came before, then each new event.
	var c counters
	v.until(msgCounters, &c, func() bool { return c.Requests == 12 })
	if c.Fallback != 2 || c.Answered != 12 || c.Amplification != "0.83" {
		t.Errorf("counters = %+v, want 12 requests, all answered, 2 fallbacks, amplification 10/12", c)
	}
	h.Event(breakerEv(12.5, results.BreakerOpen, results.BreakerHalfOpen))
	var ev eventMsg
	v.until(msgEvent, &ev, func() bool { return ev.Event.Kind == results.KindBreaker })
	if ev.Status.Breaker != results.BreakerHalfOpen || ev.Log == nil || ev.Log.Text != "CircuitBreaker 'backendCB' changed state: OPEN -> HALF_OPEN" || ev.Log.At != "+12.5s" {
		t.Errorf("event message = %+v (log %+v), want the breaker HALF_OPEN and its log line at +12.5s", ev, ev.Log)
	}
	h.Record(record(13, 12.6, results.SourceBackend, 3*time.Millisecond))
	var recs []recordView
	v.until(msgRecord, &recs, nil)
	if len(recs) != 1 || recs[0].ID != 13 || recs[0].At != "+12.6s" || recs[0].Source != results.SourceBackend {
		t.Errorf("record message = %+v, want request 13", recs)
	}
	var ch chartMsg
	v.until(msgChart, &ch, func() bool { return strings.Contains(ch.SVG, `data-requests="13"`) })
	if !strings.Contains(ch.SVG, `class="b-half"`) {
		t.Error("the chart has no HALF_OPEN band")
	}
	h.Done("", "PASSED: completed, steady state held, recovered")
	var d doneView
	v.until(msgDone, &d, nil)
	if !d.Passed || d.Verdict != "PASSED: completed, steady state held, recovered" || d.Report != "" {
		t.Errorf("done = %+v, want PASSED without a link (no results folder)", d)
	}
}

// TestStalledViewerIsDropped: a viewer whose queue is full is dropped at once, and the hub's
// callers never wait for it.
func TestStalledViewerIsDropped(t *testing.T) {
	h := NewHub()
	h.Info(runInfo())
	sub, _ := h.subscribe() // never reads its queue
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for i := range 5 * queueSize {
			h.Event(fallbackEv(float64(i)/100, uint64(i+1), "circuit breaker is open"))
			h.Record(record(uint64(i+1), float64(i)/100, results.SourceFallback, time.Millisecond))
		}
	}()
	select {
	case <-finished:
	case <-time.After(wait):
		t.Fatal("Event and Record blocked on a viewer that does not read")
	}
	select {
	case <-sub.gone:
	default:
		t.Error("the viewer whose queue is full was not dropped")
	}
	if n := h.subscribers(); n != 0 {
		t.Errorf("%d viewers still subscribed, want 0", n)
	}
}

// TestStalledConnectionIsDropped: a browser that connects and never reads the stream fills its
// socket, then its queue; it is dropped, and thousands of events are published meanwhile
// without waiting for it.
func TestStalledConnectionIsDropped(t *testing.T) {
	h := NewHub()
	h.Info(runInfo())
	subscribed := make(chan struct{}, 1)
	h.testHookSubscribed = func() { subscribed <- struct{}{} }
	srv := httptest.NewServer(newHandler(Config{Hub: h}))
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close() // before srv.Close: its handler's write fails and it returns
	conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET /events HTTP/1.1\r\nHost: %s\r\n\r\n", srv.Listener.Addr())
	select {
	case <-subscribed:
	case <-time.After(wait):
		t.Fatal("the viewer never subscribed")
	}

	// 2 KB per event: the socket's buffers (a few MB at most) fill, then the queue. Publish
	// until the viewer is dropped, up to 100 MB.
	big := strings.Repeat("connection refused; ", 100)
	finished := make(chan int, 1)
	go func() {
		i := 0
		for ; i < 50000 && h.subscribers() > 0; i++ {
			h.Event(fallbackEv(float64(i)/1000, uint64(i+1), big))
		}
		finished <- i
	}()
	select {
	case n := <-finished:
		t.Logf("dropped after %d events (%d MB)", n, n*len(big)>>20)
	case <-time.After(4 * wait):
		t.Fatal("publishing blocked on a viewer that does not read")
	}
	if n := h.subscribers(); n != 0 {
		t.Errorf("%d viewers still subscribed after it stopped reading, want 0", n)
	}
}

// TestInfoOfAnotherRunStartsAfresh: a compare's second run starts the page afresh.
func TestInfoOfAnotherRunStartsAfresh(t *testing.T) {
	h := NewHub()
	feedPartitionStart(h)
	second := runInfo()
	second.Label, second.Start = results.LabelResilient, at(100)
	h.Info(second)
	_, snap := h.subscribe()
	if snap.Status.Breaker != results.BreakerClosed || snap.Status.Fault != nil || len(snap.Log) != 0 || len(snap.Activities) != 0 || snap.Info.Label != results.LabelResilient {
		t.Errorf("after the second run's Info, snapshot = %+v, want an empty run", snap)
	}
	h.mu.Lock()
	n := len(h.records) + len(h.events)
	h.mu.Unlock()
	if n != 0 {
		t.Errorf("the hub kept %d records and events of the first run", n)
	}
	same := second
	same.End = at(200)
	h.Event(phaseEv(101, "warmup"))
	h.Info(same) // the same run, updated: nothing is forgotten
	if _, snap := h.subscribe(); snap.Status.Phase != "warmup" {
		t.Errorf("Info of the same run forgot its phase: %+v", snap.Status)
	}
}

func TestBaselineHasNoBreaker(t *testing.T) {
	h := NewHub()
	info := runInfo()
	info.Resilience = results.ResilienceOff
	h.Info(info)
	if _, snap := h.subscribe(); snap.Status.Breaker != breakerNone {
		t.Errorf("breaker = %q for RESILIENCE=off, want %q", snap.Status.Breaker, breakerNone)
	}
}

func TestLogLines(t *testing.T) {
	tests := []struct {
		name string
		e    results.Event
		want logLine
	}{
		{"retry", retryEv(2, 3, 4100, 7), logLine{At: "+2.0s", Kind: "retry", Text: "Retry 'backendRetry' - Attempt #3",
			Detail: "wait=4.10 s error=attempt timed out request_id=7"}},
		{"breaker", breakerEv(3, "HALF_OPEN", "CLOSED"), logLine{At: "+3.0s", Kind: "breaker",
			Text: "CircuitBreaker 'backendCB' changed state: HALF_OPEN -> CLOSED"}},
		{"fallback", fallbackEv(4, 0, `dial tcp: connection refused`), logLine{At: "+4.0s", Kind: "fallback",
			Text: "Fallback response due to error: dial tcp: connection refused"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, got := (&state{}).apply(tc.e, t0)
			if got == nil || *got != tc.want {
				t.Errorf("the log line of %+v = %+v, want %+v", tc.e, got, tc.want)
			}
		})
	}
	if _, l := (&state{}).apply(phaseEv(1, "warmup"), t0); l != nil {
		t.Error("a phase event made a log line")
	}
}

func TestActivities(t *testing.T) {
	var s state
	s.apply(activityEv(1, "probe-a", "start", ""), t0)
	s.apply(activityEv(2, "probe-b", "start", ""), t0) // a background activity
	s.apply(activityEv(3, "probe-a", "end", "failed"), t0)
	s.apply(activityEv(4, "late", "end", "succeeded"), t0) // its start came before the page
	want := []activity{
		{Index: 0, Name: "probe-a", Phase: "method", Status: "failed", Start: "+1.0s", End: "+3.0s"},
		{Index: 1, Name: "probe-b", Phase: "method", Status: "running", Start: "+2.0s"},
		{Index: 2, Name: "late", Phase: "method", Status: "succeeded", Start: "+4.0s", End: "+4.0s"},
	}
	if !slices.Equal(s.Activities, want) {
		t.Errorf("activities = %+v, want %+v", s.Activities, want)
	}
}

// TestChartAtMostEvery500ms: renders are scheduled while data changes and someone watches, at
// most one per chartEvery, and none when nothing changed.
func TestChartAtMostEvery500ms(t *testing.T) {
	h := NewHub()
	now := t0
	h.now = func() time.Time { return now }
	var waits []time.Duration
	var due func()
	h.after = func(d time.Duration, f func()) { waits, due = append(waits, d), f }
	take := func() func() { f := due; due = nil; return f }

	h.Info(runInfo())
	h.Record(record(1, 0, results.SourceBackend, time.Millisecond))
	if len(waits) != 0 {
		t.Fatalf("a render was scheduled with nobody watching: %v", waits)
	}
	sub, _ := h.subscribe()
	take()() // the first render, at once
	h.Record(record(2, 0.1, results.SourceBackend, time.Millisecond))
	h.Record(record(3, 0.2, results.SourceBackend, time.Millisecond))
	now = now.Add(200 * time.Millisecond)
	h.Event(phaseEv(0.3, "warmup"))
	if want := []time.Duration{0, chartEvery}; !slices.Equal(waits, want) {
		t.Fatalf("render waits = %v, want %v: one at once, then one chartEvery after it for the three changes", waits, want)
	}
	now = now.Add(300 * time.Millisecond)
	take()()
	if due != nil {
		t.Error("a render was scheduled though nothing changed")
	}
	var charts, counts int
	for len(sub.queue) > 0 {
		switch m := <-sub.queue; m.Type {
		case msgChart:
			charts++
		case msgCounters:
			if c := m.Data.(counters); counts == 1 && c.Requests != 3 {
				t.Errorf("second counters = %+v, want 3 requests", c)
			}
			counts++
		}
	}
	if charts != 2 || counts != 2 {
		t.Errorf("%d charts and %d counters sent, want 2 of each", charts, counts)
	}
	now = now.Add(100 * time.Millisecond)
	h.Record(record(4, 0.4, results.SourceBackend, time.Millisecond))
	if got := waits[len(waits)-1]; got != 400*time.Millisecond {
		t.Errorf("wait after a render 100 ms ago = %v, want 400ms", got)
	}
}
