package stack

import (
	"fmt"
	"strings"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/fault"
	"chaoslab/internal/results"
	"chaoslab/internal/topology"
)

// FaultTarget is the configuration variable with which the catalogue's experiments name where
// their fault goes: the node whose hop gets the toxic, the partition or the HTTP fault, or the
// process a crash kills. Its default is the backend ("backend", or "backend-service" for a
// process); under a topology it may name a tier (--var fault_target=mid).
const FaultTarget = "fault_target"

// CheckFaultTarget checks the node a run's fault targets (an experiment's fault_target after
// --var, any value printed as text; nil when it has none) against what stack kind starts: the
// backend always, and with a topology (the local stack only) any of its tiers. Anything else is
// a usage error before anything starts, instead of a fault API that answers 404 and a run that
// goes on without its fault. --stack none starts nothing: the experiment's URLs say where its
// faults go, as under chaos run.
func CheckFaultTarget(target any, topo *topology.Topology, kind string) error {
	if target == nil || kind == "none" {
		return nil
	}
	name := fmt.Sprint(target)
	if name == fault.ProxyName || name == results.BackendService {
		return nil
	}
	if topo == nil {
		if kind == "local" {
			return cmdutil.Usagef("%s %q: without a topology a fault targets the backend only; a tier is a target under a topology (e.g. --topology chain-3 --var %s=mid)",
				FaultTarget, name, FaultTarget)
		}
		return cmdutil.Usagef("%s %q: --stack %s runs today's two services, so a fault targets the backend only (%s=backend); a tier of a topology is a target on --stack local",
			FaultTarget, name, kind, FaultTarget)
	}
	nodes := []string{fault.ProxyName}
	for _, tr := range topo.Tiers {
		if tr.Name == name {
			return nil
		}
		nodes = append(nodes, tr.Name)
	}
	return cmdutil.Usagef("%s %q: topology %s has no such node: use one of %s", FaultTarget, name, topo.Source, strings.Join(nodes, ", "))
}
