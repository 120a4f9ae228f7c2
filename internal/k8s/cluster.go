package k8s

import (
	"context"
	"errors"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"chaoslab/internal/results"
)

// DefaultNamespace is where deploy/k8s puts everything; a run uses it unless told another.
const DefaultNamespace = "chaoslab"

// Names of the objects deploy/k8s creates that a run relies on.
const (
	ClientDeployment  = results.ClientService
	BackendDeployment = results.BackendService
	ClientServiceName = results.ClientService
	BackendSvcName    = results.BackendService
	LoadDeployment    = "chaoslab-load"
	ConfigMapName     = "chaoslab-config"
	ServicePort       = "http"
)

// ClusterConfig says which cluster and namespace to use. Kubeconfig and Context default as
// kubectl's: Kubeconfig "" = the KUBECONFIG variable, else ~/.kube/config; Context "" = its
// current context. Namespace "" = DefaultNamespace, where deploy/k8s puts everything (not the
// context's namespace, which is usually "default": the experiments and observe-system.sh also
// default to chaoslab).
type ClusterConfig struct {
	Kubeconfig, Context, Namespace string
}

// Cluster is a connection to one cluster and namespace.
type Cluster struct {
	Rest      *rest.Config
	Client    kubernetes.Interface
	Namespace string
	Context   string // the kubeconfig context in use
	Host      string
}

// Connect loads the kubeconfig and makes a client. It does not talk to the cluster yet.
func Connect(cfg ClusterConfig) (*Cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if cfg.Kubeconfig != "" {
		rules.ExplicitPath = cfg.Kubeconfig
	}
	overrides := &clientcmd.ConfigOverrides{CurrentContext: cfg.Context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, fmt.Errorf("read the kubeconfig: %w", err)
	}
	ctxName := cfg.Context
	if ctxName == "" {
		ctxName = raw.CurrentContext
	}
	rc, err := cc.ClientConfig()
	if err != nil {
		if clientcmd.IsEmptyConfig(err) {
			return nil, fmt.Errorf("no kubeconfig found (KUBECONFIG, ~/.kube/config): point --kubeconfig at one, or start a cluster (../shared/k8s-rig/k8s-rig.sh up, kind create cluster): %w", err)
		}
		return nil, fmt.Errorf("kubeconfig context %q: %w", ctxName, err)
	}
	rc.QPS, rc.Burst = 50, 100
	ns := cfg.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("make a Kubernetes client for context %q: %w", ctxName, err)
	}
	return &Cluster{Rest: rc, Client: cs, Namespace: ns, Context: ctxName, Host: rc.Host}, nil
}

// permission is one thing a run must be allowed to do, and why.
type permission struct {
	verb, group, resource, subresource, why string
}

// permissions are what a run does in the namespace: the chaosk8s activities (NetworkPolicies,
// pods), reading the Deployments, the services through the API server's proxy, the client's
// logs, scaling the load generator down during the run, and the ConfigMap for --compare.
func permissions() []permission {
	return []permission{
		{"create", "networking.k8s.io", "networkpolicies", "", "create_network_policy"},
		{"delete", "networking.k8s.io", "networkpolicies", "", "remove_network_policy and the cleanup"},
		{"list", "networking.k8s.io", "networkpolicies", "", "finding leftovers of an earlier run"},
		{"list", "", "pods", "", "pods_in_phase and the pod watch"},
		{"watch", "", "pods", "", "recording pod phases and restarts"},
		{"delete", "", "pods", "", "terminate_pods"},
		{"get", "", "pods", "log", "the client's breaker, retry and fallback events"},
		{"get", "", "services", "proxy", "reaching the services through the API server"},
		{"list", "apps", "deployments", "", "the Deployment probes"},
		{"watch", "apps", "deployments", "", "deployment_fully_available"},
		{"patch", "apps", "deployments", "", "pausing chaoslab-load during the run, and --compare's rollout"},
		{"get", "", "configmaps", "", "reading the client's pipeline variables (and --compare's RESILIENCE)"},
	}
}

// Preflight checks what a run needs, before anything is changed: the cluster answers, the
// namespace exists, the Deployments client-service and backend-service are available, the
// Service client-service exists, and the user may do what the run does (SelfSubjectAccessReview).
// Every problem is reported at once, each with what to do.
func (c *Cluster) Preflight(ctx context.Context) error {
	if _, err := c.Client.Discovery().ServerVersion(); err != nil {
		return fmt.Errorf("no Kubernetes cluster reachable at %s (context %q): %w; start it or choose another with --kubeconfig / --context (../shared/k8s-rig/k8s-rig.sh up for the test rig)", c.Host, c.Context, err)
	}
	if _, err := c.Client.CoreV1().Namespaces().Get(ctx, c.Namespace, metav1.GetOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("namespace %q not found in context %q: deploy first (kubectl apply -k deploy/k8s) or pass --namespace", c.Namespace, c.Context)
		}
		if !apierrors.IsForbidden(err) { // may not read namespaces: the checks below say more
			return fmt.Errorf("read namespace %q: %w", c.Namespace, err)
		}
	}
	var problems []string
	for _, name := range []string{BackendDeployment, ClientDeployment} {
		d, err := c.Client.AppsV1().Deployments(c.Namespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			problems = append(problems, fmt.Sprintf("Deployment %s not found in namespace %s: kubectl apply -k deploy/k8s", name, c.Namespace))
		case err != nil:
			problems = append(problems, fmt.Sprintf("read Deployment %s: %v", name, err))
		case d.Status.AvailableReplicas < specReplicas(d) || specReplicas(d) == 0:
			why := c.podTrouble(ctx, name)
			problems = append(problems, fmt.Sprintf("Deployment %s has %d of %d replicas available%s: kubectl -n %s get pods -l app=%s%s",
				name, d.Status.AvailableReplicas, specReplicas(d), troubleText(why), c.Namespace, name, troubleHint(why, c.Namespace)))
		}
	}
	if _, err := c.Client.CoreV1().Services(c.Namespace).Get(ctx, ClientServiceName, metav1.GetOptions{}); err != nil {
		problems = append(problems, fmt.Sprintf("Service %s in namespace %s: %v: kubectl apply -k deploy/k8s", ClientServiceName, c.Namespace, err))
	}
	for _, p := range permissions() {
		ok, err := c.can(ctx, p)
		if err != nil {
			problems = append(problems, fmt.Sprintf("cannot check permissions (SelfSubjectAccessReview): %v", err))
			break
		}
		if !ok {
			res := p.resource
			if p.group != "" {
				res += "." + p.group
			}
			if p.subresource != "" {
				res += "/" + p.subresource
			}
			problems = append(problems, fmt.Sprintf("not allowed to %s %s in namespace %s (needed for %s): ask for a Role that grants it; check with kubectl auth can-i %s %s -n %s",
				p.verb, res, c.Namespace, p.why, p.verb, res, c.Namespace))
		}
	}
	if len(problems) > 0 {
		return errors.New("the cluster is not ready for a run:\n  - " + strings.Join(problems, "\n  - "))
	}
	return nil
}

func (c *Cluster) can(ctx context.Context, p permission) (bool, error) {
	r, err := c.Client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: c.Namespace, Verb: p.verb, Group: p.group, Resource: p.resource, Subresource: p.subresource}},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return r.Status.Allowed, nil
}
