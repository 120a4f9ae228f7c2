package cli

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/conformance"
	"chaoslab/internal/results"
)

// expectation is the part of a conformance expectation this test compares; the engine's own
// conformance test compares every field strictly.
type expectation struct {
	ExitCode int    `json:"exit_code"`
	Journal  *bool  `json:"journal"`
	Status   string `json:"status"`
	Deviated bool   `json:"deviated"`
	Run      []struct {
		Name   string  `json:"name"`
		Status *string `json:"status"`
	} `json:"run"`
	Rollbacks []struct {
		Name string `json:"name"`
	} `json:"rollbacks"`
}

type cliJournal struct {
	Status   string `json:"status"`
	Deviated bool   `json:"deviated"`
	Run      []struct {
		Status   *string `json:"status"`
		Activity struct {
			Name string `json:"name"`
		} `json:"activity"`
	} `json:"run"`
	Rollbacks []struct {
		Activity struct {
			Name string `json:"name"`
		} `json:"activity"`
	} `json:"rollbacks"`
}

// Every conformance case through `chaoslab run --stack none`, exactly as a user would run it:
// exit status, journal or not, status, deviation, which activities ran and how they ended.
func TestConformanceThroughCLI(t *testing.T) {
	cases, err := conformance.Cases(conformance.Dir)
	if err != nil {
		t.Fatal(err) // the vectors are part of the repository: missing ones are a failure
	}
	conformance.CheckUnchanged(t, conformance.Dir) // checked after the parallel subtests
	srv := httptest.NewServer(conformance.Handler())
	t.Cleanup(srv.Close) // the parallel subtests run after this function returns
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			var want expectation
			if err := results.ReadJSONFile(c.Expected, &want); err != nil {
				t.Fatal(err)
			}
			journal := filepath.Join(t.TempDir(), "journal.json")
			env := conformance.Env(srv.URL, t.TempDir())
			getenv := func(k string) string { v, _ := env(k); return v }
			args := append(append([]string{"run", "--stack", "none", "--journal-path", journal}, c.Args...), c.Path)
			var out bytes.Buffer
			err := Run(context.Background(), args, getenv, &out, &out)
			code := cmdutil.ExitCode(err)
			_, statErr := os.Stat(journal)
			if want.Journal == nil {
				// Deliberate differences: invalid input exits 2 (the real tool: 1), and case 06,
				// where the real tool crashes, is a run whose regex matches the JSON text.
				if c.Name == "06-tol-regex-json-body-crash" {
					if code != 0 || statErr != nil {
						t.Errorf("case 06: exit %d, journal %v; want 0 and a journal (deliberate difference)", code, statErr)
					}
					return
				}
				if code != cmdutil.ExitUsage || statErr == nil {
					t.Errorf("invalid input: exit %d, journal written %t; want 2 and none (deliberate difference: chaos run exits 1)", code, statErr == nil)
				}
				return
			}
			if code != want.ExitCode {
				t.Errorf("exit %d, want %d (%v)\n%s", code, want.ExitCode, err, out.String())
			}
			var got cliJournal
			if err := results.ReadJSONFile(journal, &got); err != nil {
				t.Fatal(err)
			}
			if got.Status != want.Status || got.Deviated != want.Deviated {
				t.Errorf("status %s deviated %t, want %s %t", got.Status, got.Deviated, want.Status, want.Deviated)
			}
			if len(got.Run) != len(want.Run) || len(got.Rollbacks) != len(want.Rollbacks) {
				t.Fatalf("ran %d activities and %d rollbacks, want %d and %d", len(got.Run), len(got.Rollbacks), len(want.Run), len(want.Rollbacks))
			}
			for i, w := range want.Run {
				g := got.Run[i]
				if g.Activity.Name != w.Name || (g.Status == nil) != (w.Status == nil) || (g.Status != nil && *g.Status != *w.Status) {
					t.Errorf("run[%d] = %s %v, want %s %v", i, g.Activity.Name, deref(g.Status), w.Name, deref(w.Status))
				}
			}
			for i, w := range want.Rollbacks {
				if got.Rollbacks[i].Activity.Name != w.Name {
					t.Errorf("rollbacks[%d] = %s, want %s", i, got.Rollbacks[i].Activity.Name, w.Name)
				}
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<no status>"
	}
	return *s
}
