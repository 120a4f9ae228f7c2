package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"chaoslab/internal/results"
)

// received is what a target saw of each request: its X-Request-Id and traceparent.
type received struct {
	mu sync.Mutex
	tp map[uint64]string // request id -> traceparent ("" when none)
}

func (rc *received) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseUint(r.Header.Get(results.RequestIDHeader), 10, 64)
		rc.mu.Lock()
		rc.tp[id] = r.Header.Get(TraceparentHeader)
		rc.mu.Unlock()
		w.Write([]byte(`{"source":"backend","attempts":1}`))
	})
}

var traceparentForm = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$`)

// With TraceSample every request carries a valid W3C traceparent of its own trace, the trace id
// its record holds; OpenTelemetry's own propagator reads it, sampled as the share says. Without
// it no request carries one and no record has a trace id.
func TestTraceparent(t *testing.T) {
	tests := []struct {
		name         string
		sample       float64
		n            int
		minS, maxS   int // sampled requests allowed
		wantHeader   bool
		wantRecordID bool
	}{
		{"off", 0, 40, 0, 0, false, false},
		{"all", 1, 40, 40, 40, true, true},
		// 2000 draws at 0.25: mean 500, sd 19; 400..600 is more than 5 sd each side.
		{"a quarter", 0.25, 2000, 400, 600, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &received{tp: map[uint64]string{}}
			srv := httptest.NewServer(rc.handler())
			defer srv.Close()
			cfg := Config{Target: srv.URL, RPS: 1, Timeout: 2 * time.Second, TraceSample: tt.sample}
			s := newSender(context.Background(), cfg, nil, nil)
			recs := map[uint64]results.Record{}
			for id := uint64(1); id <= uint64(tt.n); id++ {
				recs[id] = s.send(id, time.Now())
			}
			sampled, traces := 0, map[string]bool{}
			prop := propagation.TraceContext{}
			for id, rec := range recs {
				h := rc.tp[id]
				if (h != "") != tt.wantHeader || (rec.TraceID != "") != tt.wantRecordID {
					t.Fatalf("request %d: traceparent %q, record trace id %q", id, h, rec.TraceID)
				}
				if h == "" {
					continue
				}
				if !traceparentForm.MatchString(h) {
					t.Fatalf("request %d: traceparent %q is not version 00 with lower-case hex ids", id, h)
				}
				carrier := propagation.HeaderCarrier(http.Header{})
				carrier.Set(TraceparentHeader, h)
				sc := trace.SpanContextFromContext(prop.Extract(context.Background(), carrier))
				if !sc.IsValid() || !sc.IsRemote() {
					t.Fatalf("request %d: OpenTelemetry does not accept traceparent %q", id, h)
				}
				if sc.TraceID().String() != rec.TraceID {
					t.Errorf("request %d: record trace id %s, header's %s", id, rec.TraceID, sc.TraceID())
				}
				if sc.IsSampled() {
					sampled++
				}
				traces[rec.TraceID] = true
			}
			if sampled < tt.minS || sampled > tt.maxS {
				t.Errorf("%d of %d requests sampled, want %d..%d", sampled, tt.n, tt.minS, tt.maxS)
			}
			if tt.wantHeader && len(traces) != tt.n {
				t.Errorf("%d distinct trace ids for %d requests: each request must start its own trace", len(traces), tt.n)
			}
		})
	}
}

// A dropped arrival was never sent: no trace id.
func TestDroppedHasNoTraceID(t *testing.T) {
	if rec := dropped(3, time.Now(), 10); rec.TraceID != "" {
		t.Errorf("dropped record has trace id %q", rec.TraceID)
	}
}

func TestTraceSampleValidated(t *testing.T) {
	for _, v := range []float64{-0.1, 1.5} {
		cfg := Config{Target: "http://127.0.0.1:1/", RPS: 1, Timeout: time.Second, TraceSample: v}
		if err := cfg.Validate(); err == nil {
			t.Errorf("TraceSample %v accepted", v)
		}
	}
}
