package experiment

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"chaoslab/internal/cmdutil"
)

func TestParseVar(t *testing.T) {
	tests := []struct {
		in    string
		key   string
		value any
		bad   bool
	}{
		{in: "n=5", key: "n", value: "5"},
		{in: "n:str=5", key: "n", value: "5"},
		{in: "n:int=5", key: "n", value: int64(5)},
		{in: "r:float=0.5", key: "r", value: 0.5},
		{in: "url=http://x/?a=b", key: "url", value: "http://x/?a=b"},
		{in: "n:int=five", bad: true},
		{in: "n:bool=true", bad: true},
		{in: "novalue", bad: true},
		{in: "=5", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			k, v, err := ParseVar(tt.in)
			if tt.bad {
				if !errors.Is(err, cmdutil.ErrUsage) {
					t.Errorf("want a usage error, got %v", err)
				}
				return
			}
			if err != nil || k != tt.key || v != tt.value {
				t.Errorf("got %q %#v %v, want %q %#v", k, v, err, tt.key, tt.value)
			}
		})
	}
}

func TestSubstitute(t *testing.T) {
	conf := map[string]any{"n": int64(5), "flag": true, "ratio": 0.5, "s": "str", "f": 5.0,
		"l": []any{int64(1), "a"}, "o": NewObject("k", "v")}
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"whole keeps int", "${n}", int64(5)},
		{"whole keeps bool", "${flag}", true},
		{"whole keeps float", "${ratio}", 0.5},
		{"whole keeps list", "${l}", []any{int64(1), "a"}},
		{"embedded int", "n=${n}", "n=5"},
		{"embedded bool is Python", "x${flag}", "xTrue"},
		{"embedded integral float", "${f}s", "5.0s"},
		{"embedded list is Python repr", "${l}!", "[1, 'a']!"},
		{"embedded object is Python repr", "${o}!", "{'k': 'v'}!"},
		{"bare name", "$n", "5"},
		{"bare name stops at non-identifier", "$n-$s", "5-str"},
		{"unknown braced left", "${nope}", "${nope}"},
		{"unknown embedded left", "x-${nope}-y", "x-${nope}-y"},
		{"unknown bare left", "$nope", "$nope"},
		{"dollar dollar", "cost$$5", "cost$5"},
		{"lone dollar", "5$", "5$"},
		{"not an identifier", "${1x}", "${1x}"},
		{"recursive", []any{"${n}", NewObject("a", "${s}")}, []any{int64(5), NewObject("a", "str")}},
		{"non-string untouched", int64(3), int64(3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := substitute(tt.in, conf); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("substitute(%#v) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestConfiguration(t *testing.T) {
	exp := mustParse(t, `{"configuration": {
		"lit": 3, "set": {"type": "env", "key": "SET"}, "dflt": {"type": "env", "key": "UNSET", "default": "d"},
		"typed": {"type": "env", "key": "PORT", "env_var_type": "int"}, "over": "config"}}`)
	env := func(k string) (string, bool) {
		v, ok := map[string]string{"SET": "from-env", "PORT": "8080"}[k]
		return v, ok
	}
	conf, problems := configuration(exp, env, map[string]any{"over": int64(1), "extra": "x"})
	want := map[string]any{"lit": int64(3), "set": "from-env", "dflt": "d", "typed": int64(8080), "over": int64(1), "extra": "x"}
	if len(problems) > 0 || !reflect.DeepEqual(conf, want) {
		t.Errorf("got %#v %q, want %#v", conf, problems, want)
	}
}

func TestWithinTolerance(t *testing.T) {
	httpOut := NewObject("status", int64(201), "headers", NewObject(), "body", "status 201")
	jsonOut := NewObject("status", int64(200), "body", NewObject("items", []any{int64(1), int64(2)}, "source", "backend"))
	procOut := NewObject("status", int64(0), "stdout", "42\n", "stderr", "")
	tests := []struct {
		name string
		tol  string
		out  any
		want bool
	}{
		{"int vs status", `201`, httpOut, true},
		{"int vs other status", `200`, httpOut, false},
		{"list membership on status", `[200, 201]`, httpOut, true},
		{"two-int list is not a range on status", `[200, 299]`, httpOut, false},
		{"bool vs object", `true`, httpOut, false},
		{"string vs object", `"status 201"`, httpOut, false},
		{"regex on body", `{"type": "regex", "target": "body", "pattern": "^status 2"}`, httpOut, true},
		{"regex on JSON body matches JSON text", `{"type": "regex", "target": "body", "pattern": "\"source\": \"backend\""}`, jsonOut, true},
		{"regex no match", `{"type": "regex", "target": "stdout", "pattern": "^43"}`, procOut, false},
		{"range on status", `{"type": "range", "range": [200, 299], "target": "status"}`, httpOut, true},
		{"range on numeric text", `{"type": "range", "range": [40, 50], "target": "stdout"}`, procOut, true},
		{"range on text that is not a number", `{"type": "range", "range": [0, 500], "target": "body"}`, httpOut, false},
		{"jsonpath expect scalar", `{"type": "jsonpath", "path": "$.source", "expect": "backend", "target": "body"}`, jsonOut, true},
		{"jsonpath expect list", `{"type": "jsonpath", "path": "$.items[*]", "expect": [1, 2], "target": "body"}`, jsonOut, true},
		{"jsonpath index", `{"type": "jsonpath", "path": "$.items[0]", "expect": 2, "target": "body"}`, jsonOut, false},
		{"jsonpath count", `{"type": "jsonpath", "path": "$.items[*]", "count": 2, "target": "body"}`, jsonOut, true},
		{"jsonpath exists", `{"type": "jsonpath", "path": "$.missing", "target": "body"}`, jsonOut, false},
		{"jsonpath on JSON text", `{"type": "jsonpath", "path": "$.a.b", "expect": 1}`, `{"a": {"b": 1}}`, true},
		{"plain: two-int list is a range", `[1, 5]`, int64(3), true},
		{"plain: longer list is membership", `[1, 2, 5]`, int64(3), false},
		{"plain: bool equality", `true`, true, true},
		{"plain: string equality", `"ok"`, "ok", true},
		{"plain: int equality", `3`, int64(3), true},
		{"plain: int vs float", `3`, 3.0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tol, err := decodeJSON([]byte(tt.tol))
			if err != nil {
				t.Fatal(err)
			}
			if got := withinTolerance(tol, tt.out); got != tt.want {
				t.Errorf("withinTolerance(%s, %s) = %v, want %v", tt.tol, pyRepr(tt.out), got, tt.want)
			}
		})
	}
}

func TestShouldRollback(t *testing.T) {
	type run struct {
		status   string
		deviated bool
	}
	runs := map[string]run{
		"completed": {StatusCompleted, false}, "deviated": {StatusCompleted, true},
		"failed": {StatusFailed, false}, "aborted": {StatusAborted, false}, "interrupted": {StatusInterrupted, false},
	}
	want := map[string]map[string]bool{
		"default":  {"completed": true, "deviated": true, "failed": false, "aborted": true, "interrupted": false},
		"always":   {"completed": true, "deviated": true, "failed": true, "aborted": true, "interrupted": true},
		"never":    {"completed": false, "deviated": false, "failed": false, "aborted": false, "interrupted": false},
		"deviated": {"completed": false, "deviated": true, "failed": false, "aborted": false, "interrupted": false},
		"":         {"completed": true, "deviated": true, "failed": true, "aborted": true, "interrupted": true},
	}
	for strategy, byRun := range want {
		for name, w := range byRun {
			t.Run(strategy+"/"+name, func(t *testing.T) {
				r := runs[name]
				if got := shouldRollback(strategy, r.status, r.deviated); got != w {
					t.Errorf("shouldRollback(%q, %s, %v) = %v, want %v", strategy, r.status, r.deviated, got, w)
				}
			})
		}
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		status   string
		deviated bool
		want     int
	}{
		{StatusCompleted, false, 0}, {StatusCompleted, true, 1}, {StatusFailed, false, 1},
		{StatusAborted, false, 1}, {StatusInterrupted, false, 1},
	}
	for _, tt := range tests {
		j := &Journal{Status: tt.status, Deviated: tt.deviated}
		if got := j.ExitCode(); got != tt.want {
			t.Errorf("%s deviated=%v: exit %d, want %d", tt.status, tt.deviated, got, tt.want)
		}
	}
}

func TestTimestampFormat(t *testing.T) {
	tests := map[time.Time]string{
		time.Date(2026, 11, 26, 16, 54, 25, 459516789, time.UTC):            "2026-11-26T16:54:25.459516+00:00",
		time.Date(2026, 11, 26, 17, 54, 25, 0, time.FixedZone("CET", 3600)): "2026-11-26T16:54:25+00:00",
	}
	for in, want := range tests {
		if got := formatTimestamp(in); got != want {
			t.Errorf("formatTimestamp(%v) = %s, want %s", in, got, want)
		}
	}
}

// TestJournalShape compares the key order of our journals with the real tool's, for a
// succeeded run (01), failed entries (14) and an aborted entry (16).
func TestJournalShape(t *testing.T) {
	srv := newConformanceServer(t)
	for _, name := range []string{"01-tol-int-status-and-exit", "14-http-failures-in-method", "16-provider-raises-aborts"} {
		t.Run(name, func(t *testing.T) {
			casePath := filepath.Join(conformanceDir, "cases", name+".json")
			res := runCase(t, casePath, readArgs(t, casePath), srv.URL)
			if res.journal == nil {
				t.Fatal(res.err)
			}
			data, _ := json.Marshal(res.journal)
			real, err := os.ReadFile(filepath.Join(conformanceDir, "journals", name+".journal.json"))
			if err != nil {
				t.Fatal(err)
			}
			got, want := keyPaths(t, data), keyPaths(t, real)
			if !slices.Equal(got, want) {
				t.Errorf("journal keys differ\n got: %q\nwant: %q", got, want)
			}
		})
	}
}

// keyPaths lists the journal's keys in order, outside of experiment, activity, output and
// exception (which are free-form).
func keyPaths(t *testing.T, data []byte) []string {
	t.Helper()
	v, err := decodeJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case *Object:
			for _, k := range x.Keys() {
				out = append(out, prefix+k)
				if k == "experiment" || k == "activity" || k == "output" || k == "exception" {
					continue
				}
				e, _ := x.Get(k)
				walk(prefix+k+".", e)
			}
		case []any:
			for _, e := range x {
				walk(prefix+"[].", e)
			}
		}
	}
	walk("", v)
	return out
}
