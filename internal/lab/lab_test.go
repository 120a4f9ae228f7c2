package lab

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"chaoslab/chaos"
	"chaoslab/internal/experiment"
	"chaoslab/internal/results"
	"chaoslab/internal/stack"
)

// A results folder that already holds files is refused, so no earlier results are lost.
func TestMakeResultsDir(t *testing.T) {
	dir := t.TempDir()
	fresh := filepath.Join(dir, "a", "b")
	if err := MakeResultsDir(fresh); err != nil {
		t.Fatalf("new folder: %v", err)
	}
	if err := MakeResultsDir(fresh); err != nil {
		t.Fatalf("existing empty folder: %v", err)
	}
	if err := os.WriteFile(filepath.Join(fresh, "journal.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := MakeResultsDir(fresh); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("non-empty folder: err = %v, want a refusal", err)
	}
}

func TestExpectedDuration(t *testing.T) {
	base := RunConfig{Warmup: 5 * time.Second, Recovery: 20 * time.Second}
	tests := []struct {
		name, entry string
		vars        map[string]any
		want        time.Duration
	}{
		{"default partition", "network-partition", nil, 60 * time.Second},
		{"--var partition_duration:int=4", "network-partition", map[string]any{"partition_duration": int64(4)}, 34 * time.Second},
		{"--var partition_duration:float=1.5", "network-partition", map[string]any{"partition_duration": 1.5}, 31500 * time.Millisecond},
		{"crash: restart after 15 s", "backend-crash", nil, 45 * time.Second},
		{"flapping: 5 cycles of 3 s + 3 s", "flapping-partition", nil, 60 * time.Second},
		{"flapping: --var cycles:int=2", "flapping-partition", map[string]any{"cycles": int64(2)}, 42 * time.Second},
		{"latency: fault_duration", "backend-latency", map[string]any{"fault_duration": int64(10)}, 40 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			en, ok := chaos.Lookup(tt.entry)
			if !ok {
				t.Fatalf("no catalogue entry %s", tt.entry)
			}
			exp, err := experiment.Parse(en.Data, "json")
			if err != nil {
				t.Fatal(err)
			}
			c := base
			c.Experiment, c.Vars = exp, tt.vars
			if got := c.expectedDuration(); got != tt.want {
				t.Errorf("expectedDuration() = %v, want %v", got, tt.want)
			}
		})
	}
}

// The start of a run warns about settings that weaken its evidence, and only those.
func TestWarnings(t *testing.T) {
	client := stack.ClientSettings{Resilience: results.ResilienceOn, CBWait: 10 * time.Second, HalfOpenCalls: 3, RequestTimeout: 15 * time.Second}
	tests := []struct {
		name   string
		cfg    RunConfig
		client stack.ClientSettings
		want   []string // substrings, one warning each
	}{
		{"defaults", RunConfig{RPS: 20, Recovery: 20 * time.Second, LoadTimeout: 20 * time.Second}, client, nil},
		{"load timeout within REQUEST_TIMEOUT", RunConfig{RPS: 20, Recovery: 20 * time.Second, LoadTimeout: 10 * time.Second}, client,
			[]string{"--load-timeout 10s is not longer than the client's REQUEST_TIMEOUT 15s"}},
		// 10 s wait + 3 trial calls at 2 rps = 11.5 s
		{"recovery shorter than wait + trials", RunConfig{RPS: 2, Recovery: 11 * time.Second, LoadTimeout: 20 * time.Second}, client,
			[]string{"--recovery 11s is shorter than the breaker needs to close after the heal (CB_WAIT_DURATION 10s + 3 trial calls at 2 rps = 11.5s)"}},
		{"recovery just enough", RunConfig{RPS: 2, Recovery: 11500 * time.Millisecond, LoadTimeout: 20 * time.Second}, client, nil},
		{"no breaker, no recovery warning", RunConfig{RPS: 2, Recovery: time.Second, LoadTimeout: 20 * time.Second},
			stack.ClientSettings{Resilience: results.ResilienceOff, RequestTimeout: 15 * time.Second}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Warnings(tt.cfg, tt.client)
			if len(got) != len(tt.want) {
				t.Fatalf("warnings = %q, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %d = %q, lacks %q", i, got[i], w)
				}
			}
		})
	}
}

// Problems come from the service watcher and the run at once: none is lost (and -race sees
// no unguarded write).
func TestProblemsFromManyGoroutines(t *testing.T) {
	r := &runner{}
	done := make(chan struct{})
	for i := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := range 50 {
				r.problem("p%d-%d", i, j)
			}
		}()
	}
	for range 8 {
		<-done
	}
	if got := len(r.takeProblems()); got != 400 {
		t.Errorf("%d problems recorded, want 400", got)
	}
}
