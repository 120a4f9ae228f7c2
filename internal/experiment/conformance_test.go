package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/conformance"
)

// conformanceDir holds the conformance vectors: the in-repository copy in
// internal/conformance/testdata, read only (every file a run writes goes to t.TempDir()).
const conformanceDir = conformance.Dir

type caseResult struct {
	exitCode int
	journal  *Journal
	err      error
}

// runCase runs one conformance case through the engine as `chaos run $(cat NN.args) case`.
func runCase(t *testing.T, casePath string, args []string, baseURL string) caseResult {
	t.Helper()
	opts := Options{Vars: map[string]any{}, LookupEnv: conformance.Env(baseURL, t.TempDir())}
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "--rollback-strategy="):
			opts.RollbackStrategy = strings.TrimPrefix(a, "--rollback-strategy=")
		case strings.HasPrefix(a, "--var="):
			k, v, err := ParseVar(strings.TrimPrefix(a, "--var="))
			if err != nil {
				t.Fatalf("args: %v", err)
			}
			opts.Vars[k] = v
		default:
			t.Fatalf("unsupported argument %q", a)
		}
	}
	exp, err := Load(casePath)
	if err != nil {
		return caseResult{exitCode: cmdutil.ExitCode(err), err: err}
	}
	j, err := Run(context.Background(), exp, opts)
	if err != nil {
		return caseResult{exitCode: cmdutil.ExitCode(err), err: err}
	}
	return caseResult{exitCode: j.ExitCode(), journal: j}
}

func readArgs(t *testing.T, casePath string) []string {
	t.Helper()
	num, _, _ := strings.Cut(filepath.Base(casePath), "-")
	data, err := os.ReadFile(filepath.Join(filepath.Dir(casePath), num+".args"))
	if errors.Is(err, os.ErrNotExist) {
		return []string{}
	}
	if err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			args = append(args, l)
		}
	}
	return args
}

func TestConformance(t *testing.T) {
	cases, err := conformance.Cases(conformanceDir)
	if err != nil {
		t.Fatal(err) // the vectors are part of the repository: missing ones are a failure
	}
	conformance.CheckUnchanged(t, conformanceDir)
	srv := newConformanceServer(t)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			expected := readExpected(t, c.Expected)
			res := runCase(t, c.Path, c.Args, srv.URL)
			if expected["journal"] == nil {
				checkNoJournalCase(t, expected, res)
				return
			}
			if res.journal == nil {
				t.Fatalf("no journal: %v", res.err)
			}
			if res.exitCode != int(expected["exit_code"].(float64)) {
				t.Errorf("exit code = %d, want %v", res.exitCode, expected["exit_code"])
			}
			got := normalizeJournal(t, res.journal, srv.URL)
			for _, key := range []string{"status", "deviated", "before", "after", "run", "rollbacks"} {
				want := informational(expected[key])
				if !reflect.DeepEqual(got[key], want) {
					g, _ := json.MarshalIndent(got[key], "", " ")
					w, _ := json.MarshalIndent(want, "", " ")
					t.Errorf("%s differs:\n got: %s\nwant: %s", key, g, w)
				}
			}
		})
	}
}

// checkNoJournalCase handles the cases where the real tool wrote no journal, each through a
// deliberate difference: invalid input exits 2 with no journal (the real tool exits 1); the
// regex-on-JSON crash (case 06) is a run whose regex matches the body's JSON text.
func checkNoJournalCase(t *testing.T, expected map[string]any, res caseResult) {
	t.Helper()
	if strings.HasPrefix(expected["error"].(string), "TypeError") {
		// Deliberate difference: regex on a parsed JSON body matches the JSON text.
		if res.journal == nil {
			t.Fatalf("want a journal (regex on JSON text), got error %v", res.err)
		}
		before := res.journal.SteadyStates.Before
		if res.exitCode != 0 || before == nil || !*before.SteadyStateMet || !*before.Probes[0].ToleranceMet {
			t.Errorf("regex on JSON body: exit %d, before %+v; want exit 0 and the tolerance met", res.exitCode, before)
		}
		return
	}
	// Deliberate difference: invalid input exits 2 (cmdutil.ExitUsage), not 1.
	if res.journal != nil || res.exitCode != cmdutil.ExitUsage {
		t.Errorf("invalid input: exit %d, journal %v; want exit 2 and no journal (real tool: exit 1, %q)", res.exitCode, res.journal != nil, expected["error"])
	}
}

func readExpected(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// normalizeJournal is tools/normalize.py for the compared keys, with exceptions reduced to
// their presence (their text is information only).
func normalizeJournal(t *testing.T, j *Journal, baseURL string) map[string]any {
	t.Helper()
	data, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	ss := raw["steady_states"].(map[string]any)
	out := map[string]any{
		"status": raw["status"], "deviated": raw["deviated"],
		"before": normState(ss["before"]), "after": normState(ss["after"]),
		"run": normList(raw["run"], false), "rollbacks": normList(raw["rollbacks"], false),
	}
	return informational(substPaths(out, baseURL)).(map[string]any)
}

func normState(v any) any {
	s, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	return map[string]any{"met": s["steady_state_met"], "probes": normList(s["probes"], true)}
}

func normList(v any, hypothesis bool) []any {
	out := []any{}
	for _, e := range v.([]any) {
		out = append(out, normActivity(e.(map[string]any), hypothesis))
	}
	return out
}

func normActivity(run map[string]any, hypothesis bool) map[string]any {
	act := run["activity"].(map[string]any)
	ptype := act["provider"].(map[string]any)["type"]
	d := map[string]any{"name": act["name"], "type": act["type"], "provider": ptype, "status": run["status"]}
	if bg, _ := act["background"].(bool); bg {
		d["background"] = true
	}
	if hypothesis {
		d["tolerance_met"] = run["tolerance_met"]
	}
	d["output"] = normOutput(ptype, run["output"])
	d["exception"] = run["exception"]
	return d
}

func normOutput(ptype any, v any) any {
	o, ok := v.(map[string]any)
	if !ok {
		return v
	}
	switch ptype {
	case "http":
		return map[string]any{"status": o["status"], "body_type": bodyType(o["body"]), "body": o["body"]}
	case "process":
		return map[string]any{"status": o["status"], "stdout": o["stdout"], "stderr": o["stderr"]}
	}
	return o
}

func bodyType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case nil:
		return "null"
	}
	return "number"
}

// informational turns every "exception" value into whether there was one, recursively.
func informational(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range t {
			if k == "exception" {
				out[k] = e != nil
				continue
			}
			out[k] = informational(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = informational(e)
		}
		return out
	}
	return v
}

func substPaths(v any, baseURL string) any {
	switch t := v.(type) {
	case string:
		return strings.ReplaceAll(t, baseURL, "${CONFORMANCE_BASE_URL}")
	case map[string]any:
		out := map[string]any{}
		for k, e := range t {
			out[k] = substPaths(e, baseURL)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = substPaths(e, baseURL)
		}
		return out
	}
	return v
}

// TestConformanceDeliberateDifferences asserts the differences the public vectors cannot show.
func TestConformanceDeliberateDifferences(t *testing.T) {
	srv := newConformanceServer(t)
	env := conformance.Env(srv.URL, t.TempDir())
	// A hypothesis probe that fails (connection refused) makes the run "failed": the real
	// default strategy plays no rollbacks, chaoslab's default ("always") does.
	failing := `{"title":"t","description":"d",
	 "steady-state-hypothesis":{"title":"h","probes":[{"type":"probe","name":"refused",
	   "provider":{"type":"http","url":"http://127.0.0.1:1/closed"},"tolerance":200}]},
	 "method":[],
	 "rollbacks":[{"type":"action","name":"rb","provider":{"type":"process","path":"/bin/true"}}]}`
	for _, tc := range []struct {
		strategy  string
		rollbacks int
	}{{"", 1}, {"always", 1}, {"default", 0}} {
		t.Run("strategy="+tc.strategy, func(t *testing.T) {
			exp := mustParse(t, failing)
			j, err := Run(context.Background(), exp, Options{RollbackStrategy: tc.strategy, LookupEnv: env})
			if err != nil {
				t.Fatal(err)
			}
			if j.Status != StatusFailed || len(j.Rollbacks) != tc.rollbacks || j.ExitCode() != 1 {
				t.Errorf("status %s, %d rollbacks, exit %d; want failed, %d, 1", j.Status, len(j.Rollbacks), j.ExitCode(), tc.rollbacks)
			}
		})
	}
	// An env key without default whose variable is unset is invalid even when --var gives the
	// key: chaoslab exits 2 (the real tool exits 1), with no journal.
	t.Run("invalid-input-exits-2", func(t *testing.T) {
		exp := mustParse(t, `{"title":"t","description":"d","method":[],
		  "configuration":{"x":{"type":"env","key":"CONFORMANCE_UNSET_X"}}}`)
		j, err := Run(context.Background(), exp, Options{Vars: map[string]any{"x": "given"}, LookupEnv: env})
		if j != nil || cmdutil.ExitCode(err) != cmdutil.ExitUsage {
			t.Errorf("journal %v, exit %d (%v); want none and 2", j != nil, cmdutil.ExitCode(err), err)
		}
	})
}

func mustParse(t *testing.T, doc string) *Experiment {
	t.Helper()
	exp, err := Parse([]byte(doc), "json")
	if err != nil {
		t.Fatal(err)
	}
	return exp
}
