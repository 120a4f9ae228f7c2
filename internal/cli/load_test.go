package cli

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/load"
)

// The load's default timeout outlasts client-service's default REQUEST_TIMEOUT, read from the
// client's own table, so the load never cuts a request the client is still working on.
func TestLoadDefaultTimeoutOutlastsTheClient(t *testing.T) {
	rt := clientRequestTimeout()
	if rt != 15*time.Second {
		t.Errorf("client-service's default REQUEST_TIMEOUT = %v, want 15s (the help texts say so)", rt)
	}
	if load.DefaultTimeout <= rt {
		t.Errorf("load.DefaultTimeout %v is not longer than REQUEST_TIMEOUT %v", load.DefaultTimeout, rt)
	}
}

// chaoslab load warns on stderr when --timeout is not longer than the client's REQUEST_TIMEOUT,
// saying what it does to the numbers, and prints dropped requests in its line.
func TestLoadTimeoutWarningAndLine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"source":"backend","attempts":1,"circuitBreakerState":"CLOSED"}`))
	}))
	defer srv.Close()
	tests := []struct {
		name    string
		timeout []string
		warns   bool
	}{
		{"default", nil, false},
		{"the old 10s", []string{"--timeout", "10s"}, true},
		{"equal to REQUEST_TIMEOUT", []string{"--timeout", "15s"}, true},
		{"longer", []string{"--timeout", "16s"}, false},
	}
	line := regexp.MustCompile(`requests=\d+ backend=\d+ fallback=0 errors=0 dropped=0 breaker=CLOSED`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"load", "--target", srv.URL, "--rps", "50", "--duration", "100ms"}, tt.timeout...)
			out, errOut, err := runCLI(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			warned := strings.Contains(errOut, "not longer than client-service's REQUEST_TIMEOUT") &&
				strings.Contains(errOut, "counted as timeout errors")
			if warned != tt.warns {
				t.Errorf("warned = %t, want %t; stderr:\n%s", warned, tt.warns, errOut)
			}
			if !line.MatchString(out) {
				t.Errorf("no line with the dropped count:\n%s", out)
			}
		})
	}
}
