package diff

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"chaoslab/internal/report"
	"chaoslab/internal/results"
)

// Kind is what a results folder holds.
type Kind string

// Kinds of results folders.
const (
	KindRun     Kind = "run"     // one run: summary.json, or requests.csv and events.jsonl
	KindCompare Kind = "compare" // chaoslab run --compare: two or more of baseline/, resilient/ and adaptive/
	KindSuite   Kind = "suite"   // chaoslab run --suite: one run or compare folder per catalogue entry
)

// KindOf says what the folder dir holds. It is an error when dir is not a folder or holds no
// run.
func KindOf(dir string) (Kind, error) {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return "", fmt.Errorf("%s: not a folder", dir)
	}
	switch {
	case report.IsCompareDir(dir):
		return KindCompare, nil
	case isRunDir(dir):
		return KindRun, nil
	}
	if entries, _ := suiteEntries(dir); len(entries) > 0 {
		return KindSuite, nil
	}
	return "", fmt.Errorf("%s is not a results folder: it has no %s or %s, not two of %s/, %s/ and %s/, and no run folders inside",
		dir, report.SummaryFile, results.RequestsFile, results.BaselineDir, results.ResilientDir, results.AdaptiveDir)
}

// isRunDir says whether dir holds one run.
func isRunDir(dir string) bool {
	for _, f := range []string{report.SummaryFile, results.RequestsFile} {
		if st, err := os.Stat(filepath.Join(dir, f)); err == nil && !st.IsDir() {
			return true
		}
	}
	return false
}

// suiteEntries lists the sub-folders of dir that are run or compare folders, by name.
func suiteEntries(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, de := range des {
		sub := filepath.Join(dir, de.Name())
		if de.IsDir() && (report.IsCompareDir(sub) || isRunDir(sub)) {
			out = append(out, de.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}

// LoadSummary reads the summary of the run folder dir: its summary.json, or, when it has none
// (a folder written before summary.json existed), the summary of its analysis (report.Load).
func LoadSummary(dir string) (report.Summary, error) {
	s, err := report.ReadSummaryJSON(filepath.Join(dir, report.SummaryFile))
	if !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	a, err := report.Load(dir)
	if err != nil {
		return report.Summary{}, err
	}
	return report.NewSummary(a), nil
}

// side is what one folder (or one suite entry) holds: its runs by profile label
// (report.Profile.Label), or one run under "" for a run folder.
type side map[string]report.Summary

// byProfile is the side's runs by profile label; a run folder's run stands for the resilient
// run (RESILIENCE=on, the default), so it is compared with a compare folder's.
func (s side) byProfile() side {
	if run, ok := s[""]; ok {
		return side{results.LabelResilient: run}
	}
	return s
}

// loadSide reads a run or compare folder.
func loadSide(dir string) (side, error) {
	profiles := report.CompareProfiles(dir)
	if profiles == nil {
		s, err := LoadSummary(dir)
		return side{"": s}, err
	}
	out := side{}
	for _, p := range profiles {
		s, err := LoadSummary(filepath.Join(dir, p.Dir))
		if err != nil {
			return nil, err
		}
		out[p.Label] = s
	}
	return out, nil
}

// loadSuite reads every entry of a suite folder. An entry that cannot be read is left out
// and said in a note (label is OLD or NEW).
func loadSuite(label, dir string) (map[string]side, []string, error) {
	names, err := suiteEntries(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", label, dir, err)
	}
	out := map[string]side{}
	var notes []string
	for _, n := range names {
		s, err := loadSide(filepath.Join(dir, n))
		if err != nil {
			notes = append(notes, fmt.Sprintf("%s %s: not compared: %v", label, n, err))
			continue
		}
		out[n] = s
	}
	return out, notes, nil
}
