package chaos

import (
	"strings"
	"testing"
)

// TestCheckKubernetes: a local entry lists k8s exactly when its Kubernetes file exists.
func TestCheckKubernetes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry Entry
		want  string
	}{
		{"listed, with its file", Entry{Name: "http-errors", Path: "chaos/local/http-errors-experiment.json", Stacks: []string{"local", "k8s"}}, ""},
		{"not listed, no file", Entry{Name: "made-up", Path: "chaos/local/made-up-experiment.json", Stacks: []string{"local"}}, ""},
		{"listed, no file", Entry{Name: "made-up", Path: "chaos/local/made-up-experiment.json", Stacks: []string{"local", "k8s"}},
			"chaos/local/made-up-experiment.json: stacks lists k8s, but chaos/k8s/made-up-experiment.json does not exist"},
		{"a file, not listed", Entry{Name: "http-errors", Path: "chaos/local/http-errors-experiment.json", Stacks: []string{"local"}},
			`stacks does not list k8s, but chaos/k8s/http-errors-experiment.json exists: add "k8s" to its stacks`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkKubernetes(tc.entry)
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("checkKubernetes = %v, want %q", err, tc.want)
			}
		})
	}
}
