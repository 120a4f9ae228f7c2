package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"chaoslab/internal/results"
)

// Each kind of objective judged on known(): fault on +2s, OPEN +4.2s, heal +15s, CLOSED +24.8s;
// before: 10 requests of 1..10 ms; during: 7 of 8 answered 200; while OPEN p99 6 ms.
func TestObjectivesJudged(t *testing.T) {
	noBreaker := func(f *folder) {
		var evs []results.Event
		for _, e := range f.events {
			if e.Kind != results.KindBreaker {
				evs = append(evs, e)
			}
		}
		f.events = evs
	}
	neverCloses := func(f *folder) { // OPEN at the heal, the last HALF_OPEN and CLOSED left out
		f.events = slices.DeleteFunc(slices.Clone(f.events), func(e results.Event) bool {
			return e.Kind == results.KindBreaker && e.Time.After(at(20))
		})
	}
	tests := []struct {
		name       string
		run        folder
		objective  string
		bound      float64
		wantValue  float64 // when measured
		measured   bool
		wantPassed bool
	}{
		{"time below the bound", known(), "fault_to_open_max_s", 3, 2.2, true, true},
		{"time exactly at the bound", known(), "fault_to_open_max_s", 2.2, 2.2, true, true},
		{"time above the bound", known(), "fault_to_open_max_s", 2.1, 2.2, true, false},
		{"recovery time at the bound", known(), "heal_to_closed_max_s", 9.8, 9.8, true, true},
		{"recovery time above the bound", known(), "heal_to_closed_max_s", 5, 9.8, true, false},
		{"latency exactly at the bound", known(), "p99_while_open_max_ms", 6, 6, true, true},
		{"latency above the bound", known(), "p99_while_open_max_ms", 5.99, 6, true, false},
		{"latency before", known(), "p99_before_max_ms", 10, 10, true, true},
		{"share exactly at the bound", known(), "answered_during_fault_min", 0.875, 0.875, true, true},
		{"share below the bound", known(), "answered_during_fault_min", 0.9, 0.875, true, false},
		{"error share", known(), "errors_during_fault_max", 0.1, 0.125, true, false},
		{"not measured: no request while OPEN", edited(noBreaker), "p99_while_open_max_ms", 20, 0, false, false},
		{"not measured: the breaker never closed", edited(neverCloses), "heal_to_closed_max_s", 15, 0, false, false},
		{"CLOSED at the heal: nothing to recover", edited(noBreaker), "heal_to_closed_max_s", 0, 0, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.run
			info := *f.run
			info.Objectives = map[string]float64{tt.objective: tt.bound}
			f.run = &info
			a := f.analyze()
			if len(a.Objectives) != 1 {
				t.Fatalf("objectives = %+v, want one", a.Objectives)
			}
			o := a.Objectives[0]
			if o.Passed != tt.wantPassed || (o.Value != nil) != tt.measured || (tt.measured && *o.Value != tt.wantValue) {
				t.Errorf("judged %s", o.Text())
			}
			failed := strings.Contains(a.Verdict.Reason(), "objective "+tt.objective)
			if failed == tt.wantPassed {
				t.Errorf("verdict %q: a failed objective must fail it with its name, a met one not", a.Verdict.Text())
			}
			if !tt.measured && !strings.Contains(o.Text(), "not measured") {
				t.Errorf("text %q does not say not measured", o.Text())
			}
		})
	}
}

// Bad objectives are refused with one line naming them, pinned in testdata/objectives.
func TestParseObjectivesErrors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "objectives", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test data: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var raw map[string]any
			if err := json.Unmarshal(data, &raw); err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".err")
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseObjectives(raw)
			if err == nil || err.Error() != strings.TrimSpace(string(want)) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error = %v\nwant    %s", err, want)
			}
		})
	}
}

// Every objective of the registry is judged on a full run (none is "not measured" there), and
// documented.
func TestEveryObjectiveMeasured(t *testing.T) {
	f := known()
	// known() ends 10 s after the heal; the goodput's stuck needs 30 s: the load goes on, at
	// its 10 rps, answered by the backend.
	for i := range 260 {
		f.recs = append(f.recs, rec(25.5+float64(i)/10, ms(2), results.SourceBackend, 1))
	}
	info := *f.run
	info.Objectives = map[string]float64{}
	for _, n := range ObjectiveNames() {
		info.Objectives[n] = 0
		if ObjectiveDoc(n) == "" {
			t.Errorf("%s has no documentation", n)
		}
	}
	f.run = &info
	for _, o := range f.analyze().Objectives {
		if o.Value == nil {
			t.Errorf("%s was not measured on a run that has every figure", o.Name)
		}
	}
	if got, err := ParseObjectives(map[string]any{"amplification_max": int64(2), "answered_before_min": 1.0}); err != nil || got["amplification_max"] != 2 {
		t.Errorf("ParseObjectives = %v, %v", got, err)
	}
}
