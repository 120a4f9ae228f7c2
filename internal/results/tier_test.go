package results

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// A run with a topology writes the entry tier of each request as a last column, and reads it back.
func TestRequestsTierColumn(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	in := []Record{
		{ID: 1, Start: t0, Status: 200, Source: SourceBackend, Attempts: 1, Tier: "a"},
		{ID: 2, Start: t0, Source: SourceDropped, Attempts: 0, Error: "cap", Tier: "b"},
	}
	var buf bytes.Buffer
	if err := WriteRequests(&buf, in); err != nil {
		t.Fatal(err)
	}
	if head, _, _ := strings.Cut(buf.String(), "\n"); head != "id,start,send_lag_ms,latency_ms,status,source,attempts,breaker,error,tier" {
		t.Errorf("header = %s", head)
	}
	out, err := ReadRequests(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Tier != "a" || out[1].Tier != "b" {
		t.Errorf("read back %+v", out)
	}
	short := "id,start,send_lag_ms,latency_ms,status,source,attempts,breaker,error,tier\n1,2026-11-26T10:00:00Z,0,1,200,backend,1,CLOSED,\n"
	if _, err := ReadRequests(strings.NewReader(short)); err == nil || !strings.Contains(err.Error(), "wrong number of fields") {
		t.Errorf("a row without its tier: err = %v", err)
	}
}

// A client-service record carries its tier into the event.
func TestDecodeLogLineTier(t *testing.T) {
	line := `{"time":"2026-11-26T10:00:05Z","level":"DEBUG","msg":"Backend call #2: success","tier":"mid","event":"attempt","attempt":2,"outcome":"success","duration_ms":1.5,"request_id":9}`
	e, ok := DecodeLogLine([]byte(line))
	if !ok || e.Tier != "mid" || e.Kind != KindAttempt || e.RequestID != 9 || e.Attempt != 2 {
		t.Errorf("DecodeLogLine = %+v, %t", e, ok)
	}
}

// With tiers, a request's attempts are its entry tier's calls only; without a tier on the
// record every call with its id counts, as before.
func TestJoinAttemptsByTier(t *testing.T) {
	att := func(id uint64, tier string) Event { return Event{Kind: KindAttempt, RequestID: id, Tier: tier} }
	tests := []struct {
		name string
		rec  Record
		want int
	}{
		{"entry edge", Record{ID: 1, Source: SourceBackend, Tier: "edge"}, 2},
		{"entry b of a fan-in", Record{ID: 2, Source: SourceBackend, Tier: "b"}, 1},
		{"no tier: every call of the id", Record{ID: 1, Source: SourceBackend}, 2 + 6},
		{"dropped", Record{ID: 3, Source: SourceDropped, Tier: "edge"}, 0},
	}
	evs := []Event{att(1, "edge"), att(1, "edge"), att(2, "b"), att(0, "edge")}
	for range 6 {
		evs = append(evs, att(1, "mid"))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Run{Records: []Record{tt.rec}, Events: evs}
			r.JoinAttempts()
			if got := r.Records[0].Attempts; got != tt.want {
				t.Errorf("Attempts = %d, want %d", got, tt.want)
			}
		})
	}
}
