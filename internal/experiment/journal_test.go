package experiment

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReadJournalRoundTrip runs conformance cases through the engine, writes each journal,
// reads it back with ReadJournal and writes it again: the two files must be byte for byte the
// same, and the typed fields must hold what the engine had in memory.
func TestReadJournalRoundTrip(t *testing.T) {
	srv := newConformanceServer(t)
	tests := []struct {
		name       string
		status     string
		deviated   bool
		metBefore  bool
		runEntries int
	}{
		{"01-tol-int-status-and-exit", StatusCompleted, false, true, 1},
		{"14-http-failures-in-method", StatusCompleted, false, true, 4},
		{"16-provider-raises-aborts", StatusAborted, false, true, 1},
		{"28-hypo-before-unmet", StatusCompleted, false, false, 0},
		{"29-hypo-after-deviates", StatusCompleted, true, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			casePath := filepath.Join(conformanceDir, "cases", tt.name+".json")
			res := runCase(t, casePath, readArgs(t, casePath), srv.URL)
			if res.journal == nil {
				t.Fatal(res.err)
			}
			dir := t.TempDir()
			first, second := filepath.Join(dir, "first.json"), filepath.Join(dir, "second.json")
			if err := res.journal.WriteFile(first); err != nil {
				t.Fatal(err)
			}
			got, err := ReadJournal(first)
			if err != nil {
				t.Fatal(err)
			}
			if err := got.WriteFile(second); err != nil {
				t.Fatal(err)
			}
			if a, b := readBytes(t, first), readBytes(t, second); !bytes.Equal(a, b) {
				t.Errorf("the journal changed on the way back:\nwritten: %s\nrewritten: %s", a, b)
			}
			checkSameJournal(t, res.journal, got)
			if got.Status != tt.status || got.Deviated != tt.deviated || got.SteadyStateMetBefore() != tt.metBefore || len(got.Run) != tt.runEntries {
				t.Errorf("status %s, deviated %t, met before %t, %d run entries; want %s, %t, %t, %d",
					got.Status, got.Deviated, got.SteadyStateMetBefore(), len(got.Run), tt.status, tt.deviated, tt.metBefore, tt.runEntries)
			}
		})
	}
}

// checkSameJournal compares the typed fields of the engine's journal and the one read back.
func checkSameJournal(t *testing.T, want, got *Journal) {
	t.Helper()
	same := func(a, b Timestamp) bool { return a.Time().Truncate(time.Microsecond).Equal(b.Time()) }
	if !same(want.Start, got.Start) || !same(want.End, got.End) || want.Duration != got.Duration {
		t.Errorf("start/end/duration = %v/%v/%v, want %v/%v/%v", got.Start, got.End, got.Duration, want.Start, want.End, want.Duration)
	}
	if len(got.Run) != len(want.Run) || len(got.Rollbacks) != len(want.Rollbacks) {
		t.Fatalf("%d run and %d rollback entries, want %d and %d", len(got.Run), len(got.Rollbacks), len(want.Run), len(want.Rollbacks))
	}
	for i, e := range append(append([]*Entry{}, want.Run...), want.Rollbacks...) {
		g := append(append([]*Entry{}, got.Run...), got.Rollbacks...)[i]
		if g.Name() != e.Name() || g.Type() != e.Type() || g.Status != e.Status || !same(e.Start, g.Start) || g.Duration != e.Duration {
			t.Errorf("entry %d = %s %s %s %v %v, want %s %s %s %v %v", i, g.Name(), g.Type(), g.Status, g.Start, g.Duration,
				e.Name(), e.Type(), e.Status, e.Start, e.Duration)
		}
	}
	if title := got.Document().Keys(); len(title) == 0 || got.Document().Len() != want.Document().Len() {
		t.Errorf("experiment keys %q, want %q", title, want.Document().Keys())
	}
}

// TestReadJournalRealTool reads every journal the real chaostoolkit-lib wrote for the
// conformance cases: each must decode, and SteadyStateMetBefore must agree with the file's
// steady_states.before.steady_state_met read as plain JSON (absent or null = true).
func TestReadJournalRealTool(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(conformanceDir, "journals", "*.journal.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no conformance journals: %v", err)
	}
	for _, p := range paths {
		name := filepath.Base(p)
		t.Run(name, func(t *testing.T) {
			j, err := ReadJournal(p)
			if err != nil {
				t.Fatal(err)
			}
			if j.Start.Time().IsZero() || j.Status == "" {
				t.Errorf("start %v, status %q: not read", j.Start, j.Status)
			}
			if want := plainMetBefore(t, p); j.SteadyStateMetBefore() != want {
				t.Errorf("SteadyStateMetBefore = %t, want %t", j.SteadyStateMetBefore(), want)
			}
			for _, e := range append(j.Run, j.Rollbacks...) {
				if e.Name() == "" || e.Type() == "" {
					t.Errorf("an entry without its activity: %+v", e)
				}
			}
		})
	}
}

// plainMetBefore reads steady_states.before.steady_state_met with encoding/json into maps.
func plainMetBefore(t *testing.T, path string) bool {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(readBytes(t, path), &doc); err != nil {
		t.Fatal(err)
	}
	states, _ := doc["steady_states"].(map[string]any)
	before, _ := states["before"].(map[string]any)
	met, ok := before["steady_state_met"].(bool)
	return !ok || met
}

func TestSteadyStateMetBefore(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name string
		j    *Journal
		want bool
	}{
		{"nil journal", nil, true},
		{"no hypothesis", &Journal{}, true},
		{"check cut short", &Journal{SteadyStates: SteadyStates{Before: &Hypothesis{}}}, true},
		{"met", &Journal{SteadyStates: SteadyStates{Before: &Hypothesis{SteadyStateMet: &yes}}}, true},
		{"not met", &Journal{SteadyStates: SteadyStates{Before: &Hypothesis{SteadyStateMet: &no}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.j.SteadyStateMetBefore(); got != tt.want {
				t.Errorf("SteadyStateMetBefore() = %t, want %t", got, tt.want)
			}
		})
	}
}

func TestTimestampUnmarshal(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{`"2026-11-26T16:54:25.459516+00:00"`, time.Date(2026, 11, 26, 16, 54, 25, 459516000, time.UTC), false},
		{`"2026-11-26T16:54:25+00:00"`, time.Date(2026, 11, 26, 16, 54, 25, 0, time.UTC), false},
		{`"2026-11-26T17:54:25.5+01:00"`, time.Date(2026, 11, 26, 16, 54, 25, 5e8, time.UTC), false},
		{`"2026-11-26T16:54:25.459516"`, time.Date(2026, 11, 26, 16, 54, 25, 459516000, time.UTC), false},
		{`null`, time.Time{}, false},
		{`"yesterday"`, time.Time{}, true},
		{`12`, time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var ts Timestamp
			err := ts.UnmarshalJSON([]byte(tt.in))
			if (err != nil) != tt.wantErr || !ts.Time().Equal(tt.want) {
				t.Errorf("UnmarshalJSON(%s) = %v, %v; want %v (error %t)", tt.in, ts.Time(), err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestReadJournalErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadJournal(filepath.Join(dir, "none.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: err = %v, want fs.ErrNotExist", err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{\n  \"status\": \"completed\",\n  \"start\": 3\n}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadJournal(bad); err == nil || !strings.Contains(err.Error(), "ISO 8601") {
		t.Errorf("bad start: err = %v, want it to name the expected format", err)
	}
}

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
