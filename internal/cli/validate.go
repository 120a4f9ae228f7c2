package cli

import (
	"context"
	"fmt"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/experiment"
	"chaoslab/internal/k8s"
)

const validateHelp = `
Usage: chaoslab validate [flags] EXPERIMENT

Checks a Chaos Toolkit experiment like ` + "`chaos validate`" + `: structure, providers, tolerances,
pauses, configuration (every env key without a default must be set) and substitution. Every problem
is listed with the activity and the field it is in. Activities with a python provider (for example
chaostoolkit-kubernetes, module chaosk8s) are noted: those chaoslab runs natively with
--stack k8s say so, the others need the real Chaos Toolkit; chaosk8s modules, functions and
arguments are checked against what chaosk8s 0.39 provides.

Exit status: 0 valid, 2 invalid.
`

func validateCmd(ctx context.Context, e *env, args []string) error {
	vars := varsFlag{}
	fs := newFlags("validate", validateHelp, e.stdout)
	fs.Var(vars, "var", "override a configuration value: key[:type]=value (repeatable)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return cmdutil.Usagef("validate takes one experiment file (chaoslab validate --help)")
	}
	exp, _, err := loadExperiment(pos, "none")
	if err != nil {
		return err
	}
	notes, err := experiment.Validate(exp, experiment.Options{Vars: vars, LookupEnv: lookupEnv(e.getenv), Native: &k8s.Activities{}})
	for _, n := range notes {
		fmt.Fprintf(e.stdout, "note: %s\n", n)
	}
	if err != nil {
		return err
	}
	if _, err := objectivesFor(exp, nil); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s: valid (%q)\n", pos[0], exp.Title())
	return nil
}
