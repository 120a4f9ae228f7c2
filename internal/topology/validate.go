package topology

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"chaoslab/internal/backend"
	"chaoslab/internal/client"
	"chaoslab/internal/results"
)

// namePattern is what a topology and its tiers may be called: a non-empty TIER value
// (client-service's rule: a Kubernetes label value), so a tier's name is its TIER, its log file
// and its proxy's name as they are.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$`) // read-only

// nameRule says what namePattern allows, for a person.
const nameRule = "1 to 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"

// reserved maps the names a tier cannot have to why: the backend's node and proxy, and the
// results folder's other logs (a tier logs to <name>.log).
func reserved() map[string]string {
	return map[string]string{
		results.BackendNode:    "it names the backend (calls: backend) and its proxy",
		results.BackendService: "backend-service.log is the backend's log",
		results.ClientService:  "client-service.log is today's client's log",
		"chaoslab":             "chaoslab.log is the lab's log",
	}
}

// labClientEnv maps the client-service variables the lab sets on every tier itself to why.
func labClientEnv() map[string]string {
	return map[string]string{
		"LISTEN_ADDR": "the lab picks a free port",
		"BACKEND_URL": "the lab points it at the next hop's proxy",
		"TIER":        "the tier's name is its TIER",
		"LOG_FORMAT":  "the lab reads JSON records",
		"LOG_LEVEL":   "the lab needs debug: a record of every call",
	}
}

// labBackendEnv maps the backend-service variables the lab sets itself to why.
func labBackendEnv() map[string]string {
	return map[string]string{
		"LISTEN_ADDR":   "the lab picks a free port",
		"LOG_FORMAT":    "the lab reads JSON records",
		"PAYLOAD_BYTES": "the lab's backend answers with about 2 KB",
	}
}

// defaults fills what a file may leave out: the name (defaultName), each tier's calls (the next
// tier listed; the last calls the backend) and empty variables.
func (t *Topology) defaults(defaultName string) {
	if t.Name == "" {
		t.Name = defaultName
	}
	if t.Backend == nil {
		t.Backend = map[string]string{}
	}
	for i := range t.Tiers {
		tr := &t.Tiers[i]
		if tr.Calls == "" {
			tr.Calls = results.BackendNode
			if i+1 < len(t.Tiers) {
				tr.Calls = t.Tiers[i+1].Name
			}
		}
		if tr.Env == nil {
			tr.Env = map[string]string{}
		}
	}
}

// validate returns the first mistake, naming its field.
func (t *Topology) validate() error {
	if !namePattern.MatchString(t.Name) {
		return &fieldError{"name", fmt.Sprintf("%q is not a name: %s", t.Name, nameRule)}
	}
	if len(t.Tiers) == 0 {
		return &fieldError{"tiers", "a topology needs at least one tier (the entry tier first; the last calls the backend)"}
	}
	if err := checkBackendEnv(t.Backend); err != nil {
		return err
	}
	seen := map[string]int{}
	for i, tr := range t.Tiers {
		if err := checkTierName(tr.Name, i, seen); err != nil {
			return err
		}
	}
	for i, tr := range t.Tiers {
		if err := t.checkCalls(tr, i); err != nil {
			return err
		}
		if err := checkClientEnv(tr.Env, fmt.Sprintf("tiers[%d].env", i)); err != nil {
			return err
		}
	}
	return t.checkCycles()
}

func checkTierName(name string, i int, seen map[string]int) error {
	field := fmt.Sprintf("tiers[%d].name", i)
	if name == "" {
		return &fieldError{field, "a tier needs a name (its TIER, its log file and its proxy's name)"}
	}
	if !namePattern.MatchString(name) {
		return &fieldError{field, fmt.Sprintf("%q is not a valid TIER: %s", name, nameRule)}
	}
	if why, ok := reserved()[name]; ok {
		return &fieldError{field, fmt.Sprintf("%q is reserved: %s", name, why)}
	}
	if j, dup := seen[name]; dup {
		return &fieldError{field, fmt.Sprintf("%q also names tiers[%d]: each tier's name is unique", name, j)}
	}
	seen[name] = i
	return nil
}

func (t *Topology) checkCalls(tr Tier, i int) error {
	field := fmt.Sprintf("tiers[%d].calls", i)
	_, isTier := t.Tier(tr.Calls)
	switch {
	case tr.Calls == tr.Name:
		return &fieldError{field, fmt.Sprintf("%s calls itself: name the next tier or backend", tr.Name)}
	case !isTier && tr.Calls != results.BackendNode:
		return &fieldError{field, fmt.Sprintf("%q is neither a tier (%s) nor backend", tr.Calls, strings.Join(t.names(), ", "))}
	}
	return nil
}

// checkCycles follows each tier's calls: every tier must reach the backend.
func (t *Topology) checkCycles() error {
	for i, tr := range t.Tiers {
		path := []string{tr.Name}
		for node := tr.Calls; node != results.BackendNode; {
			path = append(path, node)
			if slices.Contains(path[:len(path)-1], node) {
				return &fieldError{fmt.Sprintf("tiers[%d].calls", i),
					fmt.Sprintf("%s is a cycle: every tier must reach the backend", strings.Join(path, " -> "))}
			}
			next, _ := t.Tier(node)
			node = next.Calls
		}
	}
	return nil
}

func (t *Topology) names() []string {
	out := make([]string, len(t.Tiers))
	for i, tr := range t.Tiers {
		out[i] = tr.Name
	}
	return out
}

// checkClientEnv admits client-service's variables, but not those the lab sets itself.
func checkClientEnv(env map[string]string, field string) error {
	known, lab := client.Defaults(), labClientEnv()
	for _, k := range slices.Sorted(maps.Keys(env)) {
		if why, ok := lab[k]; ok {
			return &fieldError{field + "." + k, "set by the lab (" + why + "): leave it out"}
		}
		if _, ok := known[k]; !ok {
			return &fieldError{field + "." + k, "client-service has no such variable; a tier may set " + settable(known, lab)}
		}
	}
	return nil
}

// settable lists the variables of known the lab leaves to a topology.
func settable(known, lab map[string]string) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(known)) {
		if _, ok := lab[k]; !ok {
			out = append(out, k)
		}
	}
	return strings.Join(out, ", ")
}

// checkBackendEnv admits backend-service's variables (its capacity among them), with values it
// accepts, but not those the lab sets itself.
func checkBackendEnv(env map[string]string) error {
	known, lab := backend.Defaults(), labBackendEnv()
	for _, k := range slices.Sorted(maps.Keys(env)) {
		field := "backend.env." + k
		if why, ok := lab[k]; ok {
			return &fieldError{field, "set by the lab (" + why + "): leave it out"}
		}
		if _, ok := known[k]; !ok {
			return &fieldError{field, "backend-service has no such variable; the backend may set " + settable(known, lab)}
		}
	}
	if _, err := backend.LoadConfig(func(k string) string { return env[k] }); err != nil {
		return &fieldError{"backend.env", err.Error()}
	}
	return nil
}
