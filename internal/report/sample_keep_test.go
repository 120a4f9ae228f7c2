package report

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteSample writes a sample compare folder with its reports to $REPORT_SAMPLE_DIR, for a
// person to look at; it is skipped without that variable.
func TestWriteSample(t *testing.T) {
	dir := os.Getenv("REPORT_SAMPLE_DIR")
	if dir == "" {
		t.Skip("set REPORT_SAMPLE_DIR to write a sample report there")
	}
	for sub, resilient := range map[string]bool{"baseline": false, "resilient": true} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		simulated(resilient, 1).write(t, filepath.Join(dir, sub))
	}
	if err := Render(dir); err != nil {
		t.Fatal(err)
	}
	known().write(t, filepath.Join(dir, "known"))
	if err := Render(filepath.Join(dir, "known")); err != nil {
		t.Fatal(err)
	}
}
