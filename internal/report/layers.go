package report

import (
	"fmt"
	"strings"

	"chaoslab/internal/results"
)

// LayerStats is one layer of a run's topology (results.Topology.Layers): the calls that
// arrived at its nodes per user request, per phase. A layer's count for a user request is
// exact, never estimated: 1 at the entry tier the load sent it to, plus the attempt records
// carrying its id of every tier that calls one of the layer's nodes.
type LayerStats struct {
	Name    string       `json:"name"`    // its nodes, joined by ", "
	Nodes   []string     `json:"nodes"`   // tiers, or results.BackendNode
	Callers []string     `json:"callers"` // the tiers whose attempt records are its calls (the load's requests count at the entries)
	Phases  []LayerPhase `json:"phases"`  // before, during, after: always three
}

// LayerPhase is a layer's calls for the user requests of one phase (by scheduled arrival).
type LayerPhase struct {
	Name     string `json:"name"`
	Requests int    `json:"requests"` // user requests of the phase the load sent (dropped ones made no call)
	Calls    int    `json:"calls"`    // the calls those requests made arrive at the layer
}

// PerRequest is Calls / Requests; ok is false without requests.
func (p LayerPhase) PerRequest() (v float64, ok bool) {
	if p.Requests == 0 {
		return 0, false
	}
	return float64(p.Calls) / float64(p.Requests), true
}

// Cell formats the phase for a table: "6.00 (120/20)", calls per user request, then the calls
// and the user requests; n/a without requests.
func (p LayerPhase) Cell() string {
	v, ok := p.PerRequest()
	if !ok {
		return NA
	}
	return fmt.Sprintf("%.2f (%d/%d)", v, p.Calls, p.Requests)
}

// entryView keeps the events the run's other figures are made of: with a topology, the entry
// tiers' records (the breaker's of the first entry only, so the timeline is one breaker's) and
// every event without a tier (faults, phases, activities); without one, every event.
func entryView(events []results.Event, topo *results.Topology) []results.Event {
	if topo == nil {
		return events
	}
	entry := map[string]bool{}
	for _, e := range topo.Entries {
		entry[e] = true
	}
	var out []results.Event
	for _, e := range events {
		if e.Tier == "" || (entry[e.Tier] && (e.Kind != results.KindBreaker || e.Tier == topo.Entry())) {
			out = append(out, e)
		}
	}
	return out
}

// layers fills Layers from every event of the run (all tiers'), joined to the load's requests
// by request id; nothing without a topology.
func (a *Analysis) layers(all []results.Event) {
	topo := a.Run.Topology
	if topo == nil {
		return
	}
	calls := map[string]map[uint64]int{} // caller tier -> request id -> its attempt records
	for _, e := range all {
		if e.Kind == results.KindAttempt && e.RequestID != 0 && e.Tier != "" {
			if calls[e.Tier] == nil {
				calls[e.Tier] = map[uint64]int{}
			}
			calls[e.Tier][e.RequestID]++
		}
	}
	for _, nodes := range topo.Layers {
		l := LayerStats{Name: strings.Join(nodes, ", "), Nodes: nodes, Callers: []string{}}
		for _, n := range nodes {
			l.Callers = append(l.Callers, topo.Callers(n)...)
		}
		for _, name := range phaseNames() {
			l.Phases = append(l.Phases, LayerPhase{Name: name})
		}
		for _, r := range a.Records {
			if !r.Answered() || r.ID == 0 {
				continue
			}
			p := &l.Phases[a.phaseOf(r.Start)]
			p.Requests++
			for _, n := range nodes {
				if n == r.Tier {
					p.Calls++ // the load's call
				}
			}
			for _, c := range l.Callers {
				p.Calls += calls[c][r.ID]
			}
		}
		a.Layers = append(a.Layers, l)
	}
}

// layerDefinition is the definition a report with layers adds to the others.
const layerDefinition = "Calls per user request, by layer (a run with a topology): the layers are the topology's nodes by their number of hops to the backend, the entry tiers first, the backend last. A layer's count for a user request is exact: 1 at the entry tier the load sent it to, plus every attempt record carrying the request's id (X-Request-Id, forwarded on every hop) written by a tier that calls the layer; a cell is calls per user request (calls / user requests sent) for the requests of the phase, by scheduled arrival. With a topology the other figures (breaker, retries, fallbacks, backend calls, attempts per request) are the entry tiers' records; the breaker timeline is the first entry's."

// topologyLine describes a run's topology for the settings: "chain-3: edge -> mid -> client -> backend".
func topologyLine(t *results.Topology) string {
	layers := make([]string, len(t.Layers))
	for i, l := range t.Layers {
		layers[i] = strings.Join(l, ", ")
	}
	return t.Name + ": " + strings.Join(layers, " -> ")
}
