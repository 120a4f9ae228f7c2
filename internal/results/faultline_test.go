package results

import (
	"testing"
	"time"
)

func TestDecodeFaultLine(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 123000000, time.UTC)
	tests := []struct {
		name string
		line string
		want Event
		ok   bool
	}{
		{"fault on", `{"time":"2026-12-01T10:00:00.123Z","level":"INFO","msg":"fault on","service":"fault-proxy","event":"fault","action":"on","kind":"http-errors","detail":"abort 503 for 30% (http fault http-errors)"}`,
			Event{Time: at, Kind: KindFault, Action: "on", Name: "http-errors", Message: "abort 503 for 30% (http fault http-errors)"}, true},
		{"fault off", `{"time":"2026-12-01T10:00:00.123Z","event":"fault","action":"off","kind":"latency","detail":"removed: latency 1500 ms"}`,
			Event{Time: at, Kind: KindFault, Action: "off", Name: "latency", Message: "removed: latency 1500 ms"}, true},
		{"process kill", `{"time":"2026-12-01T10:00:00.123Z","event":"process","action":"kill","process":"backend-service","pid":7,"detail":"backend-service killed with SIGKILL (pid 7)"}`,
			Event{Time: at, Kind: KindProcess, Action: "kill", Service: "backend-service", Message: "backend-service killed with SIGKILL (pid 7)"}, true},
		{"process start", `{"time":"2026-12-01T10:00:00.123Z","event":"process","action":"start","process":"backend-service","pid":9,"since_ms":2500.5,"detail":"back"}`,
			Event{Time: at, Kind: KindProcess, Action: "start", Service: "backend-service", Message: "back", DurationMS: 2500.5}, true},
		{"a client record", `{"time":"2026-12-01T10:00:00.123Z","event":"retry","attempt":1}`, Event{}, false},
		{"a fault without action", `{"event":"fault","kind":"latency"}`, Event{}, false},
		{"text", `time=2026-12-01T10:00:00Z msg="fault on" event=fault action=on`, Event{}, false},
		{"empty", ``, Event{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := DecodeFaultLine([]byte(tt.line))
			if ok != tt.ok || got != tt.want {
				t.Errorf("DecodeFaultLine = %+v, %t; want %+v, %t", got, ok, tt.want, tt.ok)
			}
		})
	}
}
