package report

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/results"
)

// knownObjectives is known() with three objectives: one met, two failed.
func knownObjectives() folder {
	return edited(func(f *folder) {
		f.run.Objectives = map[string]float64{"p99_while_open_max_ms": 20, "heal_to_closed_max_s": 5, "answered_during_fault_min": 0.9}
		f.run.ClientEnv = map[string]string{"CB_WAIT_DURATION": "10s"}
	})
}

// Writing a summary and reading it back gives the same value, for ordinary and degenerate runs,
// and the file carries the schema.
func TestSummaryJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		f    folder
	}{
		{"known with objectives", knownObjectives()},
		{"no fault", edited(func(f *folder) { f.events = nil })},
		{"no requests, no run.json", edited(func(f *folder) { f.run, f.recs = nil, nil })},
		{"baseline without breaker", edited(func(f *folder) { f.run.Resilience = "off"; f.events = f.events[:1] })},
		{"simulated", simulated(true, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			a := tt.f.analyze()
			if err := WriteSummaryJSON(dir, a); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, SummaryFile)
			got, err := ReadSummaryJSON(path)
			if err != nil {
				t.Fatal(err)
			}
			if want := NewSummary(a); !reflect.DeepEqual(got, want) {
				t.Errorf("read back:\n%+v\nwant\n%+v", got, want)
			}
			var raw map[string]any
			if err := json.Unmarshal(readTest(t, path), &raw); err != nil {
				t.Fatal(err)
			}
			if raw["schema"] != SummarySchema {
				t.Errorf("schema = %v, want %q", raw["schema"], SummarySchema)
			}
			if strings.Contains(string(readTest(t, path)), "NaN") {
				t.Error("summary.json holds NaN")
			}
		})
	}
}

// The summary of known() holds exactly the numbers worked out here from its requests and events.
func TestNewSummaryKnown(t *testing.T) {
	s := NewSummary(knownObjectives().analyze())
	rel := func(sec float64) float64 { return millis(at(sec).Sub(t0)) }
	f := func(v float64) *float64 { return &v }
	checks := []struct {
		name      string
		got, want any
	}{
		{"schema", s.Schema, SummarySchema},
		{"settings", s.Settings, SummarySettings{Title: "Network partition", Experiment: "built-in", Stack: "local",
			Resilience: "on", RPS: 10, Seed: 7, Start: t0, End: at(26), RecoveryMS: 10000, LoadTimeoutMS: 15000,
			CBWaitMS: 10000, HalfOpenCalls: 3,
			Retry:      SummaryRetry{MaxRetries: 5, InitialBackoffMS: 1000, Multiplier: 2, MaxBackoffMS: 16000, Jitter: 0.5},
			ClientEnv:  map[string]string{"CB_WAIT_DURATION": "10s"},
			Objectives: map[string]float64{"p99_while_open_max_ms": 20, "heal_to_closed_max_s": 5, "answered_during_fault_min": 0.9}}},
		{"journal", s.Journal, SummaryJournal{Status: "completed", Problems: []string{}, Warnings: []string{}}},
		{"fault", s.Fault, SummaryFault{Kind: "partition", OnAtMS: f(2000), OffAtMS: f(15000),
			Windows: []SummaryWindow{{Kind: "partition", OnAtMS: 2000, OffAtMS: f(15000)}}}},
		// before: 10 backend answers of 1..10 ms, one call each.
		{"before", s.Phases.Before, SummaryPhase{FromAtMS: f(1000), ToAtMS: f(2000), Requests: 10, Sent: 10,
			Answered200: f(1), Fallback: f(0), Errors: f(0), Dropped: f(0), Answered200N: 10, BackendN: 10,
			P50MS: f(5), P90MS: f(9), P99MS: f(10), MaxMS: f(10), MaxSendLagMS: f(0),
			Attempts: 10, KnownAttempts: 10, Amplification: f(1)}},
		// during: 7 fallbacks and 1 timeout; latencies 2, 3, 4, 6 ms, 1, 1.5, 2, 3 s; calls 3+2+0+0+0+1+0
		// known, one unknown; 7 retry events.
		{"during", s.Phases.During, SummaryPhase{FromAtMS: f(2000), ToAtMS: f(15000), Requests: 8, Sent: 8,
			Answered200: f(7.0 / 8), Fallback: f(7.0 / 8), Errors: f(1.0 / 8), Dropped: f(0),
			Answered200N: 7, FallbackN: 7, ErrorsN: 1, TimeoutsN: 1,
			P50MS: f(6), P90MS: f(3000), P99MS: f(3000), MaxMS: f(3000), MaxSendLagMS: f(0),
			Attempts: 6, KnownAttempts: 7, UnknownAttempts: 1, Amplification: f(6.0 / 7), Retries: 7}},
		// after: one fallback of 2 ms, then six backend answers (5 ms, five of 2 ms); calls 0+1*6.
		{"after", s.Phases.After, SummaryPhase{FromAtMS: f(15000), ToAtMS: f(26000), Requests: 7, Sent: 7,
			Answered200: f(1), Fallback: f(1.0 / 7), Errors: f(0), Dropped: f(0), Answered200N: 7, BackendN: 6, FallbackN: 1,
			P50MS: f(2), P90MS: f(5), P99MS: f(5), MaxMS: f(5), MaxSendLagMS: f(0),
			Attempts: 6, KnownAttempts: 7, Amplification: f(6.0 / 7)}},
		// while OPEN ([+4.2s, +14.3s) and [+14.4s, +24.5s)): the fallbacks at +4.5, +5.0, +5.5, +14.5, +15.0 s.
		{"while open", s.Phases.WhileOpen, SummaryPhase{Requests: 5, Sent: 5,
			Answered200: f(1), Fallback: f(1), Errors: f(0), Dropped: f(0), Answered200N: 5, FallbackN: 5,
			P50MS: f(3), P90MS: f(6), P99MS: f(6), MaxMS: f(6), MaxSendLagMS: f(0),
			KnownAttempts: 5, Amplification: f(0)}},
		{"total requests", s.Phases.Total.Requests, 25},
		{"times", s.Times, SummaryTimes{
			FaultToFirstFallbackMS: f(millis(at(2.5).Add(1500 * time.Millisecond).Sub(at(2)))),
			FaultToOpenMS:          f(millis(at(4.2).Sub(at(2)))),
			HealToFirstBackendMS:   f(millis(at(24.6).Add(ms(5)).Sub(at(15)))),
			HealToClosedMS:         f(millis(at(24.8).Sub(at(15))))}},
		{"breaker", s.Breaker, SummaryBreaker{Enabled: true, Final: "CLOSED", Transitions: []SummaryTransition{
			{rel(4.2), "CLOSED", "OPEN"}, {rel(14.3), "OPEN", "HALF_OPEN"}, {rel(14.4), "HALF_OPEN", "OPEN"},
			{rel(24.5), "OPEN", "HALF_OPEN"}, {rel(24.8), "HALF_OPEN", "CLOSED"}}}},
		{"recovered", [2]bool{s.BackendHealed, s.Recovered}, [2]bool{true, true}},
		{"objectives", objectiveTriples(s.Objectives), []string{
			"answered_during_fault_min fraction 0.875 >= 0.9 false",
			"heal_to_closed_max_s s 9.8 <= 5 false",
			"p99_while_open_max_ms ms 6 <= 20 true"}},
		{"verdict", [2]any{s.Verdict.Passed, len(s.Verdict.Reasons)}, [2]any{false, 2}},
		{"verdict text", strings.HasPrefix(s.Verdict.Text, "FAILED: objective answered_during_fault_min"), true},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("got\n%s\nwant\n%s", dump(c.got), dump(c.want))
			}
		})
	}
}

// objectiveTriples formats each objective as "name unit value cmp bound passed".
func objectiveTriples(objs []SummaryObjective) []string {
	var out []string
	for _, o := range objs {
		cmp, v := ">=", "null"
		if o.Max {
			cmp = "<="
		}
		if o.Value != nil {
			v = formatNumber(*o.Value)
		}
		out = append(out, strings.Join([]string{o.Name, o.Unit, v, cmp, formatNumber(o.Bound), formatBool(o.Passed)}, " "))
	}
	return out
}

func formatBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func dump(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

// A results folder written before summary.json existed renders, and Render writes its
// summary.json: in a run folder, and in each run folder of a compare folder.
func TestRenderWritesSummaryJSON(t *testing.T) {
	t.Run("run folder", func(t *testing.T) {
		dir := writeKnown(t)
		if _, err := os.Stat(filepath.Join(dir, SummaryFile)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the old folder already has a summary.json: %v", err)
		}
		if err := Render(dir); err != nil {
			t.Fatal(err)
		}
		checkSummaryOf(t, dir)
	})
	t.Run("compare folder", func(t *testing.T) {
		dir := t.TempDir()
		for sub, resilient := range map[string]bool{results.BaselineDir: false, results.ResilientDir: true} {
			simulated(resilient, 1).write(t, filepath.Join(dir, sub))
		}
		if err := Render(dir); err != nil {
			t.Fatal(err)
		}
		checkSummaryOf(t, filepath.Join(dir, results.BaselineDir))
		checkSummaryOf(t, filepath.Join(dir, results.ResilientDir))
		if _, err := os.Stat(filepath.Join(dir, SummaryFile)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the compare folder itself has a summary.json (%v): only its runs have one", err)
		}
	})
}

// checkSummaryOf checks that dir/summary.json is the summary of the run in dir.
func checkSummaryOf(t *testing.T, dir string) {
	t.Helper()
	got, err := ReadSummaryJSON(filepath.Join(dir, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	a, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := NewSummary(a); !reflect.DeepEqual(got, want) {
		t.Errorf("%s: summary.json is not the summary of the folder:\n%s\nwant\n%s", dir, dump(got), dump(want))
	}
}

// A summary.json of another schema, or without one, is refused with a message that says what
// to do.
func TestReadSummaryJSONRefusesUnknownSchema(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
		schema     bool // the error is ErrSchema
	}{
		{"newer schema", `{"schema": "chaoslab.summary/v2", "phases": {}}`,
			[]string{`has schema "chaoslab.summary/v2"`, "reads chaoslab.summary/v1 only", "chaoslab report"}, true},
		{"other tool's file", `{"schema": "other/v1"}`, []string{`"other/v1"`}, true},
		{"no schema", `{"verdict": {"passed": true}}`, []string{"no schema field"}, true},
		{"schema not a string", `{"schema": 1}`, []string{"decode"}, false},
		{"not JSON", `verdict: passed`, []string{"decode"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), SummaryFile)
			if err := os.WriteFile(path, []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadSummaryJSON(path)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, ErrSchema) != tt.schema {
				t.Errorf("errors.Is(err, ErrSchema) = %t, want %t: %v", !tt.schema, tt.schema, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := ReadSummaryJSON(filepath.Join(t.TempDir(), SummaryFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v, want an error that is fs.ErrNotExist", err)
	}
}
