package lab

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/results"
)

// The client's JSON log lines become events; everything else is only copied to the log.
func TestChildLogLinesBecomeEvents(t *testing.T) {
	var buf bytes.Buffer
	c := &child{name: results.ClientService, events: results.NewEventLog(&buf), addr: make(chan string, 1), state: results.BreakerClosed}
	logs := strings.Join([]string{
		`{"time":"2026-11-26T10:00:00Z","level":"INFO","msg":"listening","addr":"127.0.0.1:4242"}`,
		`{"time":"2026-11-26T10:00:01Z","level":"WARN","msg":"Retry 'backendRetry' - Attempt #2","wait":1500000000,"error":"backend call timed out"}`,
		`{"time":"2026-11-26T10:00:02Z","level":"WARN","msg":"CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN","from":"CLOSED","to":"OPEN"}`,
		`{"time":"2026-11-26T10:00:03Z","level":"WARN","msg":"Fallback response due to error: CircuitBreaker 'backendCB' is OPEN"}`,
		`not json at all`,
		`{"time":"2026-11-26T10:00:04Z","level":"INFO","msg":"Retry 'otherRetry' - Attempt #1"}`,
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
	if len(evs) != 3 {
		t.Fatalf("events = %+v, want retry, breaker, fallback", evs)
	}
	if e := evs[0]; e.Kind != results.KindRetry || e.Attempt != 2 || e.WaitMS != 1500 || e.Error != "backend call timed out" {
		t.Errorf("retry event = %+v", e)
	}
	if e := evs[1]; e.Kind != results.KindBreaker || e.From != "CLOSED" || e.To != "OPEN" || !e.Time.Equal(time.Date(2026, 11, 26, 10, 0, 2, 0, time.UTC)) {
		t.Errorf("breaker event = %+v (its time must be the log line's)", e)
	}
	if e := evs[2]; e.Kind != results.KindFallback || e.Error != "CircuitBreaker 'backendCB' is OPEN" {
		t.Errorf("fallback event = %+v", e)
	}
}

func TestWaitMS(t *testing.T) {
	tests := []struct {
		raw  string
		want float64
	}{
		{`250000000`, 250}, {`"1.5s"`, 1500}, {``, 0}, {`"soon"`, 0},
	}
	for _, tt := range tests {
		if got := waitMS([]byte(tt.raw)); got != tt.want {
			t.Errorf("waitMS(%s) = %v, want %v", tt.raw, got, tt.want)
		}
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

// A results folder that already holds files is refused, so no earlier results are lost.
func TestMakeResultsDir(t *testing.T) {
	dir := t.TempDir()
	fresh := filepath.Join(dir, "a", "b")
	if err := makeResultsDir(fresh); err != nil {
		t.Fatalf("new folder: %v", err)
	}
	if err := makeResultsDir(fresh); err != nil {
		t.Fatalf("existing empty folder: %v", err)
	}
	if err := os.WriteFile(filepath.Join(fresh, "journal.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := makeResultsDir(fresh); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("non-empty folder: err = %v, want a refusal", err)
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

func TestExpectedDuration(t *testing.T) {
	base := RunConfig{Warmup: 5 * time.Second, Recovery: 20 * time.Second}
	tests := []struct {
		name string
		vars map[string]any
		want time.Duration
	}{
		{"default partition", nil, 60 * time.Second},
		{"--var partition_duration:int=4", map[string]any{"partition_duration": int64(4)}, 34 * time.Second},
		{"--var partition_duration:float=1.5", map[string]any{"partition_duration": 1.5}, 31500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			c.Vars = tt.vars
			if got := c.expectedDuration(); got != tt.want {
				t.Errorf("expectedDuration() = %v, want %v", got, tt.want)
			}
		})
	}
}
