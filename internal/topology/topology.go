package topology

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/results"
)

// Topology is a call graph of client-service tiers ending at backend-service, as a file
// describes it once defaults are filled in. It is a plain value: safe to read concurrently.
type Topology struct {
	Name    string            // the file's name field, or its base name
	Source  string            // where it came from: the path, or "built-in NAME"
	Backend map[string]string // backend-service's variables (never nil)
	Tiers   []Tier            // in the file's order
}

// Tier is one client-service tier.
type Tier struct {
	Name  string            // its TIER, its log (<name>.log) and the proxy in front of it
	Calls string            // the tier it calls, or results.BackendNode
	Env   map[string]string // its own variables, over the run's --env (never nil)
}

//go:embed builtin/*.yaml
var builtins embed.FS // read-only

// builtinDir is where the built-in topologies are kept in the repository, beside this package.
const builtinDir = "builtin"

// BuiltinPath is the repository path of the built-in topology name.
func BuiltinPath(name string) string {
	return "internal/topology/" + builtinDir + "/" + name + ".yaml"
}

// Names lists the built-in topologies, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(builtins, builtinDir) // embedded: cannot fail
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), path.Ext(e.Name())))
	}
	slices.Sort(names)
	return names
}

// Load reads the topology in the file at ref, or the built-in named ref when no such file
// exists. Every mistake is a cmdutil usage error of one line naming the file and the field.
func Load(ref string) (*Topology, error) {
	data, err := os.ReadFile(ref)
	switch {
	case err == nil:
		return Parse(data, ref, strings.TrimSuffix(filepath.Base(ref), filepath.Ext(ref)))
	case !errors.Is(err, fs.ErrNotExist):
		return nil, cmdutil.Usagef("topology %s: %v", ref, err)
	}
	if data, err := builtins.ReadFile(builtinDir + "/" + ref + ".yaml"); err == nil {
		return Parse(data, "built-in "+ref, ref)
	}
	return nil, cmdutil.Usagef("topology %s: no such file, and not a built-in topology (%s)", ref, strings.Join(Names(), ", "))
}

// Parse decodes a topology (YAML or JSON) strictly, fills its defaults (name: defaultName) and
// validates it; source names it in errors.
func Parse(data []byte, source, defaultName string) (*Topology, error) {
	t, err := decode(data)
	if err == nil {
		t.Source = source
		t.defaults(defaultName)
		err = t.validate()
	}
	if err != nil {
		return nil, cmdutil.Usagef("topology %s: %v", source, err)
	}
	return t, nil
}

// Tier returns the tier called name.
func (t *Topology) Tier(name string) (Tier, bool) {
	i := slices.IndexFunc(t.Tiers, func(tr Tier) bool { return tr.Name == name })
	if i < 0 {
		return Tier{}, false
	}
	return t.Tiers[i], true
}

// Env is the variables tier name runs with: its own over runEnv (the run's --env).
func (t *Topology) Env(name string, runEnv map[string]string) map[string]string {
	out := make(map[string]string, len(runEnv))
	for k, v := range runEnv {
		out[k] = v
	}
	tr, _ := t.Tier(name)
	for k, v := range tr.Env {
		out[k] = v
	}
	return out
}

// Record is the topology as run.json records it, with its entries and layers.
func (t *Topology) Record() *results.Topology {
	r := &results.Topology{Name: t.Name, Entries: t.Entries(), Layers: t.Layers()}
	if len(t.Backend) > 0 {
		r.BackendEnv = t.Backend
	}
	for _, tr := range t.Tiers {
		rt := results.Tier{Name: tr.Name, Calls: tr.Calls}
		if len(tr.Env) > 0 {
			rt.Env = tr.Env
		}
		r.Tiers = append(r.Tiers, rt)
	}
	return r
}

// String names the topology and where it came from, for a person.
func (t *Topology) String() string { return fmt.Sprintf("%s (%s)", t.Name, t.Source) }
