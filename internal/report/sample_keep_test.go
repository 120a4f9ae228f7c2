package report

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteSample writes a sample compare folder with its reports, two single runs and a suite
// index of them to $REPORT_SAMPLE_DIR, for a person to look at; it is skipped without that
// variable.
func TestWriteSample(t *testing.T) {
	dir := os.Getenv("REPORT_SAMPLE_DIR")
	if dir == "" {
		t.Skip("set REPORT_SAMPLE_DIR to write a sample report there")
	}
	writeCompareFolder(t, dir, 1, DefaultProfiles()...)
	if err := Render(dir); err != nil {
		t.Fatal(err)
	}
	known().write(t, filepath.Join(dir, "known"))
	if err := Render(filepath.Join(dir, "known")); err != nil {
		t.Fatal(err)
	}
	flap, _ := flapping()
	flap.write(t, filepath.Join(dir, "flapping"))
	if err := Render(filepath.Join(dir, "flapping")); err != nil {
		t.Fatal(err)
	}
	entries := []SuiteEntry{
		{Name: "partition", Fault: "network partition", Dir: ".", Runs: threeRuns(1)},
		{Name: "known", Fault: "network partition", Dir: "known", Runs: single(known().analyze())},
		{Name: "flapping", Fault: "partition, 3 cycles", Dir: "flapping", Runs: single(flap.analyze())},
	}
	if err := WriteIndex(dir, "Sample suite", entries); err != nil {
		t.Fatal(err)
	}
}
