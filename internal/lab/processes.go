package lab

import (
	"context"
	"fmt"

	"chaoslab/internal/experiment"
	"chaoslab/internal/results"
	"chaoslab/internal/stack"
	"chaoslab/internal/topology"
)

// Processes is the plug of the stacks whose services are child processes of chaoslab (package
// stack): local (loopback, an embedded Toxiproxy) and netns (network namespaces, iptables).
type Processes struct {
	Kind     string             // a stack.Kinds name
	Serve    stack.ServeCommand // how to start a service (nil = this binary, `chaoslab serve`)
	Topology *topology.Topology // a call graph of tiers instead of today's client (local only); nil = today's two services
}

// Name is the kind's name.
func (p Processes) Name() string { return p.Kind }

// Prepare checks the client's variables (and with a topology each tier's over them); they are
// the run's (the flags' --env).
func (p Processes) Prepare(_ context.Context, clientEnv map[string]string) (map[string]string, error) {
	if _, ok := stack.Kinds()[p.Kind]; !ok {
		return nil, fmt.Errorf("unknown stack %q", p.Kind)
	}
	if p.Topology != nil {
		if err := stack.CheckTopology(p.Topology, clientEnv, p.Kind); err != nil {
			return nil, err
		}
	}
	return clientEnv, nil
}

// Graph is the topology's record and its first entry tier's variables (Tiered).
func (p Processes) Graph(clientEnv map[string]string) (*results.Topology, map[string]string) {
	if p.Topology == nil {
		return nil, clientEnv
	}
	return p.Topology.Record(), p.Topology.Env(p.Topology.Entries()[0], clientEnv)
}

// Start starts the services, the fault path and the fault API.
func (p Processes) Start(ctx context.Context, env StartEnv) (Running, error) {
	st, err := stack.Start(ctx, stack.Config{Kind: p.Kind, Dir: env.Dir, ClientEnv: env.ClientEnv, Serve: p.Serve,
		Events: env.Events, Logger: env.Logger, Notify: env.Say, Topology: p.Topology, ServiceEnv: env.ServiceEnv})
	if err != nil {
		return nil, fmt.Errorf("start the %s stack: %w (logs in %s)", p.Kind, err, env.Dir)
	}
	return &processesRunning{Stack: st}, nil
}

// processesRunning is a started stack.Stack.
type processesRunning struct {
	*stack.Stack
}

func (r *processesRunning) Endpoints() Endpoints {
	ep := Endpoints{Client: r.ClientURL, Backend: r.BackendURL, Faults: r.FaultURL}
	for _, t := range r.Entries() {
		ep.Entries = append(ep.Entries, Entry{Tier: t.Name, URL: t.URL})
	}
	if len(r.Tiers) > 0 {
		ep.Detail = tiersDetail(r.Stack)
	}
	return ep
}

func (r *processesRunning) Native() experiment.Native { return nil }

func (r *processesRunning) FaultLeft() (bool, string) { return r.FaultActive() }

func (r *processesRunning) Snapshot(ctx context.Context, moment string) results.Snapshot {
	return r.Stack.Snapshot(ctx, moment)
}
