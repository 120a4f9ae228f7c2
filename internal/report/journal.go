package report

import (
	"bytes"
	"encoding/json"

	"chaoslab/internal/experiment"
)

// maxOutput is how much of an activity's output the report quotes.
const maxOutput = 240

// Journal is the part of the journal the report shows: the hypothesis, whether the steady state
// held before and after, and what each activity did. It is made from the *experiment.Journal the
// engine wrote.
type Journal struct {
	Title       string     `json:"title"`
	Description string     `json:"description"`
	Hypothesis  string     `json:"hypothesis"` // the steady-state hypothesis' title
	Status      string     `json:"status"`
	Deviated    bool       `json:"deviated"`
	Before      *bool      `json:"before,omitempty"` // steady state met before; nil if not checked
	After       *bool      `json:"after,omitempty"`
	Probes      []Activity `json:"probes"`    // the hypothesis probes, before then after
	Run         []Activity `json:"run"`       // the method
	Rollbacks   []Activity `json:"rollbacks"` // the rollbacks
}

// Activity is one journal entry.
type Activity struct {
	When         string  `json:"when,omitempty"` // for probes: before or after
	Name         string  `json:"name"`
	Type         string  `json:"type"`
	Status       string  `json:"status"`
	Start        string  `json:"start"` // as the journal writes it
	Duration     float64 `json:"duration"`
	ToleranceMet *bool   `json:"tolerance_met,omitempty"`
	Output       string  `json:"output"`    // compact JSON, cut to a few hundred characters
	Exception    string  `json:"exception"` // the last line of the exception, if any
}

// newJournal makes the report's view of j; nil when j is nil.
func newJournal(j *experiment.Journal) *Journal {
	if j == nil {
		return nil
	}
	doc := j.Document()
	hyp, _ := get(doc, "steady-state-hypothesis").(*experiment.Object)
	v := &Journal{
		Title: str(doc, "title"), Description: str(doc, "description"), Hypothesis: str(hyp, "title"),
		Status: j.Status, Deviated: j.Deviated,
		Run: activities("", j.Run), Rollbacks: activities("", j.Rollbacks),
	}
	if s := j.SteadyStates.Before; s != nil {
		v.Before = s.SteadyStateMet
		v.Probes = append(v.Probes, activities("before", s.Probes)...)
	}
	if s := j.SteadyStates.After; s != nil {
		v.After = s.SteadyStateMet
		v.Probes = append(v.Probes, activities("after", s.Probes)...)
	}
	return v
}

func get(o *experiment.Object, k string) any {
	v, _ := o.Get(k)
	return v
}

func str(o *experiment.Object, k string) string {
	s, _ := get(o, k).(string)
	return s
}

func activities(when string, entries []*experiment.Entry) []Activity {
	out := make([]Activity, 0, len(entries))
	for _, e := range entries {
		out = append(out, Activity{
			When: when, Name: e.Name(), Type: e.Type(), Status: e.Status,
			Start: e.Start.String(), Duration: float64(e.Duration), ToleranceMet: e.ToleranceMet,
			Output: cut(outputJSON(e.Output), maxOutput), Exception: exception(e.Exception),
		})
	}
	return out
}

// outputJSON is an activity's output as compact JSON, keys in the journal's order.
func outputJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return string(bytes.TrimRight(b.Bytes(), "\n"))
}
