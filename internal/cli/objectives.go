package cli

import (
	"fmt"
	"maps"
	"strconv"
	"strings"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/experiment"
	"chaoslab/internal/report"
)

// objectiveFlag collects --objective NAME=BOUND.
type objectiveFlag map[string]any

func (o objectiveFlag) String() string { return "" }
func (o objectiveFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want NAME=BOUND, e.g. --objective p99_while_open_max_ms=20, got %q", s)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return fmt.Errorf("--objective %s: %q is not a number", k, v)
	}
	o[k] = f
	return nil
}

// objectivesFor returns the objectives a run of exp is judged against: the experiment's own
// (its `chaoslab` extension's "objectives"), overridden by --objective. A bad one is a usage
// error naming it.
func objectivesFor(exp *experiment.Experiment, flags objectiveFlag) (map[string]float64, error) {
	raw := map[string]any{}
	if ext := exp.Extension("chaoslab"); ext != nil {
		if v, ok := ext.Get("objectives"); ok {
			o, ok := v.(*experiment.Object)
			if !ok {
				return nil, cmdutil.Usagef("extensions[chaoslab].objectives must be an object of NAME: BOUND")
			}
			for _, k := range o.Keys() {
				raw[k], _ = o.Get(k)
			}
			if _, err := report.ParseObjectives(raw); err != nil {
				return nil, cmdutil.Usagef("the experiment's extensions[chaoslab].objectives: %v", err)
			}
		}
	}
	if _, err := report.ParseObjectives(flags); err != nil {
		return nil, cmdutil.Usagef("--objective: %v", err)
	}
	maps.Copy(raw, flags)
	out, err := report.ParseObjectives(raw)
	if err != nil {
		return nil, cmdutil.Usagef("%v", err)
	}
	return out, nil
}

// objectivesHelp lists every objective for --help.
func objectivesHelp() string {
	var b strings.Builder
	for _, n := range report.ObjectiveNames() {
		b.WriteString("  " + report.ObjectiveDoc(n) + "\n")
	}
	return b.String()
}
