package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"chaoslab/internal/cmdutil"
)

func runCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), args, func(string) string { return "" }, &out, &errb)
	return out.String(), errb.String(), err
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, name := range append([]string{"--help"}, order...) {
		t.Run(name, func(t *testing.T) {
			args := []string{name, "--help"}
			if name == "--help" {
				args = []string{"--help"}
			}
			out, _, err := runCLI(t, args...)
			if cmdutil.ExitCode(err) != 0 {
				t.Fatalf("exit %d: %v", cmdutil.ExitCode(err), err)
			}
			if strings.Count(out, "Usage: chaoslab") != 1 {
				t.Errorf("help must have one usage line, once:\n%s", out)
			}
		})
	}
}

// Bad input gives exit status 2, one clear line, and starts nothing (no results folder).
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	malformed := write("malformed.json", `{"title": "x", "method": [`)
	python := write("python.json", `{"title":"t","description":"d","method":[{"type":"action","name":"kill-pods",
		"provider":{"type":"python","module":"chaosk8s.pod.actions","func":"terminate_pods","arguments":{"label_selector":"app=x"}}}]}`)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"malformed json", []string{"run", malformed}, "malformed.json"},
		{"missing file", []string{"run", filepath.Join(dir, "nope.json")}, "no such file"},
		{"python provider", []string{"run", python}, "chaos run"},
		{"bad --var", []string{"run", "--var", "=5"}, "var"},
		{"bad --var type", []string{"run", "--var", "x:bool=5"}, "var"},
		{"bad --env", []string{"run", "--env", "NOEQUALS"}, "KEY=VALUE"},
		{"bad pipeline variable", []string{"run", "--env", "CB_FAILURE_RATE_THRESHOLD=150"}, "CB_FAILURE_RATE_THRESHOLD"},
		{"unknown pipeline variable", []string{"run", "--env", "FOO=1"}, "--env FOO: client-service has no such variable; known: ADAPTIVE_COLD_MARGIN, ADAPTIVE_COLD_START, ADAPTIVE_RETRY_BACKOFF"},
		{"unknown pipeline variable, up", []string{"up", "--env", "CB_WAIT=5s"}, "--env CB_WAIT: client-service has no such variable"},
		{"unknown stack", []string{"run", "--stack", "mars"}, "--stack"},
		{"unknown command", []string{"frobnicate"}, "unknown command"},
		{"validate malformed", []string{"validate", malformed}, "malformed.json"},
		{"report not a folder", []string{"report", filepath.Join(dir, "none")}, "not a folder"},
		{"load without target", []string{"load"}, "target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "results")
			args := tt.args
			if args[0] == "run" {
				args = append([]string{"run", "--out", out}, args[1:]...)
			}
			_, _, err := runCLI(t, args...)
			if code := cmdutil.ExitCode(err); code != 2 {
				t.Fatalf("exit %d (%v), want 2", code, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message %q does not mention %q", msg, tt.want)
			}
			if strings.Count(strings.TrimSpace(msg), "\n") > 0 && tt.name != "python provider" {
				t.Errorf("message is not one line: %q", msg)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a results folder was created for bad input")
			}
		})
	}
}

func TestValidateBuiltIn(t *testing.T) {
	root := filepath.Join("..", "..")
	out, _, err := runCLI(t, "validate", filepath.Join(root, "chaos", "local", "network-partition-experiment.json"))
	if err != nil {
		t.Fatalf("the shipped local experiment does not validate: %v", err)
	}
	if !strings.Contains(out, "valid") {
		t.Errorf("output = %q", out)
	}
}

// TestValidateNotesNativeActivities: validate says which chaosk8s calls --stack k8s runs
// natively, and which need `chaos run`.
func TestValidateNotesNativeActivities(t *testing.T) {
	dir := t.TempDir()
	exp := filepath.Join(dir, "k8s.json")
	os.WriteFile(exp, []byte(`{"title": "t", "description": "d", "method": [
		{"type": "action", "name": "kill", "provider": {"type": "python", "module": "chaosk8s.pod.actions", "func": "terminate_pods", "arguments": {"label_selector": "app=x", "ns": "chaoslab"}}},
		{"type": "action", "name": "exec", "provider": {"type": "python", "module": "chaosk8s.pod.actions", "func": "exec_in_pods", "arguments": {"cmd": "true", "label_selector": "app=x"}}}]}`), 0o644)
	out, errOut, err := runCLI(t, "validate", exp)
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	all := out + errOut
	if !strings.Contains(all, "chaosk8s.pod.actions.terminate_pods runs natively with `chaoslab run --stack k8s`") {
		t.Errorf("no native note for terminate_pods:\n%s", all)
	}
	if !strings.Contains(all, "chaosk8s.pod.actions.exec_in_pods needs the Chaos Toolkit") {
		t.Errorf("exec_in_pods not noted as needing chaos run:\n%s", all)
	}
}
