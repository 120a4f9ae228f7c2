package diff

import (
	"fmt"
	"maps"
	"math"
	"path"
	"slices"

	"chaoslab/internal/report"
	"chaoslab/internal/results"
)

// ResultSchema is Result.Schema: the name and major version of `chaoslab diff --format json`.
const ResultSchema = "chaoslab.diff/v1"

// Result is a comparison of two results folders, and `chaoslab diff --format json`. It is a
// plain value: safe to read concurrently.
type Result struct {
	Schema      string   `json:"schema"`      // ResultSchema
	Old         string   `json:"old"`         // the OLD folder, as given
	New         string   `json:"new"`         // the NEW folder, as given
	Kind        Kind     `json:"kind"`        // run, compare or suite: what both folders are
	Rows        []Row    `json:"rows"`        // every figure of every run compared: by scope, then in the registry's order
	OnlyInOld   []string `json:"only_in_old"` // suite entries (or a compare's runs, as baseline or ENTRY/adaptive) only OLD has
	OnlyInNew   []string `json:"only_in_new"` // suite entries (or a compare's runs) only NEW has
	Notes       []string `json:"notes"`       // suite entries that could not be read, and why
	Regressions int      `json:"regressions"` // how many rows are regressions: the exit status is 1 when > 0
}

// Row is one figure of one run, OLD against NEW.
type Row struct {
	// Scope is which run: "" for two run folders; the profile's label ("resilient", "adaptive",
	// "baseline") for compare folders; in a suite, the entry's name ("http-errors"), or
	// "http-errors/resilient", "http-errors/adaptive" and "http-errors/baseline" when the entry
	// is a compare folder.
	Scope      string    `json:"scope"`
	Figure     string    `json:"figure"`         // the figure's name, as --tolerance takes it: "during.p99_ms"
	Unit       string    `json:"unit"`           // ms, fraction (0..1), ratio (calls per request), count, or verdict (1 passed, 0 failed)
	Old        *float64  `json:"old"`            // in Unit; null: not measured in OLD
	New        *float64  `json:"new"`            // in Unit; null: not measured in NEW
	Change     *float64  `json:"change"`         // New - Old, in Unit; null unless both were measured
	Relative   *float64  `json:"relative"`       // Change / |Old| (0.25 = +25%); null when Old is 0 or either is null
	Worse      Direction `json:"worse"`          // "higher" or "lower": the way that is worse; "": never a regression
	Tolerance  Tolerance `json:"tolerance"`      // what was tolerated (the default, or --tolerance)
	Regression bool      `json:"regression"`     // worse by more than the tolerance, or no longer measured
	Improved   bool      `json:"improved"`       // better by more than the tolerance
	Note       string    `json:"note,omitempty"` // "no longer measured" or "newly measured"
}

// Notes of a Row.
const (
	NoteGone = "no longer measured"
	NoteNew  = "newly measured"
)

// Compare compares the folders oldDir and newDir: two run folders, two compare folders or two
// suite folders. Its errors are about the input (a folder missing or unreadable, folders of
// different kinds) and read as one line.
func Compare(oldDir, newDir string, opt Options) (*Result, error) {
	ko, err := KindOf(oldDir)
	if err != nil {
		return nil, fmt.Errorf("OLD %w", err)
	}
	kn, err := KindOf(newDir)
	if err != nil {
		return nil, fmt.Errorf("NEW %w", err)
	}
	if ko != kn {
		return nil, fmt.Errorf("OLD %s is a %s folder and NEW %s a %s folder: compare two run folders, two compare folders or two suite folders",
			oldDir, ko, newDir, kn)
	}
	r := &Result{Schema: ResultSchema, Old: oldDir, New: newDir, Kind: ko,
		Rows: []Row{}, OnlyInOld: []string{}, OnlyInNew: []string{}, Notes: []string{}}
	if ko == KindSuite {
		err = r.addSuites(oldDir, newDir, opt)
	} else {
		err = r.addFolders(oldDir, newDir, opt)
	}
	if err != nil {
		return nil, err
	}
	for _, row := range r.Rows {
		if row.Regression {
			r.Regressions++
		}
	}
	return r, nil
}

// addFolders compares two run folders or two compare folders.
func (r *Result) addFolders(oldDir, newDir string, opt Options) error {
	o, err := loadSide(oldDir)
	if err != nil {
		return fmt.Errorf("OLD %s: %w", oldDir, err)
	}
	n, err := loadSide(newDir)
	if err != nil {
		return fmt.Errorf("NEW %s: %w", newDir, err)
	}
	r.addSides("", o, n, opt)
	return nil
}

// addSuites compares two suite folders entry by entry, by name.
func (r *Result) addSuites(oldDir, newDir string, opt Options) error {
	olds, notes, err := loadSuite("OLD", oldDir)
	if err != nil {
		return err
	}
	news, newNotes, err := loadSuite("NEW", newDir)
	if err != nil {
		return err
	}
	r.Notes = append(append(r.Notes, notes...), newNotes...)
	names := slices.Sorted(maps.Keys(olds))
	for _, n := range slices.Sorted(maps.Keys(news)) {
		if _, ok := olds[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		o, inOld := olds[name]
		n, inNew := news[name]
		switch {
		case !inNew:
			r.OnlyInOld = append(r.OnlyInOld, name)
		case !inOld:
			r.OnlyInNew = append(r.OnlyInNew, name)
		default:
			r.addSides(name, o, n, opt)
		}
	}
	return nil
}

// addSides compares what two folders hold under the scope prefix: two runs, or, when either is
// a compare folder, each profile both have (a run folder's run stands for the resilient run), in
// diffOrder; a profile only one has is listed as only in OLD or NEW.
func (r *Result) addSides(prefix string, o, n side, opt Options) {
	if ro, single := o[""]; single {
		if rn, single := n[""]; single {
			r.addRun(prefix, &ro, &rn, opt)
			return
		}
	}
	ol, nl := o.byProfile(), n.byProfile()
	for _, label := range diffOrder() {
		scope := path.Join(prefix, label)
		so, inOld := ol[label]
		sn, inNew := nl[label]
		switch {
		case inOld && inNew:
			r.addRun(scope, &so, &sn, opt)
		case inOld:
			r.OnlyInOld = append(r.OnlyInOld, scope)
		case inNew:
			r.OnlyInNew = append(r.OnlyInNew, scope)
		}
	}
}

// diffOrder is the order of a compare's runs in a diff: the runs judged first (resilient,
// adaptive), the baseline last.
func diffOrder() []string {
	return []string{results.LabelResilient, results.LabelAdaptive, results.LabelBaseline}
}

// addRun adds one row per figure of two runs.
func (r *Result) addRun(scope string, o, n *report.Summary, opt Options) {
	for _, f := range figures() {
		row := compareFigure(f, opt.tolerance(f), f.get(o), f.get(n))
		row.Scope = scope
		r.Rows = append(r.Rows, row)
	}
}

// compareFigure judges one figure: the change, and whether it is a regression or an
// improvement beyond the tolerance.
func compareFigure(f figure, tol Tolerance, old, cur *float64) Row {
	row := Row{Figure: f.Name, Unit: f.Unit, Old: copyOf(old), New: copyOf(cur), Worse: f.Worse, Tolerance: tol}
	switch {
	case old == nil && cur == nil:
		return row
	case cur == nil:
		row.Note, row.Regression = NoteGone, f.Worse != Neutral
		return row
	case old == nil:
		row.Note = NoteNew
		return row
	}
	d := *cur - *old
	row.Change = &d
	if *old != 0 && f.Unit != UnitVerdict {
		rel := d / math.Abs(*old)
		row.Relative = &rel
	}
	worse := 0.0 // how much worse, in the unit; negative: better
	switch f.Worse {
	case HigherIsWorse:
		worse = d
	case LowerIsWorse:
		worse = -d
	}
	allowed := tol.Allowed(*old) + 1e-9*max(1, math.Abs(*old)) // float noise is not a change
	row.Regression = f.Worse != Neutral && worse > allowed
	row.Improved = f.Worse != Neutral && -worse > allowed
	return row
}

func copyOf(v *float64) *float64 {
	if v == nil {
		return nil
	}
	c := *v
	return &c
}
