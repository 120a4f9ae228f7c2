package topology

import (
	"slices"

	"chaoslab/internal/results"
)

// Entries lists the tiers no tier calls, in the file's order: the load goes to them.
func (t *Topology) Entries() []string {
	called := map[string]bool{}
	for _, tr := range t.Tiers {
		called[tr.Calls] = true
	}
	var out []string
	for _, tr := range t.Tiers {
		if !called[tr.Name] {
			out = append(out, tr.Name)
		}
	}
	return out
}

// height is the number of hops from node to the backend (0 for the backend itself). The
// topology must be valid: every tier reaches the backend.
func (t *Topology) height(node string) int {
	h := 0
	for node != results.BackendNode {
		tr, _ := t.Tier(node)
		node = tr.Calls
		h++
	}
	return h
}

// Layers groups the nodes by their height above the backend, highest first: the top layer
// holds entries, the last is [results.BackendNode]. A user request's calls at a layer are the
// calls arriving at its nodes.
func (t *Topology) Layers() [][]string {
	top := 0
	for _, tr := range t.Tiers {
		top = max(top, t.height(tr.Name))
	}
	layers := make([][]string, top+1)
	for _, tr := range t.Tiers {
		i := top - t.height(tr.Name)
		layers[i] = append(layers[i], tr.Name)
	}
	layers[top] = []string{results.BackendNode} // none is empty: a tier h hops up calls one h-1 hops up
	return layers
}

// BottomUp lists the tiers so that each comes after the tier it calls: the order they start
// in, each pointed at the one below, already listening. Ties keep the file's order.
func (t *Topology) BottomUp() []Tier {
	out := slices.Clone(t.Tiers)
	slices.SortStableFunc(out, func(a, b Tier) int { return t.height(a.Name) - t.height(b.Name) })
	return out
}
