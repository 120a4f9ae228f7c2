package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateUnchanged = flag.Bool("update-unchanged", false, "rewrite testdata/unchanged/ from the current renderer (only when a change of the report is meant)")

// A run without a topology (today's two services) renders report.md, report.html,
// summary.json and the terminal summary byte for byte as before tiers existed: the goldens in testdata/unchanged were
// written by the renderer before the per-layer accounting was added (report.html, large, as its
// SHA-256; since rewritten once on purpose, when report.html gained its traces section, which
// for these runs without spans.jsonl is the one line "Traces were not collected").
func TestRenderWithoutTopologyUnchanged(t *testing.T) {
	tests := []struct {
		name string
		f    folder
	}{
		{"known", knownObjectives()},
		{"simulated-resilient", simulated(true, 3)},
		{"simulated-baseline", simulated(false, 5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			a := tt.f.analyze()
			if err := RenderAnalysis(dir, a); err != nil {
				t.Fatal(err)
			}
			var terminal bytes.Buffer
			WriteSummary(&terminal, a)
			if err := os.WriteFile(filepath.Join(dir, "terminal.txt"), terminal.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, file := range []string{"report.md", "report.html", SummaryFile, "terminal.txt"} {
				got := readTest(t, filepath.Join(dir, file))
				golden := filepath.Join("testdata", "unchanged", tt.name+"."+file)
				if strings.HasSuffix(file, ".html") {
					sum := sha256.Sum256(got)
					got, golden = []byte(hex.EncodeToString(sum[:])+"\n"), golden+".sha256"
				}
				if *updateUnchanged {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from %s (%d bytes, want %d): a run without a topology must render as before", file, golden, len(got), len(want))
				}
			}
		})
	}
}
