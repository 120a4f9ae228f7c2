package experiment

import (
	"bytes"
	"encoding/json"
	"errors"
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

// Type returns the activity's type: probe or action.
func (e *Entry) Type() string {
	s, _ := getString(e.Activity, "type")
	return s
}

// UnmarshalJSON reads an entry as the journal writes it. The activity and the output keep
// Python's shapes, as the engine holds them: objects are *Object, integers int64.
func (e *Entry) UnmarshalJSON(b []byte) error {
	type plain Entry // the same fields, without this method
	var raw struct {
		plain
		Activity json.RawMessage `json:"activity"`
		Output   json.RawMessage `json:"output"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*e = Entry(raw.plain)
	if len(raw.Activity) > 0 {
		v, err := decodeJSON(raw.Activity)
		if err != nil {
			return fmt.Errorf("activity: %w", err)
		}
		e.Activity = asObject(v)
	}
	if len(raw.Output) > 0 {
		v, err := decodeJSON(raw.Output)
		if err != nil {
			return fmt.Errorf("output: %w", err)
		}
		e.Output = v
	}
	return nil
}

// Timestamp is a time written as Python's datetime.isoformat() in UTC:
// 2026-11-26T16:54:25.459516+00:00 (no fraction when the microseconds are zero).
type Timestamp time.Time

// MarshalJSON writes the timestamp in the journal's format.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return json.Marshal(formatTimestamp(time.Time(t)))
}

// UnmarshalJSON reads a timestamp as Python's isoformat() writes it, with or without a fraction
// and a UTC offset (a naive time is taken as UTC). An empty string or null is the zero time.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a journal time is an ISO 8601 string, got %s", b)
	}
	if s == nil || *s == "" {
		*t = Timestamp{}
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if v, err := time.Parse(layout, *s); err == nil {
			*t = Timestamp(v.UTC())
			return nil
		}
	}
	return fmt.Errorf("a journal time is an ISO 8601 string like 2026-11-26T16:54:25.459516+00:00, got %q", *s)
}

// Time returns t as a time.Time.
func (t Timestamp) Time() time.Time { return time.Time(t) }

// String is the timestamp in the journal's format.
func (t Timestamp) String() string { return formatTimestamp(time.Time(t)) }

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

// SteadyStateMetBefore reports whether the steady state was met before the method: true when it
// was, and also when it was not checked (no hypothesis, or a check cut short by an abort or an
// interruption, which the journal's status already says). It is false only when the check ran
// and a probe failed or was out of tolerance, which made the engine skip the method. A nil
// journal checked nothing: true.
func (j *Journal) SteadyStateMetBefore() bool {
	if j == nil || j.SteadyStates.Before == nil || j.SteadyStates.Before.SteadyStateMet == nil {
		return true
	}
	return *j.SteadyStates.Before.SteadyStateMet
}

// Document returns the experiment the journal recorded, as an ordered object (nil when the
// journal holds none, or it is not a JSON object).
func (j *Journal) Document() *Object {
	if j == nil || len(j.Experiment) == 0 {
		return nil
	}
	v, err := decodeJSON(j.Experiment)
	if err != nil {
		return nil
	}
	return asObject(v)
}

// ReadJournal reads a journal.json written by chaoslab or by the real `chaos run` into the same
// type the engine writes. Keys it does not know are ignored. A missing file gives an error that
// satisfies errors.Is(err, fs.ErrNotExist).
func ReadJournal(path string) (*Journal, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	var j Journal
	if err := json.Unmarshal(b, &j); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(b, se.Offset)
			return nil, fmt.Errorf("read journal %s: line %d, column %d: %w", path, line, col, err)
		}
		return nil, fmt.Errorf("read journal %s: %w", path, err)
	}
	return &j, nil
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
