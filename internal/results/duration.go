package results

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Duration is a time.Duration as the results folder writes it: a JSON number of milliseconds,
// in a field whose name ends in _ms. Every duration in every file of the folder uses this one
// encoding (requests.csv's *_ms columns and events.jsonl's *_ms fields too).
type Duration time.Duration

// MS returns d in milliseconds.
func MS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// FromMS returns the duration of ms milliseconds.
func FromMS(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String is the Go duration text, for people.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the number of milliseconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(MS(time.Duration(d)), 'f', -1, 64)), nil
}

// UnmarshalJSON reads a number of milliseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var ms float64
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("a duration in the results folder is a number of milliseconds, got %s", b)
	}
	*d = Duration(FromMS(ms))
	return nil
}
