package results

import (
	"bytes"
	"testing"
	"time"
)

// Without a topology (records and events without a tier) requests.csv, events.jsonl and the
// decoded client records are byte for byte what they were before tiers existed.
func TestWithoutTierUnchanged(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC)
	t.Run("requests.csv", func(t *testing.T) {
		var buf bytes.Buffer
		recs := []Record{
			{ID: 1, Start: t0, SendLag: 250 * time.Microsecond, Latency: 1500 * time.Microsecond, Status: 200, Source: SourceBackend, Attempts: 1, Breaker: BreakerClosed},
			{ID: 2, Start: t0.Add(50 * time.Millisecond), Source: SourceError, Attempts: UnknownAttempts, Error: "timeout"},
		}
		if err := WriteRequests(&buf, recs); err != nil {
			t.Fatal(err)
		}
		const want = "id,start,send_lag_ms,latency_ms,status,source,attempts,breaker,error\n" +
			"1,2026-11-26T10:00:00.123456789Z,0.250,1.500,200,backend,1,CLOSED,\n" +
			"2,2026-11-26T10:00:00.173456789Z,0.000,0.000,0,error,,,timeout\n"
		if buf.String() != want {
			t.Errorf("requests.csv =\n%s\nwant\n%s", buf.String(), want)
		}
	})
	t.Run("events.jsonl", func(t *testing.T) {
		var buf bytes.Buffer
		l := NewEventLog(&buf)
		l.Add(Event{Time: t0, Kind: KindAttempt, Attempt: 2, Outcome: OutcomeFailure, DurationMS: 200, RequestID: 7, Error: "timeout"})
		l.Add(Event{Time: t0, Kind: KindBreaker, From: BreakerClosed, To: BreakerOpen})
		const want = `{"time":"2026-11-26T10:00:00.123456789Z","kind":"attempt","attempt":2,"duration_ms":200,"outcome":"failure","request_id":7,"error":"timeout"}` + "\n" +
			`{"time":"2026-11-26T10:00:00.123456789Z","kind":"breaker","from":"CLOSED","to":"OPEN"}` + "\n"
		if buf.String() != want {
			t.Errorf("events.jsonl =\n%s\nwant\n%s", buf.String(), want)
		}
	})
	t.Run("a client record without TIER", func(t *testing.T) {
		line := `{"time":"2026-11-26T10:00:05Z","level":"DEBUG","msg":"Backend call #1: failure","event":"attempt","attempt":1,"outcome":"failure","duration_ms":1000.5,"request_id":9}`
		e, ok := DecodeLogLine([]byte(line))
		want := Event{Time: time.Date(2026, 11, 26, 10, 0, 5, 0, time.UTC), Kind: KindAttempt, Attempt: 1, Outcome: OutcomeFailure, DurationMS: 1000.5, RequestID: 9}
		if !ok || e != want {
			t.Errorf("DecodeLogLine = %+v, %t; want %+v", e, ok, want)
		}
	})
}
