package lab

import (
	"context"
	"fmt"

	"chaoslab/internal/experiment"
	"chaoslab/internal/results"
	"chaoslab/internal/stack"
)

// Processes is the plug of the stacks whose services are child processes of chaoslab (package
// stack): local (loopback, an embedded Toxiproxy) and netns (network namespaces, iptables).
type Processes struct {
	Kind  string             // a stack.Kinds name
	Serve stack.ServeCommand // how to start a service (nil = this binary, `chaoslab serve`)
}

// Name is the kind's name.
func (p Processes) Name() string { return p.Kind }

// Prepare checks the client's variables; they are the run's (the flags' --env).
func (p Processes) Prepare(_ context.Context, clientEnv map[string]string) (map[string]string, error) {
	if _, ok := stack.Kinds()[p.Kind]; !ok {
		return nil, fmt.Errorf("unknown stack %q", p.Kind)
	}
	return clientEnv, nil
}

// Start starts the services, the fault path and the fault API.
func (p Processes) Start(ctx context.Context, env StartEnv) (Running, error) {
	st, err := stack.Start(ctx, stack.Config{Kind: p.Kind, Dir: env.Dir, ClientEnv: env.ClientEnv, Serve: p.Serve,
		Events: env.Events, Logger: env.Logger, Notify: env.Say})
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
	return Endpoints{Client: r.ClientURL, Backend: r.BackendURL, Faults: r.FaultURL}
}

func (r *processesRunning) Native() experiment.Native { return nil }

func (r *processesRunning) FaultLeft() (bool, string) { return r.FaultActive() }

func (r *processesRunning) Snapshot(ctx context.Context, moment string) results.Snapshot {
	return r.Stack.Snapshot(ctx, moment)
}
