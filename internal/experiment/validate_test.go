package experiment

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"chaoslab/internal/cmdutil"
)

var update = flag.Bool("update", false, "rewrite testdata/*.err from the current messages")

// noEnv is a LookupEnv with nothing set.
func noEnv(string) (string, bool) { return "", false }

// TestValidateTestdata loads each bad input in testdata/ and compares the exact error (and
// notes) with the .err file beside it.
func TestValidateTestdata(t *testing.T) {
	inputs, _ := filepath.Glob("testdata/*.json")
	yamls, _ := filepath.Glob("testdata/*.yaml")
	for _, in := range append(inputs, yamls...) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			got := validateFile(in)
			golden := strings.TrimSuffix(in, filepath.Ext(in)) + filepath.Ext(in) + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("messages differ\n got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func validateFile(path string) string {
	exp, err := Load(path)
	if err != nil {
		return describe(nil, err)
	}
	notes, err := Validate(exp, Options{LookupEnv: noEnv})
	return describe(notes, err)
}

func describe(notes []string, err error) string {
	var b strings.Builder
	for _, n := range notes {
		b.WriteString("note: " + n + "\n")
	}
	if err != nil {
		var ve *ValidationError
		if !errors.As(err, &ve) || !errors.Is(err, cmdutil.ErrUsage) {
			b.WriteString("NOT A USAGE VALIDATION ERROR: ")
		}
		b.WriteString(err.Error() + "\n")
	}
	return b.String()
}

func TestValidationErrorListsEveryProblem(t *testing.T) {
	exp := mustParse(t, `{"method": 3}`)
	_, err := Validate(exp, Options{RollbackStrategy: "sometimes", LookupEnv: noEnv})
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 4 {
		t.Fatalf("want 4 problems (title, description, method, strategy), got %v", err)
	}
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage {
		t.Errorf("exit code %d, want %d", cmdutil.ExitCode(err), cmdutil.ExitUsage)
	}
}

func TestLoadMissingFileWrapsOSError(t *testing.T) {
	_, err := Load("testdata/does-not-exist.json")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("want an error wrapping os.ErrNotExist, got %v", err)
	}
}

func TestCheckRunnable(t *testing.T) {
	exp, err := Load("testdata/python-ok.json")
	if err != nil {
		t.Fatal(err)
	}
	notes, err := Validate(exp, Options{LookupEnv: noEnv})
	if err != nil || len(notes) != 1 {
		t.Fatalf("validate: notes %q, err %v; want one note", notes, err)
	}
	err = CheckRunnable(exp)
	want := "method[0] \"partition\" uses the python provider chaosk8s.networking.actions.create_network_policy, which chaoslab cannot run: run it with `chaos run`"
	if err == nil || err.Error() != want || !errors.Is(err, cmdutil.ErrUsage) {
		t.Errorf("CheckRunnable = %v, want usage error %q", err, want)
	}
	if j, err := Run(t.Context(), exp, Options{LookupEnv: noEnv}); j != nil || err == nil {
		t.Errorf("Run must refuse before running: journal %v, err %v", j, err)
	}
}
