package experiment

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"chaoslab/internal/cmdutil"
)

// The fuzz targets of the experiment package: the loader and validator, --var and ${}
// substitution, and every tolerance kind. Each runs its seed corpus (the conformance cases, this
// package's testdata and testdata/fuzz/FuzzXxx) under `go test`; .ci/fuzz runs them as fuzzers.

// fuzzSeedFiles lists the experiments the seeds come from: this package's testdata and the
// conformance cases.
func fuzzSeedFiles(f *testing.F) []string {
	f.Helper()
	var files []string
	for _, pattern := range []string{"testdata/*.json", "testdata/*.yaml", "../conformance/testdata/cases/*.json"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		f.Fatal("no seed experiments found")
	}
	return files
}

// checkValidationError fails unless err is a *ValidationError (a usage error) with at least one
// non-empty problem.
func checkValidationError(t *testing.T, what string, err error) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, cmdutil.ErrUsage) {
		t.Fatalf("%s: error %T %v is not a *ValidationError", what, err, err)
	}
	if len(ve.Problems) == 0 {
		t.Fatalf("%s: a ValidationError without problems", what)
	}
	for _, p := range ve.Problems {
		if strings.TrimSpace(p) == "" {
			t.Fatalf("%s: an empty problem in %q", what, ve.Problems)
		}
	}
}

// FuzzParseValidate feeds an experiment document (JSON, or YAML when asYAML) to Parse, then
// Validate (nothing in the environment) and CheckRunnable: no panic, and every error is a
// usage error that says something.
func FuzzParseValidate(f *testing.F) {
	for _, path := range fuzzSeedFiles(f) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, strings.HasSuffix(path, ".yaml"))
	}
	f.Add([]byte(`{}`), false)
	f.Add([]byte(`[]`), false)
	f.Add([]byte("title: t\ndescription: d\nmethod: []\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, asYAML bool) {
		format := "json"
		if asYAML {
			format = "yaml"
		}
		exp, err := Parse(data, format)
		if err != nil {
			checkValidationError(t, "Parse", err)
			return
		}
		if exp.Document() == nil {
			t.Fatal("Parse gave no document and no error")
		}
		if !json.Valid(exp.raw) {
			t.Fatalf("Parse kept invalid JSON: %s", exp.raw)
		}
		if !json.Valid(exp.journalJSON()) {
			t.Fatalf("the journal's experiment is invalid JSON: %s", exp.journalJSON())
		}
		_ = exp.Title()
		notes, err := Validate(exp, Options{LookupEnv: noEnv})
		if err != nil {
			checkValidationError(t, "Validate", err)
		}
		for _, n := range notes {
			if strings.TrimSpace(n) == "" {
				t.Fatal("Validate gave an empty note")
			}
		}
		if err := CheckRunnable(exp); err != nil && !errors.Is(err, cmdutil.ErrUsage) {
			t.Fatalf("CheckRunnable: %v is not a usage error", err)
		}
		_ = Configuration(exp, noEnv, nil)
	})
}

// FuzzParseVar feeds a --var argument to ParseVar: an error is a usage error quoting the
// argument; a value is a string, an int64 or a float64 under a non-empty key.
func FuzzParseVar(f *testing.F) {
	for _, s := range []string{"expected_status:int=200", "name=value", "pause:float=1.5", "k:str=", "=x",
		"k:bool=true", "k:int= 7 ", "k:float=nan", "k:int=99999999999999999999", "noequals", "a:b:c=d", "k=v=w"} {
		f.Add(s)
	}
	for _, path := range []string{"../conformance/testdata/cases/26.args", "../conformance/testdata/cases/28.args"} {
		if data, err := os.ReadFile(path); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if v, ok := strings.CutPrefix(line, "--var="); ok {
					f.Add(v)
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, value, err := ParseVar(s)
		if err != nil {
			if !errors.Is(err, cmdutil.ErrUsage) || !strings.HasPrefix(err.Error(), "--var ") {
				t.Fatalf("ParseVar(%q): %v is not a usage error about --var", s, err)
			}
			return
		}
		if key == "" || strings.Contains(key, "=") || strings.Contains(key, ":") {
			t.Fatalf("ParseVar(%q) key = %q", s, key)
		}
		switch v := value.(type) {
		case string:
			if !strings.HasSuffix(s, "="+v) {
				t.Fatalf("ParseVar(%q) = %q, not the text after '='", s, v)
			}
		case int64, float64:
		default:
			t.Fatalf("ParseVar(%q) value %T %v", s, value, value)
		}
	})
}

// FuzzSubstitute feeds a template and a --var to the ${} substitution, directly and through
// Validate (as a pause and as a tolerance): no panic; text without '$' is left alone; with no
// configuration, substitution never grows a string; a whole-string ${name} keeps the value's
// type.
func FuzzSubstitute(f *testing.F) {
	for _, seed := range [][2]string{
		{"${base_url}/status/200", "base_url=http://127.0.0.1:1"},
		{"${expected_status}", "expected_status:int=200"},
		{"${pause}", "pause:float=0.5"},
		{"$$literal $name ${name} ${ name} ${1x} $", "name=v"},
		{"${unknown}", "known=1"},
		{"$", "x="},
		{"${", "a:int=1"},
		{"$a$b${c}", "b:float=2e3"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, tmpl, varArg string) {
		conf := map[string]any{"base_url": "http://h", "n": int64(3), "f": 1.5, "obj": NewObject("k", "v"), "list": []any{int64(1), "a"}}
		var vars map[string]any
		if k, v, err := ParseVar(varArg); err == nil {
			vars = map[string]any{k: v}
			conf[k] = v
		}
		out := substituteString(tmpl, conf)
		if !strings.Contains(tmpl, "$") {
			if s, ok := out.(string); !ok || s != tmpl {
				t.Fatalf("substitute(%q) = %#v, want it unchanged", tmpl, out)
			}
		}
		if name, ok := strings.CutPrefix(tmpl, "${"); ok && strings.HasSuffix(name, "}") {
			name = strings.TrimSuffix(name, "}")
			if v, known := conf[name]; known && isIdentifier(name) && !pyEqual(out, v) {
				t.Fatalf("substitute(%q) = %#v, want the value %#v itself", tmpl, out, v)
			}
		}
		if s, ok := substituteString(tmpl, nil).(string); !ok || len(s) > len(tmpl) {
			t.Fatalf("substitute(%q) without configuration = %#v, longer than the template", tmpl, s)
		}
		if utf8.ValidString(tmpl) {
			if s, ok := out.(string); ok && !utf8.ValidString(s) && allStringValues(conf) {
				t.Fatalf("substitute(%q) = %q, not UTF-8", tmpl, s)
			}
		}
		// Through Validate: the template as a pause and as a tolerance.
		doc := NewObject("title", "t", "description", "d", "method", []any{},
			"steady-state-hypothesis", NewObject("title", "h", "probes", []any{
				NewObject("type", "probe", "name", "p", "tolerance", tmpl,
					"pauses", NewObject("before", tmpl),
					"provider", NewObject("type", "http", "url", tmpl)),
			}))
		raw, err := doc.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		exp, err := Parse(raw, "json")
		if err != nil {
			t.Fatalf("Parse of a built experiment: %v", err)
		}
		if _, err := Validate(exp, Options{LookupEnv: noEnv, Vars: vars}); err != nil {
			checkValidationError(t, "Validate", err)
		}
	})
}

// allStringValues reports whether every value of conf that substitution may embed as text is
// valid UTF-8 (a --var string may not be).
func allStringValues(conf map[string]any) bool {
	for _, v := range conf {
		if s, ok := v.(string); ok && !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// FuzzTolerance feeds a tolerance and an activity output (both JSON; an output that is not JSON
// is a string, as a process's stdout is) to the validation and the check of every tolerance
// kind (int, float, bool, string, null, list, regex, range, jsonpath), against the output
// itself and wrapped as an http or process output: no panic, and the same answer twice.
func FuzzTolerance(f *testing.F) {
	seeds := [][2]string{
		{`200`, `{"status":200,"headers":{},"body":"ok"}`},
		{`[200, 201]`, `{"status":201}`},
		{`[1, 5]`, `3`},
		{`[1, 5, 9]`, `5`},
		{`true`, `true`},
		{`"ok\n"`, `"ok\n"`},
		{`null`, `null`},
		{`1.5`, `1.5`},
		{`{"type":"regex","pattern":"^o[k]+$","target":"body"}`, `{"status":200,"body":"okk"}`},
		{`{"type":"regex","pattern":"reach","target":"body"}`, `{"status":200,"body":{"reachable":false}}`},
		{`{"type":"range","range":[40,50],"target":"stdout"}`, `{"status":0,"stdout":"42\n","stderr":""}`},
		{`{"type":"range","range":[0.5,"x"]}`, `1`},
		{`{"type":"jsonpath","path":"$.items[*].id","count":2}`, `{"items":[{"id":1},{"id":2}]}`},
		{`{"type":"jsonpath","path":"$['a'][-1]","expect":[3],"target":"body"}`, `{"body":"{\"a\":[1,2,3]}"}`},
		{`{"type":"jsonpath","path":"$.*","expect":true}`, `{"x":true,"y":1}`},
		{`{"type":"jsonpath","path":"$..x"}`, `{}`},
		{`{"type":"nope"}`, `1`},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	for _, s := range journalToleranceSeeds(f) {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, tolData, outData []byte) {
		tol, err := decodeJSON(tolData)
		if err != nil {
			return // a tolerance is JSON (after YAML); the decoder is FuzzParseValidate's
		}
		output, err := decodeJSON(outData)
		if err != nil {
			output = string(outData)
		}
		if o, ok := tol.(*Object); ok {
			if kind, ok := toleranceKinds()[typeOf(o)]; ok {
				for _, p := range kind.validate(o) {
					if strings.TrimSpace(p) == "" {
						t.Fatal("an empty tolerance problem")
					}
				}
			}
		}
		for _, out := range []any{
			output,
			NewObject("status", int64(200), "headers", NewObject(), "body", output),
			NewObject("status", int64(0), "stdout", output, "stderr", ""),
		} {
			got := withinTolerance(tol, out)
			if again := withinTolerance(tol, out); again != got {
				t.Fatalf("withinTolerance(%s, %v) = %v then %v", tolData, pyRepr(out), got, again)
			}
		}
		_ = pyRepr(tol)
		_ = pyJSON(output)
	})
}

// journalToleranceSeeds returns (tolerance, output) pairs of the probes the real Chaos Toolkit
// ran in the conformance journals.
func journalToleranceSeeds(f *testing.F) [][2][]byte {
	f.Helper()
	paths, _ := filepath.Glob("../conformance/testdata/journals/*.json")
	var out [][2][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		var j struct {
			SteadyStates map[string]json.RawMessage `json:"steady_states"`
		}
		if err := json.Unmarshal(data, &j); err != nil {
			f.Fatalf("%s: %v", p, err)
		}
		for _, raw := range j.SteadyStates { // before and after are objects, during a list
			var h struct {
				Probes []struct {
					Activity struct {
						Tolerance json.RawMessage `json:"tolerance"`
					} `json:"activity"`
					Output json.RawMessage `json:"output"`
				} `json:"probes"`
			}
			if json.Unmarshal(raw, &h) != nil {
				continue
			}
			for _, pr := range h.Probes {
				if len(pr.Activity.Tolerance) > 0 && len(pr.Output) > 0 {
					out = append(out, [2][]byte{pr.Activity.Tolerance, pr.Output})
				}
			}
		}
	}
	return out
}

// TestDecodeDeepNesting is the regression test of a crash the fuzzing brought to light (too large
// for the fuzzer to make itself): a document of a few megabytes of "[" overflowed decodeValue's
// stack, a fatal error that no recover catches. Nesting is now bounded by maxJSONDepth: deeper is
// an error (an experiment) or text (an http body or a range target), quickly.
func TestDecodeDeepNesting(t *testing.T) {
	deep := strings.Repeat("[", 3_000_000) + strings.Repeat("]", 3_000_000)
	if _, err := Parse([]byte(deep), "json"); err == nil || !strings.Contains(err.Error(), "nested deeper than") {
		t.Errorf("Parse of 3e6 nested lists: err = %v, want nested deeper than", err)
	}
	ok := `{"title":"t","x":` + strings.Repeat(`{"a":`, maxJSONDepth-1) + "1" + strings.Repeat("}", maxJSONDepth)
	if _, err := Parse([]byte(ok), "json"); err != nil {
		t.Errorf("Parse at the depth limit: %v", err)
	}
	tooDeep := `{"x":` + strings.Repeat(`{"a":`, maxJSONDepth) + "1" + strings.Repeat("}", maxJSONDepth+1)
	if _, err := Parse([]byte(tooDeep), "json"); err == nil {
		t.Error("Parse one level past the limit: no error")
	}
	tol := NewObject("type", "jsonpath", "path", "$[0]", "target", "body")
	if withinTolerance(tol, NewObject("status", int64(200), "body", deep)) {
		t.Error("a jsonpath tolerance matched a body too deep to decode")
	}
}
