package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"chaoslab/chaos"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/lab"
	"chaoslab/internal/netns"
)

const upHelp = `
Usage: chaoslab up [flags]

Starts the local stack and keeps it up until Ctrl-C: backend-service and client-service as child
processes and, between them, an embedded Toxiproxy whose REST API is Toxiproxy's own (proxy
"backend"), so any Toxiproxy client and the real Chaos Toolkit can drive it. Prints the URLs and
the exact ` + "`chaos run`" + ` command line for chaos/local/network-partition-experiment.json.
Ctrl-C removes every fault, stops every child and exits 0. A service that dies is reported and
chaoslab exits 1.

Pipeline variables for client-service come from the environment or --env KEY=VALUE.
`

func upCmd(ctx context.Context, e *env, args []string) error {
	envs := envFlag{}
	fs := newFlags("up", upHelp, e.stdout)
	stack := fs.String("stack", "local", "local | netns (root: each service in its own network namespace)")
	clientAddr := fs.String("client-addr", "127.0.0.1:8080", "client-service listen address (local stack)")
	backendAddr := fs.String("backend-addr", "127.0.0.1:8081", "backend-service listen address (local stack)")
	apiAddr := fs.String("toxiproxy-addr", "127.0.0.1:8474", "Toxiproxy REST API address")
	logs := fs.String("logs", "", "folder for the services' logs (default: a new temporary folder)")
	fs.Var(envs, "env", "set a pipeline variable for client-service: KEY=VALUE (repeatable)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return cmdutil.Usagef("up takes no arguments, got %v", pos)
	}
	if *stack != "local" && *stack != "netns" {
		return cmdutil.Usagef("--stack %q: use local or netns", *stack)
	}
	if err := lab.CheckClientEnv(envs); err != nil {
		return err
	}
	if *stack == "netns" {
		if err := netns.Preflight(ctx); err != nil {
			return err
		}
	}
	dir := *logs
	if dir == "" {
		if dir, err = os.MkdirTemp("", "chaoslab-up-"); err != nil {
			return fmt.Errorf("create a folder for the logs: %w", err)
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create --logs folder: %w", err)
	}
	s, err := lab.StartStack(ctx, lab.StackConfig{Kind: *stack, Dir: dir, ClientAddr: *clientAddr, BackendAddr: *backendAddr, FaultAPI: *apiAddr, ClientEnv: envs,
		Notify: func(m string) { fmt.Fprintln(e.stdout, m) }})
	if err != nil {
		return fmt.Errorf("start the stack: %w", err)
	}
	defer s.Close(context.WithoutCancel(ctx))
	printUp(e, s, dir)
	select {
	case <-ctx.Done():
		fmt.Fprintln(e.stdout, "\nstopping: removing faults, stopping services")
		if err := s.Close(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("cleanup: %w", err)
		}
		return nil
	case c := <-s.Died():
		return fmt.Errorf("%s exited (see %s): %w", c, filepath.Join(dir, "*.log"), cmdutil.ErrFailed)
	}
}

func printUp(e *env, s *lab.Stack, dir string) {
	w := e.stdout
	fmt.Fprintf(w, "chaoslab stack is up (%s)\n", s.Kind)
	fmt.Fprintf(w, "  client-service   %s   (GET /api/data, /api/resilience, /api/diagnostics/backend, /metrics)\n", s.ClientURL)
	fmt.Fprintf(w, "  backend-service  %s\n", s.BackendURL)
	fmt.Fprintf(w, "  Toxiproxy API    %s   (proxy %q)\n", s.FaultURL, "backend")
	fmt.Fprintf(w, "  logs             %s\n\n", dir)
	fmt.Fprintln(w, "Run the experiment with the real Chaos Toolkit (pip install chaostoolkit):")
	fmt.Fprintf(w, "  %s=%s %s=%s %s=%s chaos run %s\n\n", lab.EnvClientURL, s.ClientURL, lab.EnvBackendURL, s.BackendURL,
		lab.EnvToxiproxyURL, s.FaultURL, chaos.LocalPartitionExperimentPath)
	fmt.Fprintln(w, "Press Ctrl-C to stop.")
}
