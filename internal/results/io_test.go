package results

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestRequestsRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC)
	in := []Record{
		{ID: 1, Start: t0, SendLag: 250 * time.Microsecond, Latency: 1500 * time.Microsecond, Status: 200, Source: SourceBackend, Attempts: 1, Breaker: BreakerClosed},
		{ID: 2, Start: t0.Add(50 * time.Millisecond), Latency: 2 * time.Millisecond, Status: 200, Source: SourceFallback, Attempts: 0, Breaker: BreakerOpen, Error: "circuit breaker open, \"quoted\""},
		{ID: 3, Start: t0.Add(100 * time.Millisecond), Latency: 2 * time.Second, Status: 0, Source: SourceError, Attempts: UnknownAttempts, Error: "timeout"},
		{ID: 4, Start: t0.Add(150 * time.Millisecond), Source: SourceDropped, Attempts: 0, Error: "in-flight cap"},
	}
	var buf bytes.Buffer
	if err := WriteRequests(&buf, in); err != nil {
		t.Fatal(err)
	}
	out, err := ReadRequests(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("got %d records, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i].ID != in[i].ID || !out[i].Start.Equal(in[i].Start) || out[i].SendLag != in[i].SendLag || out[i].Latency != in[i].Latency || out[i].Status != in[i].Status ||
			out[i].Source != in[i].Source || out[i].Attempts != in[i].Attempts || out[i].Breaker != in[i].Breaker || out[i].Error != in[i].Error {
			t.Errorf("record %d: got %+v, want %+v", i, out[i], in[i])
		}
	}
}

func TestReadRequestsErrors(t *testing.T) {
	const header = "id,start,send_lag_ms,latency_ms,status,source,attempts,breaker,error\n"
	tests := []struct{ name, csv, want string }{
		{"empty", "", "no header"},
		{"bad latency", header + "1,2026-11-26T10:00:00Z,0,abc,200,backend,1,CLOSED,\n", "line 2: latency_ms"},
		{"bad id", header + "x,2026-11-26T10:00:00Z,0,1,200,backend,1,CLOSED,\n", "line 2: id"},
		{"negative attempts", header + "1,2026-11-26T10:00:00Z,0,1,200,backend,-1,CLOSED,\n", "line 2: attempts"},
		{"short row", header + "1,2026-11-26T10:00:00Z,1\n", "wrong number of fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadRequests(strings.NewReader(tt.csv))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestEventsRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	l := NewEventLog(&buf)
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	l.Add(Event{Time: t0, Kind: KindFault, Action: "on", Name: "partition"})
	l.Add(Event{Time: t0.Add(time.Second), Kind: KindBreaker, From: BreakerClosed, To: BreakerOpen})
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	evs, err := ReadEvents(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Action != "on" || evs[1].To != BreakerOpen || !evs[1].Time.Equal(t0.Add(time.Second)) {
		t.Errorf("events = %+v", evs)
	}
	if _, err := ReadEvents(strings.NewReader("{\"time\":1}\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("malformed line: err = %v", err)
	}
}
