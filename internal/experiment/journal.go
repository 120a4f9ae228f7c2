package experiment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Journal is the record of a run, in the shape chaostoolkit-lib writes to journal.json. Field
// order and names follow the real journals; Experiment is the experiment as written.
type Journal struct {
	ChaoslibVersion string          `json:"chaoslib-version"`
	Platform        string          `json:"platform"`
	Node            string          `json:"node"`
	Experiment      json.RawMessage `json:"experiment"`
	Start           Timestamp       `json:"start"`
	// Status is completed, failed, aborted or interrupted.
	Status string `json:"status"`
	// Deviated is true when the hypothesis after the method was not met.
	Deviated     bool         `json:"deviated"`
	SteadyStates SteadyStates `json:"steady_states"`
	Run          []*Entry     `json:"run"`
	Rollbacks    []*Entry     `json:"rollbacks"`
	End          Timestamp    `json:"end"`
	Duration     Seconds      `json:"duration"`
}

// SteadyStates holds the two hypothesis checks; During is always empty (chaoslab does not run a
// continuous hypothesis).
type SteadyStates struct {
	Before *Hypothesis `json:"before"`
	After  *Hypothesis `json:"after"`
	During []any       `json:"during"`
}

// Hypothesis is one check of the steady-state hypothesis. SteadyStateMet is nil only when the
// check was cut short by an abort or an interruption.
type Hypothesis struct {
	SteadyStateMet *bool    `json:"steady_state_met"`
	Probes         []*Entry `json:"probes"`
}

// Entry is one activity's run. Status is "succeeded" or "failed", and empty (absent from the
// JSON) for the activity that aborted or was interrupted. ToleranceMet is set for hypothesis
// probes only.
type Entry struct {
	Activity     *Object   `json:"activity"`
	Output       any       `json:"output"`
	Start        Timestamp `json:"start"`
	Status       string    `json:"status,omitempty"`
	Exception    []string  `json:"exception,omitempty"`
	End          Timestamp `json:"end"`
	Duration     Seconds   `json:"duration"`
	ToleranceMet *bool     `json:"tolerance_met,omitempty"`
}

// Name returns the activity's name.
func (e *Entry) Name() string {
	s, _ := getString(e.Activity, "name")
	return s
}

// Timestamp is a time written as Python's datetime.isoformat() in UTC:
// 2026-11-26T16:54:25.459516+00:00 (no fraction when the microseconds are zero).
type Timestamp time.Time

// MarshalJSON writes the timestamp in the journal's format.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return json.Marshal(formatTimestamp(time.Time(t)))
}

func formatTimestamp(t time.Time) string {
	t = t.UTC().Truncate(time.Microsecond)
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05+00:00")
	}
	return t.Format("2006-01-02T15:04:05.000000+00:00")
}

// Seconds is a duration written as a float number of seconds, as Python writes it.
type Seconds float64

// MarshalJSON writes the number as Python's json module would.
func (s Seconds) MarshalJSON() ([]byte, error) { return []byte(pyFloat(float64(s))), nil }

func secondsBetween(start, end time.Time) Seconds {
	return Seconds(end.Sub(start).Round(time.Microsecond).Seconds())
}

// ExitCode is the exit status `chaos run` gives this journal: 0 when the status is completed
// and the steady state did not deviate, 1 otherwise.
func (j *Journal) ExitCode() int {
	if j.Status == StatusCompleted && !j.Deviated {
		return 0
	}
	return 1
}

// WriteFile writes the journal as indented JSON to path.
func (j *Journal) WriteFile(path string) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(j); err != nil {
		return fmt.Errorf("encode journal: %w", err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	return nil
}

// exceptionLines renders an activity failure as the journal's traceback list, whose last line
// names the exception class as chaostoolkit-lib's does.
func exceptionLines(msg string) []string {
	return []string{
		"Traceback (most recent call last):\n",
		"  File \"chaoslab/internal/experiment\", in run_activity\n",
		"chaoslab.exceptions.ActivityFailed: " + msg + "\n",
	}
}
