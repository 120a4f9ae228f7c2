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
Usage: chaoslab list [--stack local|netns|k8s]

Prints the catalogue of failures: the experiments built into chaoslab (kept in chaos/local/, and
for Kubernetes in chaos/k8s/), each with its fault, its default parameters and the stacks that
support it, and, for a stack that does not, why. Run one with ` + "`chaoslab run NAME`" + `, all of them with ` + "`chaoslab run --suite`" + `.
Parameters are the experiment's configuration variables: override them with --var, e.g.
  chaoslab run http-errors --var error_percentage:int=50 --var fault_duration:int=10
`

// k8sListNote says where an entry's k8s stack is.
const k8sListNote = `
k8s: the entry's Kubernetes experiment is chaos/k8s/NAME-experiment.json: chaoslab run --stack k8s
NAME runs it natively against deploy/k8s, and the real chaos run (chaostoolkit-kubernetes) can too:
its faults go through the fault-proxy sidecar beside the backend, its description names the
port-forwards. chaoslab list --stack k8s lists the files.
`

func listCmd(ctx context.Context, e *env, args []string) error {
	fs := newFlags("list", listHelp, e.stdout)
	only := fs.String("stack", "", "list only what runs on this stack (local, netns, k8s), with the file each entry runs there")
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
	if *only != "" {
		return listStack(e, entries, *only)
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

// listStack prints what runs on one stack, the file each entry runs there, and what does not.
func listStack(e *env, entries []chaos.Entry, kind string) error {
	if _, ok := stack.Kinds()[kind]; !ok && kind != k8sStack {
		return cmdutil.Usagef("list --stack %q: use %s or %s", kind, strings.Join(stack.KindNames(), ", "), k8sStack)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFAULT\tDEFAULTS\tFILE")
	var missing []string
	for _, en := range entries {
		if ok, why := en.Supports(kind); !ok {
			missing = append(missing, fmt.Sprintf("  %s: %s", en.Name, why))
			continue
		}
		if kind == k8sStack {
			if k, ok := chaos.KubernetesEntry(en.Name); ok {
				en = k
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", en.Name, en.Fault, en.Defaults, en.Path)
	}
	tw.Flush()
	fmt.Fprintf(e.stdout, "\nchaoslab run --stack %s NAME runs one; chaoslab run --suite --stack %s runs them all.\n", kind, kind)
	if len(missing) > 0 {
		fmt.Fprintf(e.stdout, "\nNot available with --stack %s:\n%s\n", kind, strings.Join(missing, "\n"))
	}
	return nil
}
