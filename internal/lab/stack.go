package lab

import (
	"context"
	"log/slog"

	"chaoslab/internal/experiment"
	"chaoslab/internal/results"
	"chaoslab/internal/stack"
)

// Stack is where a run happens: a plug into the one runner (Run). local and netns (package
// stack, through Processes), k8s (package k8s) and the fakes of the tests implement it; the
// runner owns everything else (the status line, the phases, the load, the experiment, the
// snapshots' moments, the results folder, the verdict), so nothing of it is written twice.
type Stack interface {
	// Name is the stack as --stack spells it; it is recorded in run.json.
	Name() string
	// Prepare checks the stack's prerequisites and removes what killed runs left, before the
	// results folder is made; it returns the client's variables in force for this run (clientEnv
	// is what the run asks for: the flags' --env, a compare's RESILIENCE). An error means the run
	// cannot start.
	Prepare(ctx context.Context, clientEnv map[string]string) (map[string]string, error)
	// Start brings up the services (or attaches to them) and everything a run needs of the
	// stack. On error, what it started is stopped. Every line it says goes through env.Say.
	Start(ctx context.Context, env StartEnv) (Running, error)
}

// StartEnv is what a stack gets from the runner when it starts.
type StartEnv struct {
	Dir       string            // the results folder: the services' logs go here
	ClientEnv map[string]string // the client's variables, as Prepare returned them
	Events    *results.EventLog // the typed event stream: the stack adds its faults, processes and log records
	Logger    *slog.Logger
	Say       func(msg string)                 // a line for the user (the status line stays intact)
	Problem   func(format string, args ...any) // something that fails the run
	// ServiceEnv gives more variables for each service by name (where to send its spans); nil
	// = none. A stack that starts no process may ignore it (the runner says so: untraced).
	ServiceEnv func(service string) map[string]string
}

// Running is a started stack.
type Running interface {
	// Endpoints are the addresses the load and the experiment see.
	Endpoints() Endpoints
	// Native runs the experiment's python providers the stack runs itself (nil: none).
	Native() experiment.Native
	// Died delivers each service that exited without being asked to (nil: never).
	Died() <-chan Exit
	// Breaker is the client's breaker state as its records last said ("" before any, "off"
	// without the patterns).
	Breaker() string
	// FaultLeft says whether anything of a fault remains after the rollbacks, and what.
	FaultLeft() (bool, string)
	// Snapshot observes both services, like one run of the guide's observe-system.sh.
	Snapshot(ctx context.Context, moment string) results.Snapshot
	// Close removes every fault and everything the stack made, and stops what it started; the
	// problems it finds go to StartEnv.Problem before it returns. It is called once.
	Close(ctx context.Context) error
}

// Endpoints are a running stack's addresses, as the load and the experiment reach them.
type Endpoints struct {
	Client  string            // client-service's base URL (a topology's first entry tier's): the load targets Client + "/api/data"
	Entries []Entry           // a topology's entry tiers: the load is spread over them (EntryClient); nil = Client alone
	Backend string            // backend-service's base URL (not through the fault)
	Faults  string            // the fault API ("" when the stack has none)
	Env     map[string]string // more configuration keys the experiment reads (e.g. the namespace)
	Detail  string            // one line that says where they are, printed at start ("" = the URLs)
}

// env is the experiment's view of the endpoints: the configuration keys the catalogue reads.
func (e Endpoints) env() map[string]string {
	m := map[string]string{EnvClientURL: e.Client, EnvBackendURL: e.Backend}
	if e.Faults != "" {
		m[EnvToxiproxyURL] = e.Faults
	}
	for k, v := range e.Env {
		m[k] = v
	}
	return m
}

// Exit is a service that exited without being asked to.
type Exit = stack.Exit
