package results

// BackendNode names backend-service in a Topology: the node every tier's calls end at, and the
// Toxiproxy proxy in front of it.
const BackendNode = "backend"

// Topology is the call graph of client-service tiers a run started (run.json "topology"); nil
// for today's two services. The lab records it from internal/topology; the report reads its
// layers to count the calls per user request at each one.
type Topology struct {
	Name    string   `json:"name"`
	Tiers   []Tier   `json:"tiers"`   // as the file lists them, each with the node it calls
	Entries []string `json:"entries"` // the tiers the load goes to, round robin by request id (Record.Tier)
	// Layers are the nodes a user request reaches, by their height above the backend (the
	// number of hops to it), highest first: the entry tiers' layer first, [BackendNode] last.
	Layers     [][]string        `json:"layers"`
	BackendEnv map[string]string `json:"backend_env,omitempty"` // backend-service's variables from the topology
}

// Tier is one client-service tier of a Topology.
type Tier struct {
	Name  string            `json:"name"`          // its TIER: every record it writes carries it (Event.Tier)
	Calls string            `json:"calls"`         // the tier it calls, or BackendNode
	Env   map[string]string `json:"env,omitempty"` // its own variables, over the run's client_env
}

// Entry is the first entry tier: the one whose breaker the status line shows and whose breaker
// timeline the report draws; "" without a topology.
func (t *Topology) Entry() string {
	if t == nil || len(t.Entries) == 0 {
		return ""
	}
	return t.Entries[0]
}

// Callers lists the tiers that call node, in the file's order.
func (t *Topology) Callers(node string) []string {
	var out []string
	for _, tr := range t.Tiers {
		if tr.Calls == node {
			out = append(out, tr.Name)
		}
	}
	return out
}
