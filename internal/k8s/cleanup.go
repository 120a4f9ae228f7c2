package k8s

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"chaoslab/internal/wait"
)

// Annotations chaoslab puts on objects it changes but did not create, so that a later run or
// `chaoslab recover --stack k8s` can put them back after a run was killed.
const (
	PausedByAnnotation = "chaoslab.io/paused-by" // on chaoslab-load: the run that scaled it to 0
	ReplicasAnnotation = "chaoslab.io/replicas"  // on chaoslab-load: its replicas before
)

// NewRunID names a run: a label value (<= 63 characters) that sorts by time.
func NewRunID(now time.Time) string {
	b := make([]byte, 3)
	rand.Read(b)
	return "run-" + now.UTC().Format("20060102t150405z") + "-" + hex.EncodeToString(b)
}

// RunLabels are the labels of every object run creates.
func RunLabels(run string) map[string]string {
	return map[string]string{RunLabel: run, ManagedByLabel: ManagedBy}
}

// RemoveRunObjects deletes the NetworkPolicies of one run (the rollbacks should have; this is
// the safety net) and returns what it removed.
func (c *Cluster) RemoveRunObjects(ctx context.Context, run string) ([]string, error) {
	return c.removePolicies(ctx, RunLabel+"="+run)
}

func (c *Cluster) removePolicies(ctx context.Context, selector string) ([]string, error) {
	nps := c.Client.NetworkingV1().NetworkPolicies(c.Namespace)
	list, err := nps.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list NetworkPolicies %s in namespace %s: %w", selector, c.Namespace, err)
	}
	var removed []string
	var errs []error
	for _, np := range list.Items {
		err := nps.Delete(ctx, np.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete NetworkPolicy %s: %w", np.Name, err))
			continue
		}
		removed = append(removed, fmt.Sprintf("NetworkPolicy %s/%s (run %s, created %s)", c.Namespace, np.Name, np.Labels[RunLabel], np.CreationTimestamp.UTC().Format(time.RFC3339)))
	}
	return removed, errors.Join(errs...)
}

// RemoveLeftovers undoes what earlier runs left behind in the namespace when they were killed
// before their cleanup: their NetworkPolicies are deleted, a load generator they paused is
// scaled back, a ConfigMap --compare changed is restored. It returns one line per thing undone.
// Only one chaoslab run may use a namespace at a time: a run still going would lose its objects.
func (c *Cluster) RemoveLeftovers(ctx context.Context) ([]string, error) {
	return c.removeLeftovers(ctx, "")
}

// removeLeftovers is RemoveLeftovers, keeping the ConfigMap change of the compare keep (one run
// of a compare must not undo the compare's own setting).
func (c *Cluster) removeLeftovers(ctx context.Context, keep string) ([]string, error) {
	removed, err := c.removePolicies(ctx, ManagedByLabel+"="+ManagedBy)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	if what, err := c.resumeLoad(ctx, ""); err != nil {
		errs = append(errs, err)
	} else if what != "" {
		removed = append(removed, what)
	}
	if what, err := c.restoreResilienceExcept(ctx, keep); err != nil {
		errs = append(errs, err)
	} else if what != "" {
		removed = append(removed, what)
	}
	return removed, errors.Join(errs...)
}

func mergePatch(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// PauseLoad scales the in-cluster load generator (chaoslab-load) to 0 for the run, so that
// only the run's own load reaches the client (the client's log events are joined to the run's
// requests by request id, and a second load would share those ids). It does nothing when there
// is no such Deployment or it is already at 0. ResumeLoad puts it back.
func (c *Cluster) PauseLoad(ctx context.Context, run string) (paused bool, err error) {
	deps := c.Client.AppsV1().Deployments(c.Namespace)
	d, err := deps.Get(ctx, LoadDeployment, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read Deployment %s: %w", LoadDeployment, err)
	}
	if d.Annotations[PausedByAnnotation] != "" || specReplicas(d) == 0 {
		return false, nil
	}
	patch := map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{PausedByAnnotation: run, ReplicasAnnotation: strconv.Itoa(int(specReplicas(d)))}},
		"spec":     map[string]any{"replicas": 0},
	}
	if _, err := deps.Patch(ctx, LoadDeployment, types.MergePatchType, mergePatch(patch), metav1.PatchOptions{}); err != nil {
		return false, fmt.Errorf("scale %s to 0 for the run: %w", LoadDeployment, err)
	}
	return true, nil
}

// LoadStopTimeout bounds the wait for the paused load generator's pods to exit (deploy/k8s gives
// them 20 s of terminationGracePeriodSeconds).
const LoadStopTimeout = time.Minute

// WaitLoadStopped waits until no pod of chaoslab-load is left in the namespace. Scaled to 0 by
// PauseLoad, its pods go on sending until they exit, with X-Request-Id values that the run's
// per-layer counts would join to its own load's: nil once none is left (or there is no load
// generator); after timeout, an error naming the pods and what to look at.
func (c *Cluster) WaitLoadStopped(ctx context.Context, timeout time.Duration) error {
	selector := "app=" + LoadDeployment
	d, err := c.Client.AppsV1().Deployments(c.Namespace).Get(ctx, LoadDeployment, metav1.GetOptions{})
	switch {
	case err != nil && !apierrors.IsNotFound(err):
		return fmt.Errorf("read Deployment %s: %w", LoadDeployment, err)
	case err == nil && d.Spec.Selector != nil:
		selector = metav1.FormatLabelSelector(d.Spec.Selector)
	}
	deadline := time.Now().Add(timeout)
	for {
		pods, err := c.Client.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return fmt.Errorf("list the pods of %s (%s): %w", LoadDeployment, selector, err)
		}
		if len(pods.Items) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			names := make([]string, 0, len(pods.Items))
			for _, p := range pods.Items {
				names = append(names, p.Name)
			}
			return fmt.Errorf("the load generator %s was scaled to 0, but its pods %v still run after %v: their requests would count as the run's (kubectl -n %s get pods -l %s)",
				LoadDeployment, names, timeout, c.Namespace, selector)
		}
		if !wait.For(ctx, 250*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// ResumeLoad scales chaoslab-load back to its replicas before run paused it.
func (c *Cluster) ResumeLoad(ctx context.Context, run string) error {
	_, err := c.resumeLoad(ctx, run)
	return err
}

// resumeLoad undoes PauseLoad of run ("" = of any run) and says what it did ("" = nothing).
func (c *Cluster) resumeLoad(ctx context.Context, run string) (string, error) {
	deps := c.Client.AppsV1().Deployments(c.Namespace)
	d, err := deps.Get(ctx, LoadDeployment, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read Deployment %s: %w", LoadDeployment, err)
	}
	by := d.Annotations[PausedByAnnotation]
	if by == "" || (run != "" && by != run) {
		return "", nil
	}
	n, err := strconv.Atoi(d.Annotations[ReplicasAnnotation])
	if err != nil || n < 0 {
		n = 1
	}
	patch := map[string]any{
		"metadata": map[string]any{"annotations": map[string]any{PausedByAnnotation: nil, ReplicasAnnotation: nil}},
		"spec":     map[string]any{"replicas": n},
	}
	if _, err := deps.Patch(ctx, LoadDeployment, types.MergePatchType, mergePatch(patch), metav1.PatchOptions{}); err != nil {
		return "", fmt.Errorf("scale %s back to %d: %w", LoadDeployment, n, err)
	}
	return fmt.Sprintf("Deployment %s/%s scaled back to %d replicas (paused by %s)", c.Namespace, LoadDeployment, n, by), nil
}
