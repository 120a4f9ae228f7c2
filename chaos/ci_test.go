package chaos_test

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"chaoslab/internal/cli"
)

// The ready workflow runs on pull requests, runs the suite with a JUnit file, and every flag it
// gives chaoslab is one `chaoslab run` knows.
func TestGitHubActionsWorkflow(t *testing.T) {
	data, err := os.ReadFile("ci/github-actions.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		On   map[string]any `json:"on"`
		True map[string]any `json:"true"` // YAML 1.1 reads the key on as a boolean
		Jobs map[string]struct {
			Steps []struct {
				Uses string         `json:"uses"`
				Run  string         `json:"run"`
				With map[string]any `json:"with"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal(data, &wf); err != nil {
		t.Fatalf("the workflow is not valid YAML: %v", err)
	}
	_, onPR := wf.On["pull_request"]
	if _, ok := wf.True["pull_request"]; !ok && !onPR {
		t.Error("the workflow does not run on pull requests")
	}
	var help bytes.Buffer
	cli.Run(context.Background(), []string{"run", "--help"}, func(string) string { return "" }, &help, &help)
	var ran, uploads, junit bool
	for _, job := range wf.Jobs {
		for _, s := range job.Steps {
			uploads = uploads || strings.HasPrefix(s.Uses, "actions/upload-artifact")
			junit = junit || (strings.Contains(s.Uses, "junit") && strings.Contains(s.With["report_paths"].(string), "junit.xml"))
			if !strings.Contains(s.Run, "./cmd/chaoslab run") {
				continue
			}
			ran = strings.Contains(s.Run, "--suite") && strings.Contains(s.Run, "--junit")
			for _, flag := range regexp.MustCompile(`\s--([a-z-]+)`).FindAllStringSubmatch(s.Run, -1) {
				if !strings.Contains(help.String(), "  -"+flag[1]+" ") && !strings.Contains(help.String(), "  -"+flag[1]+"\n") {
					t.Errorf("the workflow gives chaoslab run --%s, which it does not know", flag[1])
				}
			}
		}
	}
	if !ran || !uploads || !junit {
		t.Errorf("suite with --junit %t, uploads the results %t, publishes the JUnit file %t: want all", ran, uploads, junit)
	}
}
