package report

import (
	"encoding/json"
	"errors"
	"io/fs"
	"path/filepath"

	"chaoslab/internal/results"
)

// maxOutput is how much of an activity's output the report quotes.
const maxOutput = 240

// Journal is the part of journal.json the report shows: the hypothesis, whether the steady
// state held before and after, and what each activity did.
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
	Start        string  `json:"start"`
	Duration     float64 `json:"duration"`
	ToleranceMet *bool   `json:"tolerance_met,omitempty"`
	Output       string  `json:"output"`    // compact JSON, cut to a few hundred characters
	Exception    string  `json:"exception"` // the last line of the exception, if any
}

type rawJournal struct {
	Experiment struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		Hypothesis  struct {
			Title string `json:"title"`
		} `json:"steady-state-hypothesis"`
	} `json:"experiment"`
	Status       string `json:"status"`
	Deviated     bool   `json:"deviated"`
	SteadyStates struct {
		Before *rawSteady `json:"before"`
		After  *rawSteady `json:"after"`
	} `json:"steady_states"`
	Run       []rawActivity `json:"run"`
	Rollbacks []rawActivity `json:"rollbacks"`
}

type rawSteady struct {
	Met    *bool         `json:"steady_state_met"`
	Probes []rawActivity `json:"probes"`
}

type rawActivity struct {
	Activity struct {
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"activity"`
	Status       string          `json:"status"`
	Start        string          `json:"start"`
	Duration     float64         `json:"duration"`
	ToleranceMet *bool           `json:"tolerance_met"`
	Output       json.RawMessage `json:"output"`
	Exception    any             `json:"exception"`
}

// loadJournal reads journal.json; a missing or unreadable journal is a note, not an error.
func (a *Analysis) loadJournal(dir string) *Journal {
	var raw rawJournal
	err := results.ReadJSONFile(filepath.Join(dir, results.JournalFile), &raw)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			a.note("journal.json is missing: the hypothesis and the activities are not shown.")
		} else {
			a.note("journal.json is unreadable: %v.", err)
		}
		return nil
	}
	j := &Journal{
		Title: raw.Experiment.Title, Description: raw.Experiment.Description,
		Hypothesis: raw.Experiment.Hypothesis.Title, Status: raw.Status, Deviated: raw.Deviated,
		Run: activities("", raw.Run), Rollbacks: activities("", raw.Rollbacks),
	}
	if s := raw.SteadyStates.Before; s != nil {
		j.Before = s.Met
		j.Probes = append(j.Probes, activities("before", s.Probes)...)
	}
	if s := raw.SteadyStates.After; s != nil {
		j.After = s.Met
		j.Probes = append(j.Probes, activities("after", s.Probes)...)
	}
	return j
}

func activities(when string, raw []rawActivity) []Activity {
	out := make([]Activity, 0, len(raw))
	for _, r := range raw {
		out = append(out, Activity{
			When: when, Name: r.Activity.Name, Type: r.Activity.Type, Status: r.Status,
			Start: r.Start, Duration: r.Duration, ToleranceMet: r.ToleranceMet,
			Output: cut(compactJSON(r.Output), maxOutput), Exception: exception(r.Exception),
		})
	}
	return out
}
