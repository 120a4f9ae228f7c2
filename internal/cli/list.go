package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"chaoslab/chaos"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/stack"
)

const listHelp = `
Usage: chaoslab list

Prints the catalogue of failures: the experiments built into chaoslab (kept in chaos/local/, and
for Kubernetes in chaos/k8s/), each with its fault, its default parameters and the stacks that
support it, and, for a stack that does not, why. Run one with ` + "`chaoslab run NAME`" + `, all of them with ` + "`chaoslab run --suite`" + `.
Parameters are the experiment's configuration variables: override them with --var, e.g.
  chaoslab run http-errors --var error_percentage:int=50 --var fault_duration:int=10
`

// k8sListNote says where an entry's k8s stack is.
const k8sListNote = `
k8s: the entry's Kubernetes experiment is chaos/k8s/NAME-experiment.json, for the real chaos run
(chaostoolkit-kubernetes) against deploy/k8s: its faults go through the fault-proxy sidecar beside
the backend, its description names the port-forwards. chaoslab run --stack k8s runs
chaos/network-partition-experiment.json (the default) and chaos/pod-kill-experiment.json.
`

func listCmd(ctx context.Context, e *env, args []string) error {
	fs := newFlags("list", listHelp, e.stdout)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return cmdutil.Usagef("list takes no arguments, got %v", pos)
	}
	entries, err := chaos.Catalogue()
	if err != nil {
		return fmt.Errorf("the built-in catalogue: %w", err)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFAULT\tDEFAULTS\tSTACKS")
	for _, en := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", en.Name, en.Fault, en.Defaults, strings.Join(en.Stacks, ", "))
	}
	tw.Flush()
	if slices.ContainsFunc(entries, func(en chaos.Entry) bool { ok, _ := en.Supports(k8sStack); return ok }) {
		fmt.Fprint(e.stdout, k8sListNote)
	}
	for _, kind := range stack.KindNames() {
		var missing []string
		for _, en := range entries {
			if ok, why := en.Supports(kind); !ok {
				missing = append(missing, fmt.Sprintf("  %s: %s", en.Name, why))
			}
		}
		if len(missing) > 0 {
			fmt.Fprintf(e.stdout, "\nNot available with --stack %s:\n%s\n", kind, strings.Join(missing, "\n"))
		}
	}
	return nil
}
