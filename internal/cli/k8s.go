package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"chaoslab/chaos"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/experiment"
	"chaoslab/internal/junit"
	"chaoslab/internal/k8s"
	"chaoslab/internal/report"
	"chaoslab/internal/results"
)

// k8sStack is the --stack value of a run on a Kubernetes cluster (deploy/k8s applied).
const k8sStack = "k8s"

// k8sFlags choose the cluster, as kubectl's flags do.
type k8sFlags struct {
	kubeconfig, context, namespace string
}

func addK8sFlags(fs *flag.FlagSet, f *k8sFlags) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "--stack k8s: the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, as kubectl)")
	fs.StringVar(&f.context, "context", "", "--stack k8s: the kubeconfig context (default: its current context)")
	fs.StringVar(&f.namespace, "namespace", "", "--stack k8s: where deploy/k8s is applied (default: $"+k8s.EnvNamespace+", else "+k8s.DefaultNamespace+", as the experiments)")
}

func (f k8sFlags) cluster(getenv func(string) string) (*k8s.Cluster, error) {
	ns := f.namespace
	if ns == "" {
		ns = getenv(k8s.EnvNamespace)
	}
	return k8s.Connect(k8s.ClusterConfig{Kubeconfig: f.kubeconfig, Context: f.context, Namespace: ns})
}

// loadK8sExperiment reads the named file, or the Kubernetes network partition when none is named.
func loadK8sExperiment(pos []string) (*experiment.Experiment, string, error) {
	switch len(pos) {
	case 0:
		exp, err := experiment.Parse([]byte(chaos.K8sPartitionExperiment), "json")
		if err != nil {
			return nil, "", fmt.Errorf("the built-in Kubernetes experiment: %w", err)
		}
		return exp, "built-in (" + chaos.K8sPartitionExperimentPath + ")", nil
	case 1:
		if _, ok := chaos.Lookup(pos[0]); ok && !strings.ContainsAny(pos[0], "./") {
			where := "no Kubernetes experiment"
			if k, ok := chaos.KubernetesEntry(pos[0]); ok {
				where = "its Kubernetes experiment " + k.Path + ", for the real chaos run (its description names the port-forwards)"
			}
			return nil, "", cmdutil.Usagef("%s: chaoslab run --stack k8s does not run catalogue names; it runs chaos/network-partition-experiment.json (the default) or chaos/pod-kill-experiment.json. %s has %s", pos[0], pos[0], where)
		}
		exp, name, err := loadExperiment(pos, k8sStack)
		return exp, name, err
	default:
		return nil, "", cmdutil.Usagef("one experiment at a time, got %d: %v", len(pos), pos)
	}
}

// checkK8sFlags rejects what --stack k8s does not do, and an experiment it cannot run, before
// anything touches the cluster.
func checkK8sFlags(f *runFlags, exp *experiment.Experiment, e *env) error {
	switch {
	case f.ui:
		return cmdutil.Usagef("--ui is not available with --stack k8s")
	case len(f.env) > 0:
		return cmdutil.Usagef("--env does not apply to --stack k8s: the client's variables come from the ConfigMap chaoslab-config (kubectl -n NAMESPACE edit configmap chaoslab-config, then a rollout restart); --compare sets RESILIENCE there itself")
	}
	if err := checkLabFlags(f, 1000, " on Kubernetes (the load goes through the API server)"); err != nil {
		return err
	}
	if _, err := experiment.Validate(exp, experiment.Options{Vars: f.vars, LookupEnv: lookupEnv(e.getenv)}); err != nil {
		return err
	}
	if err := experiment.CheckRunnableWith(exp, &k8s.Activities{}); err != nil {
		return err
	}
	_, err := objectivesFor(exp, f.objectives)
	return err
}

// runK8s is `chaoslab run --stack k8s`: the experiment against a cluster where deploy/k8s is
// applied, with load and evidence, into the same results folder and report as locally.
func runK8s(ctx context.Context, e *env, f runFlags, pos, args []string) error {
	exp, name, err := loadK8sExperiment(pos)
	if err != nil {
		return err
	}
	if err := checkK8sFlags(&f, exp, e); err != nil {
		return err
	}
	objectives, err := objectivesFor(exp, f.objectives)
	if err != nil {
		return err
	}
	if f.out == "" {
		f.out = filepath.Join("chaoslab-results", time.Now().UTC().Format("20060102T150405Z"))
	}
	c, err := f.k8s.cluster(e.getenv)
	if err != nil {
		return err
	}
	cfg := k8s.RunConfig{Cluster: c, Experiment: exp, ExperimentName: name, Vars: f.vars, RollbackStrategy: f.strategy,
		RPS: f.rps, LoadTimeout: f.loadTimeout, Warmup: f.warmup, Recovery: f.recovery, OutDir: f.out, Objectives: objectives,
		LookupEnv: lookupEnv(e.getenv), Stdout: e.stdout, Args: args}
	var runs []report.ProfileRun
	if f.compare {
		cmp, err := k8s.Compare(ctx, cfg, f.profiles)
		if cmp == nil {
			return err
		}
		runs = cmp.Runs
	} else {
		out, err := k8s.Run(ctx, cfg)
		if out == nil {
			return err
		}
		runs = []report.ProfileRun{{A: out.Analysis}}
	}
	if f.junit != "" {
		if jerr := junit.WriteFile(f.junit, "chaoslab run "+shortName(name), junit.FromRuns(shortName(name), runs)); jerr != nil {
			return jerr
		}
	}
	if f.journal != "" && !f.compare {
		if err := copyFile(filepath.Join(f.out, results.JournalFile), f.journal); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stdout, "\nresults: %s\nreport:  %s\n", f.out, filepath.Join(f.out, results.ReportHTML))
	switch {
	case inconclusive(runs):
		fmt.Fprintf(e.stderr, "chaoslab: INCONCLUSIVE: %s: the client never lost the backend, so the run proves nothing (check with chaos/README.md's manual Option 1, or use a cluster whose network plugin enforces policies)\n", k8s.InconclusiveWhy)
		return errors.Join(cmdutil.ErrFailed, cmdutil.ErrSilent)
	case !report.RunsPassed(runs):
		fmt.Fprintf(e.stderr, "chaoslab: FAILED: %s\n", report.RunsFailure(runs))
		return errors.Join(cmdutil.ErrFailed, cmdutil.ErrSilent)
	}
	return nil
}

// inconclusive says whether a run never proved its partition (k8s.Inconclusive is one of its
// verdict's reasons).
func inconclusive(runs []report.ProfileRun) bool {
	for _, r := range runs {
		if r.A == nil {
			continue
		}
		for _, why := range r.A.Verdict.Reasons {
			if strings.HasPrefix(why, k8s.Inconclusive) {
				return true
			}
		}
	}
	return false
}

const recoverHelp = `
Usage: chaoslab recover --stack k8s [--kubeconfig FILE] [--context NAME] [--namespace NS]

Removes what chaoslab runs left behind when they were killed (SIGKILL, a lost machine) before
they could clean up, and says what it removed: on Kubernetes, the NetworkPolicies chaoslab
created (label app.kubernetes.io/managed-by=chaoslab, each naming its run in chaoslab.io/run),
the load generator chaoslab-load a run scaled to 0 (scaled back), and the RESILIENCE a --compare
set in the ConfigMap chaoslab-config (restored, client-service restarted). Every
` + "`chaoslab run --stack k8s`" + ` does the same before it starts. Do not run it while a chaoslab run
is using the namespace.
`

// recoverCmd is `chaoslab recover`: the leftovers of killed runs, removed.
func recoverCmd(ctx context.Context, e *env, args []string) error {
	fs := newFlags("recover", recoverHelp, e.stdout)
	stackKind := fs.String("stack", k8sStack, "where the leftovers are: k8s")
	var kf k8sFlags
	addK8sFlags(fs, &kf)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return cmdutil.Usagef("recover takes no arguments, got %v", pos)
	}
	if *stackKind != k8sStack {
		return cmdutil.Usagef("recover --stack %q: only k8s leaves objects behind (the local stacks' children and faults end with chaoslab)", *stackKind)
	}
	c, err := kf.cluster(e.getenv)
	if err != nil {
		return err
	}
	removed, err := c.RemoveLeftovers(ctx)
	for _, what := range removed {
		fmt.Fprintf(e.stdout, "removed %s\n", what)
	}
	if err != nil {
		return fmt.Errorf("recover: %w", err)
	}
	if len(removed) == 0 {
		fmt.Fprintf(e.stdout, "nothing to remove in namespace %s (context %s)\n", c.Namespace, c.Context)
	}
	return nil
}
