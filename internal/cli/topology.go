package cli

import (
	"strings"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/experiment"
	"chaoslab/internal/k8s"
	"chaoslab/internal/results"
	"chaoslab/internal/topology"
)

// topologyHelp is what --help says of --topology, for run and up alike.
var topologyHelp = "start a call graph of client-service tiers instead of one client: a YAML or JSON FILE, or a built-in NAME (" + strings.Join(topology.Names(), ", ") + "); --stack local (run: also k8s, on a namespace that runs it, e.g. deploy/overlays/chain-3)"

// topologyFor is the topology a run starts: --topology (flag), else the experiment's
// extensions[chaoslab].topology, else none (nil). --stack none starts nothing, so it ignores the
// experiment's (as chaos run does) and refuses the flag; netns refuses either; k8s runs the one
// its namespace runs (the stack's preflight checks that it does).
func topologyFor(exp *experiment.Experiment, flag, stackKind string) (*topology.Topology, error) {
	ref, from := flag, "--topology"
	if ref == "" {
		var err error
		if ref, err = experimentTopology(exp); err != nil || ref == "" || stackKind == "none" {
			return nil, err
		}
		from = "the experiment's extensions[chaoslab].topology"
	}
	switch stackKind {
	case "local", k8sStack:
	case "none":
		return nil, cmdutil.Usagef("%s %s: --stack none starts nothing (it runs the experiment as chaos run does); a topology runs on --stack local", from, ref)
	default:
		return nil, cmdutil.Usagef("%s %s: --stack %s starts today's two services only; a topology runs on --stack local or k8s", from, ref, stackKind)
	}
	return topology.Load(ref)
}

// checkK8sTierFault refuses, on --stack k8s with a topology, --var fault_target naming a tier:
// the fault sidecar fronts the backend only (the local stack's way to fault a tier, a Toxiproxy
// proxy per hop, README "Call graphs").
func checkK8sTierFault(f *runFlags) error {
	if f.topo == nil {
		return nil
	}
	if target, ok := f.vars["fault_target"].(string); ok && target != results.BackendNode {
		return cmdutil.Usagef("--var fault_target=%s: %s", target, k8s.TierFaultRefusal(target))
	}
	return nil
}

// experimentTopology reads the topology an experiment names in its chaoslab extension ("" when
// it names none).
func experimentTopology(exp *experiment.Experiment) (string, error) {
	ext := exp.Extension("chaoslab")
	if ext == nil {
		return "", nil
	}
	v, ok := ext.Get("topology")
	if !ok {
		return "", nil
	}
	ref, ok := v.(string)
	if !ok || ref == "" {
		return "", cmdutil.Usagef("extensions[chaoslab].topology must be a topology's file or built-in name (%s), got %v", strings.Join(topology.Names(), ", "), v)
	}
	return ref, nil
}
