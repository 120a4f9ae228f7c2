// Package cli is the chaoslab command line: one function per subcommand, each parsing its own
// flags and calling the packages that do the work. cmd/chaoslab's main only calls Run.
package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"chaoslab/internal/cmdutil"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// env is what every subcommand gets from the process.
type env struct {
	getenv         func(string) string
	stdout, stderr io.Writer
}

func commands() map[string]command {
	return map[string]command{
		"run":      {"run an experiment (a file or a catalogue name) against a fresh local stack under load, write results and a report", runCmd},
		"list":     {"print the catalogue of failures: name, fault, default parameters, stacks", listCmd},
		"up":       {"start the local stack (services + Toxiproxy) and keep it up until Ctrl-C", upCmd},
		"validate": {"check an experiment file like `chaos validate`", validateCmd},
		"report":   {"render report.md and report.html again from a results folder", reportCmd},
		"diff":     {"compare two results folders figure by figure; exit 1 when a figure got worse", diffCmd},
		"load":     {"send open-loop load to a URL and print what came back", loadCmd},
		"bench":    {"measure resilience profiles side by side (detection, recovery, false timeouts, amplification, throughput)", benchCmd},
		"soak":     {"keep the stack under load and rotating faults; fail if memory, goroutines or fds grow, or a request is lost", soakCmd},
		"recover":  {"undo what killed runs left on a cluster (--stack k8s): NetworkPolicies, a paused load, a changed RESILIENCE", recoverCmd},
		"serve":    {"run one service in the foreground: serve backend | serve client | serve fault-proxy (the Kubernetes sidecar)", serveCmd},
	}
}

var order = []string{"run", "list", "up", "validate", "report", "diff", "bench", "load", "soak", "recover", "serve"}

const intro = `chaoslab: chaos experiments for a client/backend pair with retries, a circuit breaker and
fallbacks, in the Chaos Toolkit format, with evidence of what happened.

Usage: chaoslab <command> [flags] [arguments]

Commands:
`

// Run is chaoslab's entry point.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	e := &env{getenv: getenv, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return cmdutil.Usagef("no command given: try `chaoslab run` (the local network-partition experiment)")
	}
	name := args[0]
	switch name {
	case "-h", "--help", "-help", "help":
		usage(stdout)
		return cmdutil.ErrHelp
	}
	cmd, ok := commands()[name]
	if !ok {
		return cmdutil.Usagef("unknown command %q: one of %s (chaoslab --help)", name, strings.Join(order, ", "))
	}
	return cmd.run(ctx, e, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprint(w, intro)
	cmds := commands()
	for _, n := range order {
		fmt.Fprintf(w, "  %-9s %s\n", n, cmds[n].summary)
	}
	fmt.Fprint(w, "\nEach command has --help. Exit status: 0 success, 1 the run failed, 2 bad usage or input.\n")
}
