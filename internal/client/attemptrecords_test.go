package client

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/results"
	"chaoslab/internal/testutil"
)

// putAttemptRecords sends PUT /api/attempt-records with the query q and decodes the answer.
func putAttemptRecords(t *testing.T, base, q string, v any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, base+"/api/attempt-records"+q, nil)
	if err != nil {
		t.Fatal(err)
	}
	return decodeAnswer(t, req, v)
}

// getData sends GET /api/data with the request id and returns the answer.
func getData(t *testing.T, base string, id uint64) DataAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/api/data", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(results.RequestIDHeader, strconv.FormatUint(id, 10))
	var a DataAnswer
	decodeAnswer(t, req, &a)
	return a
}

// attemptLevels returns the levels of request id's attempt records, read with the lab's decoder.
func attemptLevels(t *testing.T, logs *logBuffer, id uint64) []string {
	t.Helper()
	var out []string
	for line := range strings.Lines(logs.String()) {
		e, ok := results.DecodeLogLine([]byte(line))
		if ok && e.Kind == results.KindAttempt && e.RequestID == id {
			out = append(out, line[strings.Index(line, `"level":"`)+9:][:5])
		}
	}
	return out
}

// TestAttemptRecordsLease: at LOG_LEVEL=info, PUT /api/attempt-records?for= turns the attempt
// records on (one per backend call, at debug level, as LOG_LEVEL=debug writes them) and for=0
// turns them off again.
func TestAttemptRecordsLease(t *testing.T) {
	f := newFakeBackend(t)
	f.mode.Store(modeFail)
	cl := start(t, Run, fastEnv(f.srv.URL, "RETRY_MAX_RETRIES", "2", "LOG_LEVEL", "info",
		"CB_SLIDING_WINDOW", "100", "CB_MINIMUM_CALLS", "100"))
	steps := []struct {
		name        string
		put         string // the query of a PUT first; "" = none
		wantEnabled bool
		wantLease   time.Duration // the lease's length asked; 0 = no until
		wantRecords int
	}{
		{"off at start", "", false, 0, 0},
		{"on for a minute", "?for=1m", true, time.Minute, 3},
		{"turned off", "?for=0", false, 0, 0},
		{"on again for an hour", "?for=1h", true, time.Hour, 3},
		{"off with 0s", "?for=0s", false, 0, 0},
	}
	for i, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			var a AttemptRecordsAnswer
			asked := time.Now()
			if s.put != "" {
				if resp := putAttemptRecords(t, cl.URL, s.put, &a); resp.StatusCode != http.StatusOK {
					t.Fatalf("PUT %s: %d", s.put, resp.StatusCode)
				}
			} else {
				getJSON(t, cl.URL+"/api/attempt-records", &a)
			}
			checkLease(t, a, s.wantEnabled, asked, s.wantLease)
			var g AttemptRecordsAnswer
			getJSON(t, cl.URL+"/api/attempt-records", &g)
			if g != a {
				t.Errorf("GET says %+v after the PUT said %+v", g, a)
			}
			id := uint64(i + 1)
			if d := getData(t, cl.URL, id); d.Attempts != 3 {
				t.Fatalf("request %d: %d attempts, want 3", id, d.Attempts)
			}
			levels := attemptLevels(t, cl.Logs, id)
			if len(levels) != s.wantRecords || strings.Count(strings.Join(levels, ""), "DEBUG") != len(levels) {
				t.Errorf("request %d: attempt records at levels %v, want %d at DEBUG", id, levels, s.wantRecords)
			}
		})
	}
}

// checkLease checks an answer against a lease of d asked at asked (0 = none).
func checkLease(t *testing.T, a AttemptRecordsAnswer, enabled bool, asked time.Time, d time.Duration) {
	t.Helper()
	if a.Enabled != enabled {
		t.Errorf("enabled = %v, want %v", a.Enabled, enabled)
	}
	if d == 0 {
		if !a.Until.IsZero() {
			t.Errorf("until = %v, want none", a.Until)
		}
		return
	}
	if a.Until.Before(asked.Add(d)) || a.Until.After(time.Now().Add(d)) || a.Until.Location() != time.UTC {
		t.Errorf("until = %v, want %v after the PUT, in UTC", a.Until, d)
	}
}

// TestAttemptRecordsLeaseEnds: a lease ends by itself.
func TestAttemptRecordsLeaseEnds(t *testing.T) {
	cl := start(t, Run, fastEnv(newFakeBackend(t).srv.URL))
	var a AttemptRecordsAnswer
	putAttemptRecords(t, cl.URL, "?for=50ms", &a)
	if !a.Enabled {
		t.Fatalf("PUT ?for=50ms answered %+v", a)
	}
	testutil.WaitFor(t, 2*time.Second, "the lease to end", func() bool {
		a = AttemptRecordsAnswer{}
		getJSON(t, cl.URL+"/api/attempt-records", &a)
		return !a.Enabled && a.Until.IsZero()
	})
	getData(t, cl.URL, 9)
	if n := len(attemptLevels(t, cl.Logs, 9)); n != 0 {
		t.Errorf("%d attempt records after the lease ended, want none", n)
	}
}

// TestAttemptRecordsAtDebug: at LOG_LEVEL=debug the records are always on; a lease changes nothing.
func TestAttemptRecordsAtDebug(t *testing.T) {
	cl := start(t, Run, fastEnv(newFakeBackend(t).srv.URL, "LOG_LEVEL", "debug"))
	var a AttemptRecordsAnswer
	putAttemptRecords(t, cl.URL, "?for=0", &a)
	if !a.Enabled || !a.Until.IsZero() {
		t.Errorf("PUT ?for=0 at LOG_LEVEL=debug answered %+v, want enabled without until", a)
	}
	getData(t, cl.URL, 4)
	if n := len(attemptLevels(t, cl.Logs, 4)); n != 1 {
		t.Errorf("%d attempt records, want 1", n)
	}
}

func TestAttemptRecordsBadLease(t *testing.T) {
	cl := start(t, Run, fastEnv(newFakeBackend(t).srv.URL))
	tests := []struct{ name, query, want string }{
		{"missing", "", "for is required"},
		{"empty", "?for=", "for is required"},
		{"not a duration", "?for=abc", `for="abc": not a duration`},
		{"no unit", "?for=5", `for="5": not a duration`},
		{"negative", "?for=-1s", `for="-1s": must be from 0 (off) to 1h0m0s`},
		{"over an hour", "?for=1h0m1s", `for="1h0m1s": must be from 0 (off) to 1h0m0s`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e ErrorAnswer
			resp := putAttemptRecords(t, cl.URL, tt.query, &e)
			if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(e.Error, tt.want) {
				t.Errorf("PUT %q: %d %q, want 400 starting with %q", tt.query, resp.StatusCode, e.Error, tt.want)
			}
			var a AttemptRecordsAnswer
			if getJSON(t, cl.URL+"/api/attempt-records", &a); a.Enabled {
				t.Errorf("a refused PUT turned the records on: %+v", a)
			}
		})
	}
}

func TestHelpListsAttemptRecords(t *testing.T) {
	var out strings.Builder
	Run(context.Background(), []string{"--help"}, envOf(nil), &out, io.Discard)
	if !strings.Contains(out.String(), "/api/attempt-records") {
		t.Errorf("--help does not list /api/attempt-records:\n%s", out.String())
	}
}
