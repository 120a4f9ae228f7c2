package stack_test

import (
	"strings"
	"testing"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/stack"
	"chaoslab/internal/topology"
)

// A fault targets the backend on every stack, a tier only under a topology that has it; any
// other target is a usage error saying what the stack can target. --stack none starts nothing,
// so it takes any target.
func TestCheckFaultTarget(t *testing.T) {
	chain, err := topology.Load("chain-3")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		target any
		topo   *topology.Topology
		kind   string
		want   string // "" = accepted
	}{
		{"none named", nil, nil, "netns", ""},
		{"backend", "backend", nil, "k8s", ""},
		{"the backend's process", "backend-service", nil, "netns", ""},
		{"a tier of the topology", "mid", chain, "local", ""},
		{"the entry tier (a process fault)", "edge", chain, "local", ""},
		{"the backend under a topology", "backend", chain, "local", ""},
		{"stack none", "mid", nil, "none", ""},
		{"a tier without a topology", "mid", nil, "local",
			`fault_target "mid": without a topology a fault targets the backend only; a tier is a target under a topology (e.g. --topology chain-3 --var fault_target=mid)`},
		{"netns", "mid", nil, "netns",
			`fault_target "mid": --stack netns runs today's two services, so a fault targets the backend only (fault_target=backend); a tier of a topology is a target on --stack local`},
		{"k8s", "client-service", nil, "k8s",
			`fault_target "client-service": --stack k8s runs today's two services, so a fault targets the backend only (fault_target=backend); a tier of a topology is a target on --stack local`},
		{"not a node of the topology", "nope", chain, "local", `fault_target "nope": topology built-in chain-3 has no such node: use one of backend, edge, mid, client`},
		{"not a string", 3, chain, "local", `fault_target "3": topology built-in chain-3 has no such node`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := stack.CheckFaultTarget(tt.target, tt.topo, tt.kind)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("err = %v, want accepted", err)
			case tt.want != "" && (err == nil || cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.HasPrefix(err.Error(), tt.want)):
				t.Errorf("err = %v, want a usage error starting %q", err, tt.want)
			}
		})
	}
}
