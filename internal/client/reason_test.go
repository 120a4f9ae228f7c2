package client

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReasonOf(t *testing.T) {
	tests := []struct {
		name, contentType, body, want string
	}{
		{"envoy's text", "text/plain", "upstream connect error or disconnect/reset before headers. reset reason: connection failure\nsecond line", "upstream connect error or disconnect/reset before headers. reset reason: connection failure"},
		{"json is not a reason", "application/json", `{"error":"x"}`, ""},
		{"long text is cut", "text/plain; charset=utf-8", strings.Repeat("a", 1000), strings.Repeat("a", maxReason)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			rec.Header().Set("Content-Type", tt.contentType)
			rec.WriteHeader(http.StatusServiceUnavailable)
			rec.WriteString(tt.body)
			if got := reasonOf(rec.Result()); got != tt.want {
				t.Errorf("reasonOf = %q, want %q", got, tt.want)
			}
		})
	}
}
