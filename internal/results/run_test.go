package results

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Every duration in run.json is a number of milliseconds, and reads back exactly.
func TestDurationIsMilliseconds(t *testing.T) {
	info := RunInfo{Recovery: Duration(1500 * time.Millisecond), CBWait: Duration(10 * time.Second),
		Retry: RetrySchedule{InitialBackoff: Duration(250 * time.Microsecond)}}
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"recovery_ms":1500`, `"cb_wait_duration_ms":10000`, `"initial_backoff_ms":0.25`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("run.json lacks %s:\n%s", want, b)
		}
	}
	var back RunInfo
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Recovery != info.Recovery || back.CBWait != info.CBWait || back.Retry.InitialBackoff != info.Retry.InitialBackoff {
		t.Errorf("read back %+v, want %+v", back, info)
	}
	if err := json.Unmarshal([]byte(`{"recovery_ms":"20s"}`), &back); err == nil || !strings.Contains(err.Error(), "milliseconds") {
		t.Errorf("a duration as text: err = %v, want one that says milliseconds", err)
	}
}

// What Write puts in a folder, ReadRun gives back: the same Run the lab had in memory.
func TestRunWriteReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	evs := []Event{
		{Time: t0, Kind: KindFault, Action: "on", Name: "partition"},
		{Time: t0.Add(time.Second), Kind: KindAttempt, Attempt: 1, Outcome: OutcomeFailure, DurationMS: 1000, RequestID: 2},
	}
	f, err := os.Create(filepath.Join(dir, EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	l := NewEventLog(f)
	for _, e := range evs {
		l.Add(e)
	}
	f.Close()
	in := &Run{Dir: dir,
		Info:    RunInfo{Title: "t", Start: t0, Recovery: Duration(time.Second), Problems: []string{"cleanup: x"}, ClientEnv: map[string]string{"A": "1"}},
		Records: []Record{{ID: 1, Start: t0, Latency: time.Millisecond, Status: 200, Source: SourceBackend, Attempts: 1}},
		Events:  l.Events(),
		Before:  &Snapshot{Time: t0, Moment: "before", Services: map[string]ServiceSnapshot{ClientService: {Running: true, Healthz: 200}}},
	}
	if err := in.Write(dir); err != nil {
		t.Fatal(err)
	}
	out, err := ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out.Info, in.Info) || !reflect.DeepEqual(out.Records, in.Records) || !reflect.DeepEqual(out.Events, in.Events) ||
		!reflect.DeepEqual(out.Before, in.Before) || out.After != nil {
		t.Errorf("read back\n%+v\nwant\n%+v", out, in)
	}
	if !reflect.DeepEqual(out.Missing, []string{filepath.Join(ObservationsDir, AfterSnapshot)}) {
		t.Errorf("missing = %v, want only the after observation", out.Missing)
	}
	if _, err := ReadRun(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a results folder") {
		t.Errorf("empty folder: err = %v", err)
	}
}

// Attempts per record are the attempt events with its ID; without any attempt event the
// answer's count (or unknown) stays; a dropped request made no call.
func TestJoinAttempts(t *testing.T) {
	recs := func() []Record {
		return []Record{
			{ID: 1, Source: SourceBackend, Attempts: 1},
			{ID: 2, Source: SourceError, Attempts: UnknownAttempts}, // cut by the load: no answer
			{ID: 3, Source: SourceFallback, Attempts: 0},            // rejected by the breaker
			{ID: 4, Source: SourceDropped, Attempts: UnknownAttempts},
		}
	}
	att := func(id uint64, n int) Event { return Event{Kind: KindAttempt, RequestID: id, Attempt: n} }
	r := &Run{Records: recs(), Events: []Event{att(1, 1), att(2, 1), att(2, 2), att(2, 3), att(0, 1), {Kind: KindRetry, RequestID: 3}}}
	r.JoinAttempts()
	if got := []int{r.Records[0].Attempts, r.Records[1].Attempts, r.Records[2].Attempts, r.Records[3].Attempts}; !reflect.DeepEqual(got, []int{1, 3, 0, 0}) {
		t.Errorf("with attempt events: attempts = %v, want [1 3 0 0]", got)
	}
	r = &Run{Records: recs(), Events: []Event{{Kind: KindFallback, RequestID: 3}}}
	r.JoinAttempts()
	if got := []int{r.Records[0].Attempts, r.Records[1].Attempts, r.Records[2].Attempts, r.Records[3].Attempts}; !reflect.DeepEqual(got, []int{1, UnknownAttempts, 0, 0}) {
		t.Errorf("without attempt events: attempts = %v, want the answers' [1 -1 0 0]", got)
	}
}

// The decoder reads the attributes, never the sentence.
func TestDecodeLogLine(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Event
		ok   bool
	}{
		{"retry", `{"time":"2026-11-29T10:00:00Z","msg":"Retry 'backendRetry' - Attempt #2","event":"retry","attempt":2,"wait_ms":1500.5,"error":"boom","request_id":7}`,
			Event{Time: time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC), Kind: KindRetry, Attempt: 2, WaitMS: 1500.5, Error: "boom", RequestID: 7}, true},
		{"breaker", `{"msg":"anything","event":"breaker","from":"OPEN","to":"HALF_OPEN"}`, Event{Kind: KindBreaker, From: "OPEN", To: "HALF_OPEN"}, true},
		{"fallback", `{"event":"fallback","error":"x"}`, Event{Kind: KindFallback, Error: "x"}, true},
		{"attempt", `{"event":"attempt","attempt":1,"outcome":"ignored","duration_ms":3.5,"request_id":9}`,
			Event{Kind: KindAttempt, Attempt: 1, Outcome: OutcomeIgnored, DurationMS: 3.5, RequestID: 9}, true},
		{"sentence only", `{"msg":"CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN"}`, Event{}, false},
		{"unknown event", `{"event":"other"}`, Event{}, false},
		{"not json", `Retry 'backendRetry' - Attempt #1`, Event{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := DecodeLogLine([]byte(tt.line))
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DecodeLogLine = %+v, %t; want %+v, %t", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestEventLogObserve(t *testing.T) {
	l := NewEventLog(nil)
	l.Add(Event{Kind: KindPhase, Phase: "warmup"}) // before Observe: not seen
	var seen []string
	l.Observe(func(e Event) { seen = append(seen, e.Phase) })
	l.Add(Event{Kind: KindPhase, Phase: "experiment"})
	l.Add(Event{Kind: KindPhase, Phase: "recovery"})
	if len(seen) != 2 || seen[0] != "experiment" || seen[1] != "recovery" || len(l.Events()) != 3 {
		t.Errorf("observed %v of %d events, want experiment then recovery", seen, len(l.Events()))
	}
}

func TestEventTapKeepsNothing(t *testing.T) {
	l := NewEventTap()
	n := 0
	l.Observe(func(Event) { n++ })
	for range 1000 {
		l.Add(Event{Kind: KindAttempt})
	}
	if n != 1000 || len(l.Events()) != 0 || l.Err() != nil {
		t.Errorf("observed %d, kept %d, err %v: want 1000 seen, none kept", n, len(l.Events()), l.Err())
	}
}
