package live

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/results"
)

// t0 is the start of every fed run.
var t0 = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

// at returns t0 plus s seconds.
func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// wait bounds every wait of a test for something that should happen.
const wait = 5 * time.Second

func runInfo() results.RunInfo {
	return results.RunInfo{Title: "Client-service survives a network partition", Stack: "local",
		Resilience: results.ResilienceOn, RPS: 20, Start: t0}
}

func phaseEv(s float64, p string) results.Event {
	return results.Event{Time: at(s), Kind: results.KindPhase, Phase: p}
}

func faultEv(s float64, action string) results.Event {
	return results.Event{Time: at(s), Kind: results.KindFault, Action: action, Name: "partition",
		Message: "partition-downstream: timeout 0, partition-upstream: timeout 0"}
}

func breakerEv(s float64, from, to string) results.Event {
	return results.Event{Time: at(s), Kind: results.KindBreaker, From: from, To: to}
}

func fallbackEv(s float64, id uint64, err string) results.Event {
	return results.Event{Time: at(s), Kind: results.KindFallback, RequestID: id, Error: err}
}

func retryEv(s float64, n int, waitMS float64, id uint64) results.Event {
	return results.Event{Time: at(s), Kind: results.KindRetry, Attempt: n, WaitMS: waitMS, RequestID: id, Error: "attempt timed out"}
}

func activityEv(s float64, name, action, status string) results.Event {
	return results.Event{Time: at(s), Kind: results.KindActivity, Name: name, Action: action, Status: status, Phase: "method"}
}

func record(id uint64, s float64, source string, latency time.Duration) results.Record {
	r := results.Record{ID: id, Start: at(s), Latency: latency, Status: 200, Source: source, Attempts: 1}
	switch source {
	case results.SourceFallback:
		r.Attempts, r.Error = 0, "circuit breaker is open"
	case results.SourceError:
		r.Status, r.Error = 0, "timeout"
	}
	return r
}

// sseMsg is one server-sent event as a viewer reads it.
type sseMsg struct {
	Type string
	Data string
}

// viewer reads /events with bufio, as a browser's EventSource would.
type viewer struct {
	t      *testing.T
	msgs   chan sseMsg
	cancel context.CancelFunc
}

// watch connects a viewer to base+"/events" and checks the stream's content type.
func watch(t *testing.T, base string) *viewer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("/events Content-Type = %q, want text/event-stream", ct)
	}
	v := &viewer{t: t, msgs: make(chan sseMsg, 1024), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		defer close(v.msgs)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
		var m sseMsg
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if m.Type != "" || m.Data != "" {
					v.msgs <- m
				}
				m = sseMsg{}
			case strings.HasPrefix(line, "event: "):
				m.Type = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				m.Data += strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	t.Cleanup(cancel)
	return v
}

// next returns the next message, failing the test when none comes in time.
func (v *viewer) next() sseMsg {
	v.t.Helper()
	select {
	case m, ok := <-v.msgs:
		if !ok {
			v.t.Fatal("the stream ended")
		}
		return m
	case <-time.After(wait):
		v.t.Fatal("no message came")
	}
	return sseMsg{}
}

// until returns the first message of type typ for which ok (when given) holds, skipping the
// others; its data is decoded into dst.
func (v *viewer) until(typ string, dst any, ok func() bool) {
	v.t.Helper()
	deadline := time.After(wait)
	for {
		select {
		case m, open := <-v.msgs:
			if !open {
				v.t.Fatalf("the stream ended before a %q message", typ)
			}
			if m.Type != typ {
				continue
			}
			if err := json.Unmarshal([]byte(m.Data), dst); err != nil {
				v.t.Fatalf("%s message %q: %v", typ, m.Data, err)
			}
			if ok == nil || ok() {
				return
			}
		case <-deadline:
			v.t.Fatalf("no %q message came", typ)
		}
	}
}

// dropAll drops every viewer, as a full queue would.
func (h *Hub) dropAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		h.dropLocked(s)
	}
}
