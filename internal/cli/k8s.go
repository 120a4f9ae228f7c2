package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"chaoslab/chaos"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/experiment"
	"chaoslab/internal/k8s"
	"chaoslab/internal/report"
)

// k8sStack is the --stack value of a run on a Kubernetes cluster (deploy/k8s applied).
const k8sStack = "k8s"

// k8sFlags choose the cluster, as kubectl's flags do.
type k8sFlags struct {
	kubeconfig, context, namespace string
	// topology is the name of the topology the run finds on the cluster (checkK8sFlags sets
	// it): without --namespace and $CHAOSLAB_NAMESPACE, a built-in's overlay's namespace is the
	// default (chaoslab-chain3 for chain-3), where deploy/overlays puts it.
	topology string
}

func addK8sFlags(fs *flag.FlagSet, f *k8sFlags) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "--stack k8s: the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config, as kubectl)")
	fs.StringVar(&f.context, "context", "", "--stack k8s: the kubeconfig context (default: its current context)")
	fs.StringVar(&f.namespace, "namespace", "", "--stack k8s: where deploy/k8s is applied (default: $"+k8s.EnvNamespace+", else "+k8s.DefaultNamespace+", as the experiments)")
}

func (f k8sFlags) cluster(getenv func(string) string) (*k8s.Cluster, error) {
	return k8s.Connect(k8s.ClusterConfig{Kubeconfig: f.kubeconfig, Context: f.context, Namespace: f.namespaceFor(getenv)})
}

// namespaceFor is the namespace of the run: --namespace, else $CHAOSLAB_NAMESPACE, else the
// namespace of the overlay that deploys the run's built-in topology, else "" (k8s.Connect's
// default, where deploy/k8s is applied).
func (f k8sFlags) namespaceFor(getenv func(string) string) string {
	if f.namespace != "" {
		return f.namespace
	}
	if ns := getenv(k8s.EnvNamespace); ns != "" {
		return ns
	}
	if o, ok := k8s.Overlays()[f.topology]; ok {
		return o.Namespace
	}
	return ""
}

// k8sEntryStack is the plug of one catalogue entry of a suite on Kubernetes: the entry's own
// topology, found in its own namespace (namespaceFor), as a run of that entry alone would.
func k8sEntryStack(e *env, f runFlags, exp *experiment.Experiment) (*k8s.Stack, error) {
	topo, err := topologyFor(exp, f.topology, f.stack)
	if err != nil {
		return nil, err
	}
	f.k8s.topology = ""
	if topo != nil {
		f.k8s.topology = topo.Name
	}
	c, err := f.k8s.cluster(e.getenv)
	if err != nil {
		return nil, err
	}
	return &k8s.Stack{Cluster: c, Stdout: e.stdout, Topology: topo}, nil
}

// loadK8sPartition is the Kubernetes network partition, run when no experiment is named.
func loadK8sPartition() (*experiment.Experiment, string, error) {
	exp, err := experiment.Parse([]byte(chaos.K8sPartitionExperiment), "json")
	if err != nil {
		return nil, "", fmt.Errorf("the built-in Kubernetes experiment: %w", err)
	}
	return exp, "built-in (" + chaos.K8sPartitionExperimentPath + ")", nil
}

// checkK8sFlags rejects what --stack k8s does not do, and an experiment it cannot run, before
// anything touches the cluster.
func checkK8sFlags(f *runFlags, exp *experiment.Experiment, e *env) error {
	switch {
	case f.ui && (f.compare || f.suite):
		return cmdutil.Usagef("--ui shows one run on a stack: drop --compare and --suite")
	case len(f.env) > 0:
		return cmdutil.Usagef("--env does not apply to --stack k8s: the client's variables come from the ConfigMap chaoslab-config (kubectl -n NAMESPACE edit configmap chaoslab-config, then a rollout restart); --compare sets RESILIENCE there itself")
	}
	if err := checkLabFlags(f, 1000, " on Kubernetes (the load goes through the API server)"); err != nil {
		return err
	}
	if err := checkK8sTierFault(f); err != nil {
		return err
	}
	f.k8s.topology = ""
	if f.topo != nil {
		f.k8s.topology = f.topo.Name
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
