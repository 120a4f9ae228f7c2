package client

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"chaoslab/internal/httpserve"
	"chaoslab/internal/resilience"
)

// backendBody is what backend-service answers (json.Encoder: compact, a newline at the end).
const backendBody = `{"service":"backend-service","instance":"host-1","message":"Hello from backend-service","timestamp":"2026-12-06T04:49:50.078566212Z"}` + "\n"

// answerCases are DataAnswers the fast path takes and those it must leave to encoding/json.
var answerCases = []struct {
	name string
	a    DataAnswer
	fast bool // appendAnswer writes it itself
}{
	{"backend", DataAnswer{Source: resilience.SourceBackend, Data: []byte(backendBody), Attempts: 1, CircuitBreakerState: resilience.StateClosed}, true},
	{"backend after retries", DataAnswer{Source: resilience.SourceBackend, Data: []byte(backendBody), Attempts: 6, CircuitBreakerState: resilience.StateHalfOpen}, true},
	{"padding", DataAnswer{Source: resilience.SourceBackend, Data: []byte(`{"a":"` + string(bytes.Repeat([]byte("x"), 2048)) + `"}`), Attempts: 1, CircuitBreakerState: resilience.StateDisabled}, true},
	{"escapes in strings", DataAnswer{Source: resilience.SourceBackend, Data: []byte(`{"q":"a \"b\" \\ \u00e9 é / \n","n":[1,-2.5e3,true,false,null,{}]}`), Attempts: 1, CircuitBreakerState: resilience.StateClosed}, true},
	{"space inside strings only", DataAnswer{Source: resilience.SourceBackend, Data: []byte("\t {\"a b\":\"c d\"}\r\n"), Attempts: 1, CircuitBreakerState: resilience.StateClosed}, true},
	{"not compact", DataAnswer{Source: resilience.SourceBackend, Data: []byte(`{"a": 1, "b" :[ 2 ]}`), Attempts: 1, CircuitBreakerState: resilience.StateClosed}, false},
	{"html", DataAnswer{Source: resilience.SourceBackend, Data: []byte(`{"h":"<b>&amp;</b>"}`), Attempts: 1, CircuitBreakerState: resilience.StateClosed}, false},
	{"line separators", DataAnswer{Source: resilience.SourceBackend, Data: []byte("{\"s\":\"a\u2028b\u2029c\"}"), Attempts: 1, CircuitBreakerState: resilience.StateClosed}, false},
	{"a number", DataAnswer{Source: resilience.SourceBackend, Data: []byte(`42`), Attempts: 1, CircuitBreakerState: resilience.StateClosed}, true},
	{"fallback", DataAnswer{Source: resilience.SourceFallback, Error: `Get "http://127.0.0.1:1/api/data": dial tcp 127.0.0.1:1: connect: connection refused`, Attempts: 6, CircuitBreakerState: resilience.StateOpen}, false},
	{"fallback, plain error", DataAnswer{Source: resilience.SourceFallback, Error: "CircuitBreaker 'backendCB' is OPEN and does not permit further calls", CircuitBreakerState: resilience.StateOpen}, false},
	{"error", DataAnswer{Source: resilience.SourceError, Error: "context canceled", Attempts: 1, CircuitBreakerState: resilience.StateDisabled}, false},
	{"odd source", DataAnswer{Source: `a"<b>`, Data: []byte(`{}`), CircuitBreakerState: resilience.StateClosed}, false},
	{"negative attempts", DataAnswer{Source: resilience.SourceBackend, Data: []byte(`{}`), Attempts: -3, CircuitBreakerState: resilience.StateClosed}, true},
}

// TestAnswerWriterMatchesWriteJSON: every answer is written byte for byte, status and headers
// included, as httpserve.WriteJSON (encoding/json) writes it, and the fast path is taken where
// it should be, the backend-service answer first.
func TestAnswerWriterMatchesWriteJSON(t *testing.T) {
	aw := &answerWriter{}
	for _, tc := range answerCases {
		t.Run(tc.name, func(t *testing.T) {
			for _, status := range []int{http.StatusOK, http.StatusBadGateway} {
				sameAsWriteJSON(t, aw, status, tc.a)
			}
			if _, fast := appendAnswer(nil, tc.a); fast != tc.fast {
				t.Errorf("fast path taken: %v, want %v", fast, tc.fast)
			}
		})
	}
}

// FuzzAnswerWriter: for any valid JSON the backend may send and any error text, the answer is
// what encoding/json writes.
func FuzzAnswerWriter(f *testing.F) {
	for _, tc := range answerCases {
		f.Add([]byte(tc.a.Data), tc.a.Error, tc.a.Attempts)
	}
	aw := &answerWriter{}
	f.Fuzz(func(t *testing.T, data []byte, errText string, attempts int) {
		if len(data) > 0 && !json.Valid(data) {
			t.Skip("fetch never hands on a body that is not JSON")
		}
		if len(data) == 0 {
			data = nil
		}
		sameAsWriteJSON(t, aw, http.StatusOK, DataAnswer{Source: resilience.SourceBackend, Data: data, Error: errText,
			Attempts: attempts, CircuitBreakerState: resilience.StateClosed})
	})
}

func sameAsWriteJSON(t *testing.T, aw *answerWriter, status int, a DataAnswer) {
	t.Helper()
	want, got := httptest.NewRecorder(), httptest.NewRecorder()
	httpserve.WriteJSON(want, status, a)
	aw.write(got, status, a)
	if got.Code != want.Code || !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
		t.Fatalf("answer %d %q\nwant   %d %q", got.Code, got.Body, want.Code, want.Body)
	}
	if g, w := got.Header(), want.Header(); len(g) != len(w) || g.Get("Content-Type") != w.Get("Content-Type") {
		t.Fatalf("headers %v, want %v", g, w)
	}
}
