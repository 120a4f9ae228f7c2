package report

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/results"
)

// fuzzFiles are the files of a results folder FuzzReportCorrupt may corrupt; the first byte of
// the input picks one.
var fuzzFiles = []string{
	results.RequestsFile, results.EventsFile, results.RunFile, results.JournalFile, SummaryFile,
	filepath.Join(results.ObservationsDir, results.BeforeSnapshot), filepath.Join(results.ObservationsDir, results.AfterSnapshot),
}

// fuzzReportTimeout bounds one input: Load and Render of a small folder take milliseconds.
const fuzzReportTimeout = 20 * time.Second

// FuzzReportCorrupt is `chaoslab report` on a corrupted results folder: a valid folder (known(),
// with observations and the summary.json a first report wrote) with one file replaced by the
// input after its first byte, which picks the file (fuzzFiles). ReadSummaryJSON, Load and Render
// must not panic or hang; they write nothing but report.md, report.html and summary.json, and
// only inside the folder; an error names the file at fault.
func FuzzReportCorrupt(f *testing.F) {
	template := f.TempDir()
	good := known()
	good.before, good.after = sampleSnapshot("before", 10, 0), sampleSnapshot("after", 20, 8)
	if err := writeFolder(good, template); err != nil {
		f.Fatal(err)
	}
	if err := Render(template); err != nil {
		f.Fatal(err)
	}
	originals := map[string][]byte{}
	for i, name := range fuzzFiles {
		b, err := os.ReadFile(filepath.Join(template, name))
		if err != nil {
			f.Fatalf("the template folder has no %s: %v", name, err)
		}
		originals[name] = b
		f.Add(append([]byte{byte(i)}, b...))                    // the file as written
		f.Add(append([]byte{byte(i)}, b[:len(b)/2]...))         // cut short
		f.Add(append([]byte{byte(i)}, []byte("\x00\xff{[")...)) // garbage
		f.Add([]byte{byte(i)})                                  // empty
	}
	for i, s := range []string{
		"id,start,latency_ms,status,source,attempts,error\n1,2026-11-26T10:00:01Z,1e308,200,backend,1,\n",
		"id,start,latency_ms,status,source,attempts,error\n1,0001-01-01T00:00:00Z,5,200,backend,-1,\n2,9999-12-31T23:59:59Z,5,999,nope,,x\n",
		`{"time":"0001-01-01T00:00:00Z","kind":"fault","action":"on","name":"partition"}` + "\n" + `{"time":"9999-12-31T23:59:59Z","kind":"breaker","from":"OPEN","to":"CLOSED"}`,
		`{"title":"t","start":"2026-11-26T10:00:00Z","end":"9999-12-31T23:59:59Z","rps":1e9,"recovery_ms":-1}`,
		`{"status":"completed","steady_states":{"before":null,"after":{"steady_state_met":"yes"}},"run":[null]}`,
		`{"schema":"chaoslab.summary/999"}`,
		`{"time":"2026-11-26T10:00:00Z","moment":"before","services":{"client-service":{"metrics":{"x":-1}}}}`,
	} {
		f.Add(append([]byte{byte(i)}, s...))
	}
	if journals, _ := filepath.Glob("../conformance/testdata/journals/*.json"); len(journals) > 0 {
		if b, err := os.ReadFile(journals[0]); err == nil {
			f.Add(append([]byte{3}, b...)) // a journal of the real Chaos Toolkit, of another experiment
		}
	}

	base := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		name := fuzzFiles[int(data[0])%len(fuzzFiles)]
		parent := filepath.Join(base, "in")
		dir := filepath.Join(parent, "run")
		if err := os.RemoveAll(parent); err != nil {
			t.Fatal(err)
		}
		copyTemplate(t, template, dir, originals)
		if err := os.WriteFile(filepath.Join(dir, name), data[1:], 0o644); err != nil {
			t.Fatal(err)
		}
		before := listTree(t, base)

		type outcome struct {
			summaryErr, loadErr, renderErr error
		}
		done := make(chan outcome, 1)
		go func() {
			var o outcome
			_, o.summaryErr = ReadSummaryJSON(filepath.Join(dir, SummaryFile))
			if _, o.loadErr = Load(dir); o.loadErr == nil {
				o.renderErr = Render(dir)
			}
			done <- o
		}()
		var o outcome
		select {
		case o = <-done:
		case <-time.After(fuzzReportTimeout):
			t.Fatalf("Load and Render of a folder with %s corrupted did not end within %v (input %q)", name, fuzzReportTimeout, data[1:])
		}

		if name == SummaryFile {
			checkNamesFile(t, "ReadSummaryJSON", o.summaryErr, name)
		} else if o.summaryErr != nil {
			t.Fatalf("ReadSummaryJSON of the summary a report wrote: %v", o.summaryErr)
		}
		checkNamesFile(t, "Load", o.loadErr, name)
		if o.renderErr != nil {
			t.Fatalf("Render after Load succeeded (%s corrupted): %v", name, o.renderErr)
		}
		if o.loadErr == nil {
			for _, out := range []string{results.ReportMarkdown, results.ReportHTML, SummaryFile} {
				if fi, err := os.Stat(filepath.Join(dir, out)); err != nil || fi.Size() == 0 {
					t.Fatalf("Render wrote no %s (%s corrupted): %v", out, name, err)
				}
			}
		}
		after := listTree(t, base)
		allowed := []string{results.ReportMarkdown, results.ReportHTML, SummaryFile}
		for p, a := range after {
			if b, ok := before[p]; ok && (b == a || b.dir && a.dir) {
				continue // unchanged, or a folder that was there (its mtime moves when a file is added)
			}
			if filepath.Dir(p) != filepath.Join("in", "run") || !slices.Contains(allowed, filepath.Base(p)) {
				t.Errorf("%s was written (%s corrupted): only %s inside the folder may be", p, name, strings.Join(allowed, ", "))
			}
		}
		for p := range before {
			if _, ok := after[p]; !ok {
				t.Errorf("%s was removed (%s corrupted)", p, name)
			}
		}
	})
}

// writeFolder writes f into dir as folder.write does (which needs a *testing.T): run.json,
// requests.csv and the observations, journal.json and events.jsonl.
func writeFolder(f folder, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := f.value(dir).Write(dir); err != nil {
		return err
	}
	if err := f.journal.WriteFile(filepath.Join(dir, results.JournalFile)); err != nil {
		return err
	}
	ef, err := os.Create(filepath.Join(dir, results.EventsFile))
	if err != nil {
		return err
	}
	log := results.NewEventLog(ef)
	for _, e := range f.events {
		log.Add(e)
	}
	return errors.Join(log.Err(), ef.Close())
}

// checkNamesFile fails unless err is nil or a message that names the file at fault.
func checkNamesFile(t *testing.T, what string, err error, name string) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	if !strings.Contains(msg, filepath.Base(name)) {
		t.Fatalf("%s with %s corrupted: error %q does not name %s", what, name, msg, filepath.Base(name))
	}
}

// copyTemplate makes dir a copy of the template folder from the bytes read once.
func copyTemplate(t *testing.T, template, dir string, originals map[string][]byte) {
	t.Helper()
	err := filepath.WalkDir(template, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(template, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, ok := originals[rel]
		if !ok {
			if b, err = os.ReadFile(p); err != nil {
				return err
			}
			originals[rel] = b
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// treeEntry is what listTree records of a path: enough to see that it was written.
type treeEntry struct {
	size  int64
	mtime time.Time
	dir   bool
}

// listTree lists every path under root (relative to it).
func listTree(t *testing.T, root string) map[string]treeEntry {
	t.Helper()
	out := map[string]treeEntry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = treeEntry{size: fi.Size(), mtime: fi.ModTime(), dir: d.IsDir()}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return out
}
