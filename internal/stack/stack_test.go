package stack

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/results"
)

// The client's JSON log lines become events; everything else is only copied to the log.
func TestChildLogLinesBecomeEvents(t *testing.T) {
	var buf bytes.Buffer
	c := &child{name: results.ClientService, events: results.NewEventLog(&buf), addr: make(chan string, 1), state: results.BreakerClosed}
	logs := strings.Join([]string{
		`{"time":"2026-11-26T10:00:00Z","level":"INFO","msg":"listening","addr":"127.0.0.1:4242"}`,
		`{"time":"2026-11-26T10:00:01Z","level":"WARN","msg":"Retry 'backendRetry' - Attempt #2","wait":1500000000,"event":"retry","attempt":2,"wait_ms":1500,"error":"backend call timed out","request_id":7}`,
		`{"time":"2026-11-26T10:00:02Z","level":"WARN","msg":"CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN","event":"breaker","from":"CLOSED","to":"OPEN"}`,
		`{"time":"2026-11-26T10:00:03Z","level":"WARN","msg":"Fallback response due to error: CircuitBreaker 'backendCB' is OPEN","event":"fallback","error":"CircuitBreaker 'backendCB' is OPEN"}`,
		`not json at all`,
		`{"time":"2026-11-26T10:00:04Z","level":"INFO","msg":"Retry 'backendRetry' - Attempt #1"}`,
		`{"time":"2026-11-26T10:00:05Z","level":"DEBUG","msg":"Backend call #1: failure","event":"attempt","attempt":1,"outcome":"failure","duration_ms":1000.5,"request_id":9}`,
	}, "\n") + "\n"
	var logFile bytes.Buffer
	c.readLogs(strings.NewReader(logs), &logFile)

	if logFile.String() != logs {
		t.Errorf("the log file is not a copy of the output:\n%s", logFile.String())
	}
	select {
	case a := <-c.addr:
		if a != "127.0.0.1:4242" {
			t.Errorf("address = %q", a)
		}
	default:
		t.Error("the listening address was not delivered")
	}
	if c.breakerState() != results.BreakerOpen {
		t.Errorf("breaker state = %s, want OPEN", c.breakerState())
	}
	evs, err := results.ReadEvents(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 {
		t.Fatalf("events = %+v, want retry, breaker, fallback, attempt (a sentence without attributes is not an event)", evs)
	}
	if e := evs[3]; e.Kind != results.KindAttempt || e.Attempt != 1 || e.Outcome != results.OutcomeFailure || e.DurationMS != 1000.5 || e.RequestID != 9 {
		t.Errorf("attempt event = %+v", e)
	}
	if e := evs[0]; e.Kind != results.KindRetry || e.Attempt != 2 || e.WaitMS != 1500 || e.Error != "backend call timed out" || e.RequestID != 7 {
		t.Errorf("retry event = %+v", e)
	}
	if e := evs[1]; e.Kind != results.KindBreaker || e.From != "CLOSED" || e.To != "OPEN" || !e.Time.Equal(time.Date(2026, 11, 26, 10, 0, 2, 0, time.UTC)) {
		t.Errorf("breaker event = %+v (its time must be the log line's)", e)
	}
	if e := evs[2]; e.Kind != results.KindFallback || e.Error != "CircuitBreaker 'backendCB' is OPEN" {
		t.Errorf("fallback event = %+v", e)
	}
}

func TestEnvironOverrides(t *testing.T) {
	got := environ([]string{"PATH=/bin", "LOG_FORMAT=text", "HOME=/root"}, map[string]string{"LOG_FORMAT": "json", "NEW": "1"})
	joined := strings.Join(got, " ")
	for _, want := range []string{"PATH=/bin", "HOME=/root", "LOG_FORMAT=json", "NEW=1"} {
		if !strings.Contains(joined, want) {
			t.Errorf("environ = %v, lacks %s", got, want)
		}
	}
	if strings.Contains(joined, "LOG_FORMAT=text") {
		t.Errorf("environ kept the overridden value: %v", got)
	}
}

// The forwarder relays whole conversations both ways and closes its connections on close.
func TestForwarder(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }() // echo
		}
	}()
	var d net.Dialer
	f, err := startForwarder(func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", ln.Addr().String()) })
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", f.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo through the forwarder = %q, %v", got, err)
	}
	if err := f.close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(got); err == nil {
		t.Error("the relayed connection is still open after close")
	}
	if _, err := net.DialTimeout("tcp", f.addr(), time.Second); err == nil {
		t.Error("the forwarder still accepts after close")
	}
}

// --env names only variables client-service knows: anything else is a usage error (exit 2)
// that lists the known ones, before anything starts.
func TestCheckClientEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string // substrings; nil = accepted
	}{
		{"known", map[string]string{"CB_WAIT_DURATION": "5s", "RESILIENCE": "off"}, nil},
		{"unknown", map[string]string{"FOO": "1"}, []string{"--env FOO", "no such variable", "CB_WAIT_DURATION", "RETRY_MAX_RETRIES"}},
		{"bad value", map[string]string{"CB_WAIT_DURATION": "soon"}, []string{"CB_WAIT_DURATION"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckClientEnv(tt.env)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
				return
			}
			if err == nil || cmdutil.ExitCode(err) != cmdutil.ExitUsage {
				t.Fatalf("err = %v (exit %d), want a usage error", err, cmdutil.ExitCode(err))
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, lacks %q", err, w)
				}
			}
		})
	}
}

// The kinds registry is what --stack accepts.
func TestKinds(t *testing.T) {
	if got := strings.Join(KindNames(), ","); got != "local,netns" {
		t.Errorf("KindNames = %s, want local,netns", got)
	}
	if _, err := Start(context.Background(), Config{Kind: "docker"}); err == nil || !strings.Contains(err.Error(), "use one of local, netns") {
		t.Errorf("unknown kind: err = %v", err)
	}
}
