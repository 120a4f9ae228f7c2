package conformance

import (
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The vectors are in the repository: Dir (as seen from any package under internal/, this one
// included) holds a complete set, and every case has its arguments, expectation and journal.
func TestConformanceVectors(t *testing.T) {
	cases, err := Cases(Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 25 {
		t.Errorf("%d cases in %s, want the 25 of the public set", len(cases), Dir)
	}
	journals := 0
	for _, c := range cases {
		if c.Journal != "" {
			journals++
		}
		if c.Name == "01-tol-int-status-and-exit" && len(c.Args) == 0 {
			t.Errorf("case 01: no arguments read from 01.args")
		}
	}
	if journals != len(cases)-1 {
		t.Errorf("%d raw journals for %d cases, want one for every case but 06 (the crash)", journals, len(cases))
	}
	readme, err := os.ReadFile(filepath.Join(Dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "copied from `shared/conformance/` on 2026-11-29") {
		t.Errorf("%s/README.md does not say where the vectors came from", Dir)
	}
}

// Missing or incomplete vectors are an error, never an empty list a test would silently skip.
func TestConformanceVectorsMissing(t *testing.T) {
	if _, err := Cases(filepath.Join(t.TempDir(), "nowhere")); err == nil {
		t.Error("Cases of a folder that does not exist: no error")
	}
	// A copy of the vectors with one expectation removed.
	dir := t.TempDir()
	cases, err := Cases(Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"cases", "expected", "journals"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		entries, err := os.ReadDir(filepath.Join(Dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			copyFile(t, filepath.Join(Dir, sub, e.Name()), filepath.Join(dir, sub, e.Name()))
		}
	}
	copyFile(t, filepath.Join(Dir, "README.md"), filepath.Join(dir, "README.md"))
	copyFile(t, filepath.Join(Dir, "SERVER.md"), filepath.Join(dir, "SERVER.md"))
	if _, err := Cases(dir); err != nil {
		t.Fatalf("a full copy: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, "expected", cases[0].Name+".json")); err != nil {
		t.Fatal(err)
	}
	_, err = Cases(dir)
	if err == nil || !strings.Contains(err.Error(), cases[0].Name) {
		t.Errorf("a case without its expectation: error %v, want one naming %s", err, cases[0].Name)
	}
}

// The server's /json body is the one SERVER.md gives, byte for byte.
func TestConformanceServerJSON(t *testing.T) {
	contract, err := os.ReadFile(filepath.Join(Dir, "SERVER.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(contract), "`"+JSONBody+"`") {
		t.Errorf("SERVER.md does not give the /json body %s", JSONBody)
	}
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != JSONBody || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("/json = %q (%s), want %q (application/json)", body, resp.Header.Get("Content-Type"), JSONBody)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// recorder is a testing.TB that keeps its cleanups and failures to itself.
type recorder struct {
	testing.TB
	cleanups []func()
	failed   bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Cleanup(f func())      { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Fatal(...any)          { r.failed = true }
func (r *recorder) finish() {
	for _, f := range r.cleanups {
		f()
	}
}

// CheckUnchanged passes when nothing under the folder changed and fails when a file was written.
func TestConformanceCheckUnchanged(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, filepath.Join(Dir, "SERVER.md"), filepath.Join(dir, "SERVER.md"))
	quiet := &recorder{TB: t}
	CheckUnchanged(quiet, dir)
	quiet.finish()
	if quiet.failed {
		t.Error("nothing changed, yet CheckUnchanged failed")
	}
	written := &recorder{TB: t}
	CheckUnchanged(written, dir)
	if err := os.WriteFile(filepath.Join(dir, "journal.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	written.finish()
	if !written.failed {
		t.Error("a file was written, yet CheckUnchanged passed")
	}
}
