package client

import (
	"net/http"
	"strings"
	"testing"

	"chaoslab/internal/results"
)

// TestRequestIDsInLogs sends one request that fails (three calls, two retries, a fallback) with
// an X-Request-Id header: every retry, fallback and attempt record carries it when it is a
// positive integer, and none when it is anything else. Attempt records appear at LOG_LEVEL=debug
// only, one per backend call.
func TestRequestIDsInLogs(t *testing.T) {
	tests := []struct {
		name, header, level string
		wantID              uint64
		wantAttempts        int // attempt records
	}{
		{"a positive id", "17", "debug", 17, 3},
		{"no header", "", "debug", 0, 3},
		{"not a number", "abc", "debug", 0, 3},
		{"negative", "-3", "debug", 0, 3},
		{"zero", "0", "debug", 0, 3},
		{"info level: no attempt records", "17", "info", 17, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeBackend(t)
			f.mode.Store(modeFail)
			cl := start(t, Run, fastEnv(f.srv.URL, "RETRY_MAX_RETRIES", "2", "LOG_LEVEL", tt.level))
			req, err := http.NewRequest(http.MethodGet, cl.URL+"/api/data", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.header != "" {
				req.Header.Set(results.RequestIDHeader, tt.header)
			}
			var a DataAnswer
			decodeAnswer(t, req, &a)
			kinds := map[string]int{}
			for line := range strings.Lines(cl.Logs.String()) {
				e, ok := results.DecodeLogLine([]byte(line))
				if !ok || e.Kind == results.KindBreaker {
					continue
				}
				kinds[e.Kind]++
				if e.RequestID != tt.wantID {
					t.Errorf("%s record with request id %d, want %d", e.Kind, e.RequestID, tt.wantID)
				}
			}
			want := map[string]int{results.KindRetry: 2, results.KindFallback: 1, results.KindAttempt: tt.wantAttempts}
			for k, n := range want {
				if kinds[k] != n {
					t.Errorf("%d %s records, want %d", kinds[k], k, n)
				}
			}
			if a.Attempts != 3 {
				t.Errorf("answer says %d attempts, want 3", a.Attempts)
			}
		})
	}
}
