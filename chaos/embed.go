// Package chaos holds the experiments that ship inside the chaoslab binary. The files themselves
// live beside it, so the same JSON runs under `chaoslab run` and the real `chaos run`.
//
// chaos/local holds the catalogue of failures: one Chaos Toolkit experiment per fault, each
// carrying its catalogue metadata in an `extensions` entry named "chaoslab":
//
//	"extensions": [{"name": "chaoslab", "catalogue": {"fault": "...", "defaults": "...",
//	    "stacks": ["local"], "unavailable": {"netns": "why not"}}}]
//
// chaos/k8s holds the same failures on Kubernetes (KubernetesEntry), one file per name, with the
// same extension (stacks ["k8s"]); a local entry lists "k8s" in its stacks exactly when its
// Kubernetes file exists.
package chaos

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// LocalPartitionExperiment is chaos/local/network-partition-experiment.json: the seed guide's
// network partition for the local stack (and, unchanged, for --stack netns). `chaoslab run`
// runs it when no experiment file is given.
//
//go:embed local/network-partition-experiment.json
var LocalPartitionExperiment string

// LocalPartitionExperimentPath is where LocalPartitionExperiment lives in the repository.
const LocalPartitionExperimentPath = "chaos/local/network-partition-experiment.json"

//go:embed local/*.json
var local embed.FS

//go:embed k8s/*.json
var kubernetes embed.FS

// order is the catalogue: every file chaos/local/<name>-experiment.json, in the order the
// catalogue lists them. A file missing here, or a name here without its file, is an error of
// Catalogue.
var order = []string{
	"network-partition",
	"backend-latency",
	"backend-latency-within-timeout",
	"http-errors",
	"backend-crash",
	"flapping-partition",
	"slow-body",
	"connection-reset",
	"retry-storm",
	"capacity-drop",
	"load-spike",
	"metastable",
}

const (
	localDir   = "local"
	k8sDir     = "k8s"
	k8sStack   = "k8s" // the --stack of a cluster, as the entries' stacks name it
	fileSuffix = "-experiment.json"
	extName    = "chaoslab"
)

// Entry is one experiment of the catalogue.
type Entry struct {
	Name        string            // "http-errors": the file name without "-experiment.json"
	Path        string            // "chaos/local/http-errors-experiment.json" (repository path; chaos/k8s/... for KubernetesEntry)
	Title       string            // the experiment's title
	Fault       string            // from the chaoslab extension
	Defaults    string            // from the chaoslab extension
	Stacks      []string          // stacks that support it
	Unavailable map[string]string // stack -> why not (never nil; empty when every stack is listed)
	Topology    string            // the call graph the experiment names (extension "topology"); "" = today's two services
	Data        []byte            // the JSON as embedded
}

// Supports says whether the entry runs on the stack, and if not, why.
func (e Entry) Supports(stack string) (bool, string) {
	if slices.Contains(e.Stacks, stack) {
		return true, ""
	}
	if why, ok := e.Unavailable[stack]; ok {
		return false, why
	}
	return false, fmt.Sprintf("%s runs on --stack %s; its catalogue entry does not list --stack %s",
		e.Name, strings.Join(e.Stacks, ", "), stack)
}

// Catalogue returns every entry in catalogue order (network-partition first); an error names the
// file whose metadata is missing or malformed, or the file (or name) that is not in both the
// order and chaos/local. Each call decodes afresh: the entries share nothing with each other or
// with later calls.
func Catalogue() ([]Entry, error) {
	if err := checkNames(local, localDir); err != nil {
		return nil, err
	}
	if err := checkNames(kubernetes, k8sDir); err != nil {
		return nil, err
	}
	entries := make([]Entry, 0, len(order))
	for _, name := range order {
		e, err := load(local, localDir, name)
		if err != nil {
			return nil, err
		}
		if err := checkKubernetes(e); err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// checkNames says which file of dir is not named <name>-experiment.json for a name of the order.
func checkNames(fsys fs.FS, dir string) error {
	files, err := fs.Glob(fsys, dir+"/*"+fileSuffix)
	if err != nil {
		return err
	}
	all, err := fs.Glob(fsys, dir+"/*.json")
	if err != nil {
		return err
	}
	for _, f := range all {
		if !slices.Contains(files, f) {
			return fmt.Errorf("chaos/%s: a catalogue file must be named <name>%s", f, fileSuffix)
		}
	}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), fileSuffix)
		if !slices.Contains(order, name) {
			return fmt.Errorf("chaos/%s: %q is not in the catalogue order (chaos/embed.go)", f, name)
		}
	}
	return nil
}

// checkKubernetes says whether a local entry's "k8s" in stacks and its Kubernetes file disagree,
// or that file is broken.
func checkKubernetes(e Entry) error {
	k, err := load(kubernetes, k8sDir, e.Name)
	var mf *missingFile
	missing := errors.As(err, &mf)
	switch listed := slices.Contains(e.Stacks, k8sStack); {
	case err != nil && !missing:
		return err
	case listed && missing:
		return fmt.Errorf("%s: stacks lists %s, but chaos/%s/%s%s does not exist", e.Path, k8sStack, k8sDir, e.Name, fileSuffix)
	case !listed && !missing:
		return fmt.Errorf("%s: stacks does not list %s, but %s exists: add %q to its stacks", e.Path, k8sStack, k.Path, k8sStack)
	case !missing && !slices.Equal(k.Stacks, []string{k8sStack}):
		return fmt.Errorf("%s: stacks %v, want [%q]", k.Path, k.Stacks, k8sStack)
	}
	return nil
}

// KubernetesEntry returns the Kubernetes experiment of a catalogue name: chaos/k8s/<name>-experiment.json,
// for the real `chaos run` with chaostoolkit-kubernetes against a cluster where deploy/k8s is
// applied (its description says which port-forwards it needs). ok is false for a name without one.
func KubernetesEntry(name string) (Entry, bool) {
	if !slices.Contains(order, name) {
		return Entry{}, false
	}
	e, err := load(kubernetes, k8sDir, name)
	if err != nil {
		return Entry{}, false
	}
	return e, true
}

// Lookup returns the entry with this name.
func Lookup(name string) (Entry, bool) {
	if !slices.Contains(order, name) {
		return Entry{}, false
	}
	e, err := load(local, localDir, name)
	if err != nil {
		return Entry{}, false
	}
	return e, true
}

// Names returns the names in catalogue order.
func Names() []string { return slices.Clone(order) }

// document is the part of an experiment the catalogue reads.
type document struct {
	Title      string      `json:"title"`
	Extensions []extension `json:"extensions"`
}

type extension struct {
	Name      string          `json:"name"`
	Catalogue json.RawMessage `json:"catalogue"`
	Topology  string          `json:"topology"`
}

type catalogue struct {
	Fault       string            `json:"fault"`
	Defaults    string            `json:"defaults"`
	Stacks      []string          `json:"stacks"`
	Unavailable map[string]string `json:"unavailable"`
}

// missingFile is a name of the order without its file in a directory.
type missingFile struct{ path, name string }

func (e *missingFile) Error() string {
	return fmt.Sprintf("%s: %q is in the catalogue order (chaos/embed.go) but has no file", e.path, e.name)
}

// load reads chaos/<dir>/<name>-experiment.json and its chaoslab extension.
func load(fsys fs.FS, dir, name string) (Entry, error) {
	file := dir + "/" + name + fileSuffix
	repoPath := "chaos/" + file
	data, err := fs.ReadFile(fsys, file)
	if err != nil {
		return Entry{}, &missingFile{repoPath, name}
	}
	var doc document
	if err := json.Unmarshal(data, &doc); err != nil {
		return Entry{}, fmt.Errorf("%s: %w", repoPath, err)
	}
	if strings.TrimSpace(doc.Title) == "" {
		return Entry{}, fmt.Errorf("%s: the experiment has no title", repoPath)
	}
	var raw json.RawMessage
	var topo string
	for _, x := range doc.Extensions {
		if x.Name != extName {
			continue
		}
		if raw != nil {
			return Entry{}, fmt.Errorf("%s: two extensions are named %q", repoPath, extName)
		}
		raw, topo = x.Catalogue, x.Topology
		if raw == nil {
			raw = json.RawMessage("null")
		}
	}
	if raw == nil {
		return Entry{}, fmt.Errorf("%s: no extension named %q (extensions: [{\"name\": %q, \"catalogue\": {...}}])", repoPath, extName, extName)
	}
	var c catalogue
	if err := json.Unmarshal(raw, &c); err != nil || string(raw) == "null" {
		if err == nil {
			err = fmt.Errorf("it is missing")
		}
		return Entry{}, fmt.Errorf("%s: extension %q: catalogue: %w", repoPath, extName, err)
	}
	if err := c.check(); err != nil {
		return Entry{}, fmt.Errorf("%s: extension %q: catalogue: %w", repoPath, extName, err)
	}
	if c.Unavailable == nil {
		c.Unavailable = map[string]string{}
	}
	return Entry{
		Name: name, Path: repoPath, Title: doc.Title,
		Fault: c.Fault, Defaults: c.Defaults, Stacks: c.Stacks, Unavailable: c.Unavailable,
		Topology: topo, Data: data,
	}, nil
}

func (c catalogue) check() error {
	if strings.TrimSpace(c.Fault) == "" {
		return fmt.Errorf("fault is required (what the experiment does, in a few words)")
	}
	if strings.TrimSpace(c.Defaults) == "" {
		return fmt.Errorf("defaults is required (the default parameters, in a few words)")
	}
	if len(c.Stacks) == 0 {
		return fmt.Errorf("stacks is required (the stacks that run it, e.g. [\"local\"])")
	}
	for i, s := range c.Stacks {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("stacks[%d] is empty", i)
		}
		if slices.Contains(c.Stacks[:i], s) {
			return fmt.Errorf("stacks lists %q twice", s)
		}
	}
	for stack, why := range c.Unavailable {
		if slices.Contains(c.Stacks, stack) {
			return fmt.Errorf("%q is both in stacks and in unavailable", stack)
		}
		if strings.TrimSpace(why) == "" {
			return fmt.Errorf("unavailable.%s: say why", stack)
		}
	}
	return nil
}
