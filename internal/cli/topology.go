package cli

import (
	"strings"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/experiment"
	"chaoslab/internal/topology"
)

// topologyHelp is what --help says of --topology, for run and up alike.
var topologyHelp = "start a call graph of client-service tiers instead of one client: a YAML or JSON FILE, or a built-in NAME (" + strings.Join(topology.Names(), ", ") + "); --stack local only"

// topologyFor is the topology a run starts: --topology (flag), else the experiment's
// extensions[chaoslab].topology, else none (nil). --stack none starts nothing, so it ignores the
// experiment's (as chaos run does) and refuses the flag; netns and k8s refuse either.
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
	case "local":
	case "none":
		return nil, cmdutil.Usagef("%s %s: --stack none starts nothing (it runs the experiment as chaos run does); a topology runs on --stack local", from, ref)
	default:
		return nil, cmdutil.Usagef("%s %s: --stack %s starts today's two services only; a topology runs on --stack local", from, ref, stackKind)
	}
	return topology.Load(ref)
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
