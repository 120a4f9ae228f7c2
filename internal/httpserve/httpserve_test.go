package httpserve

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"chaoslab/internal/cmdutil"
)

func TestReadyz(t *testing.T) {
	var ready atomic.Bool
	h := HandleReadyz(&ready)
	for _, tt := range []struct {
		name  string
		ready bool
		want  int
	}{
		{"before listening", false, http.StatusServiceUnavailable},
		{"serving", true, http.StatusOK},
		{"shutting down", false, http.StatusServiceUnavailable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ready.Store(tt.ready)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			if rec.Code != tt.want {
				t.Errorf("readyz = %d, want %d", rec.Code, tt.want)
			}
		})
	}
}

type cfg struct {
	D time.Duration
	N int
	F float64
	S string
}

func TestLoad(t *testing.T) {
	settings := []Setting[cfg]{
		{Name: "D", Default: "1s", Set: func(c *cfg, v string) error { return Duration(v, &c.D, 1) }},
		{Name: "N", Default: "3", Set: func(c *cfg, v string) error { return Int(v, &c.N, 0) }},
		{Name: "F", Default: "50", Set: func(c *cfg, v string) error { return Float(v, &c.F, 0, 100, true) }},
		{Name: "S", Default: ":80", Set: func(c *cfg, v string) error { return ListenAddr(v, &c.S) }},
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    cfg
		wantErr string
	}{
		{"defaults", nil, cfg{time.Second, 3, 50, ":80"}, ""},
		{"overrides", map[string]string{"D": "5ms", "N": "0", "F": "100", "S": "127.0.0.1:0"}, cfg{5 * time.Millisecond, 0, 100, "127.0.0.1:0"}, ""},
		{"zero duration", map[string]string{"D": "0s"}, cfg{}, `D="0s": must be a duration of at least 1ns (greater than 0)`},
		{"negative count", map[string]string{"N": "-2"}, cfg{}, `N="-2": must be a whole number of at least 0`},
		{"over the range", map[string]string{"F": "100.5"}, cfg{}, `F="100.5": must be a number greater than 0 and at most 100`},
		{"no port", map[string]string{"S": "host"}, cfg{}, `S="host": must be host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c cfg
			err := Load(settings, func(k string) string { return tt.env[k] }, &c)
			if tt.wantErr == "" {
				if err != nil || c != tt.want {
					t.Errorf("Load = %+v, %v; want %+v", c, err, tt.want)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) || !errors.Is(err, cmdutil.ErrUsage) {
				t.Errorf("err = %v, want a usage error starting %q", err, tt.wantErr)
			}
		})
	}
}
