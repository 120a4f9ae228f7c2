package results

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"chaoslab/internal/otlprecv"
)

// Run is everything one lab run produced. The lab hands it to the analysis in memory;
// ReadRun reads the same value back from a results folder (for `chaoslab report DIR`).
type Run struct {
	Dir     string    // the results folder
	Info    RunInfo   // run.json
	Records []Record  // requests.csv, sorted by Start
	Events  []Event   // events.jsonl, sorted by Time
	Before  *Snapshot // observations/before.json; nil when not observed
	After   *Snapshot // observations/after.json; nil when not observed
	Missing []string  // optional files ReadRun did not find

	// Capacity are the samples of the backend's capacity model (capacity.csv), in time order;
	// nil when the backend ran without one (then the folder has no capacity.csv, and no note
	// says so: it is not missing).
	Capacity []CapacitySample

	// Spans are the spans the lab received (spans.jsonl), in Start order; nil when the run did
	// not keep traces (then the folder has no spans.jsonl).
	Spans []otlprecv.Span
}

// Sort puts Records in Start order, and Events and Capacity in Time order (stable: ties keep
// their order).
func (r *Run) Sort() {
	slices.SortStableFunc(r.Records, func(x, y Record) int { return x.Start.Compare(y.Start) })
	slices.SortStableFunc(r.Events, func(x, y Event) int { return x.Time.Compare(y.Time) })
	slices.SortStableFunc(r.Capacity, func(x, y CapacitySample) int { return x.Time.Compare(y.Time) })
	slices.SortStableFunc(r.Spans, func(x, y otlprecv.Span) int { return x.Start.Compare(y.Start) })
}

// Write writes run.json, requests.csv, the observations, when there are capacity samples
// capacity.csv, and when Spans is not nil spans.jsonl into dir. events.jsonl is not written here: the EventLog appends to it
// while the run goes, so a killed run keeps its events.
func (r *Run) Write(dir string) error {
	if err := WriteJSONFile(filepath.Join(dir, RunFile), r.Info); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, RequestsFile), func(w io.Writer) error { return WriteRequests(w, r.Records) }); err != nil {
		return err
	}
	if len(r.Capacity) > 0 {
		if err := writeFile(filepath.Join(dir, CapacityFile), func(w io.Writer) error { return WriteCapacity(w, r.Capacity) }); err != nil {
			return err
		}
	}
	if r.Spans != nil {
		if err := writeFile(filepath.Join(dir, SpansFile), func(w io.Writer) error { return WriteSpans(w, r.Spans) }); err != nil {
			return err
		}
	}
	for _, s := range []*Snapshot{r.Before, r.After} {
		if s == nil {
			continue
		}
		obs := filepath.Join(dir, ObservationsDir)
		if err := os.MkdirAll(obs, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", obs, err)
		}
		if err := WriteJSONFile(filepath.Join(obs, s.Moment+".json"), s); err != nil {
			return err
		}
	}
	return nil
}

// ReadRun reads a run folder. requests.csv and events.jsonl are required; run.json and the
// observations are optional (Missing names the files that were not there); capacity.csv is
// read when it is there (a run without the backend's capacity model has none), and so is
// spans.jsonl (a run that did not keep traces has none: Spans stays nil).
func ReadRun(dir string) (*Run, error) {
	r := &Run{Dir: dir}
	if err := ReadJSONFile(filepath.Join(dir, RunFile), &r.Info); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		r.Missing = append(r.Missing, RunFile)
	}
	var err error
	if r.Records, err = readRequired(filepath.Join(dir, RequestsFile), ReadRequests); err != nil {
		return nil, err
	}
	if r.Events, err = readRequired(filepath.Join(dir, EventsFile), ReadEvents); err != nil {
		return nil, err
	}
	for _, m := range []struct {
		name string
		dst  **Snapshot
	}{{BeforeSnapshot, &r.Before}, {AfterSnapshot, &r.After}} {
		var s Snapshot
		err := ReadJSONFile(filepath.Join(dir, ObservationsDir, m.name), &s)
		switch {
		case err == nil:
			*m.dst = &s
		case errors.Is(err, fs.ErrNotExist):
			r.Missing = append(r.Missing, filepath.Join(ObservationsDir, m.name))
		default:
			return nil, err
		}
	}
	if r.Capacity, err = readRequired(filepath.Join(dir, CapacityFile), ReadCapacity); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if r.Spans, err = readSpansFile(dir); err != nil {
		return nil, err
	}
	r.Sort()
	return r, nil
}

func readRequired[T any](path string, read func(io.Reader) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return zero, fmt.Errorf("%s is not a results folder (no %s): %w", filepath.Dir(path), filepath.Base(path), err)
		}
		return zero, err
	}
	defer f.Close()
	return read(f)
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// JoinAttempts sets each record's Attempts to the number of backend calls the client logged
// for it (KindAttempt events carrying the record's ID); a record with a Tier (a run with a
// topology) counts only the calls of that tier, its entry. It does nothing when the run has no
// attempt events at all (a client that does not log them): then Attempts stays what the
// client's answer said, or UnknownAttempts. A dropped record made no call: 0.
func (r *Run) JoinAttempts() {
	type key struct {
		id   uint64
		tier string
	}
	counts := map[key]int{} // by id for every tier (tier ""), and by id and tier
	seen := false
	for _, e := range r.Events {
		if e.Kind == KindAttempt {
			seen = true
			if e.RequestID != 0 {
				counts[key{e.RequestID, ""}]++
				if e.Tier != "" {
					counts[key{e.RequestID, e.Tier}]++
				}
			}
		}
	}
	for i := range r.Records {
		rec := &r.Records[i]
		switch {
		case rec.Source == SourceDropped:
			rec.Attempts = 0
		case seen && rec.ID != 0:
			rec.Attempts = counts[key{rec.ID, rec.Tier}]
		}
	}
}
