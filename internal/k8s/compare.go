package k8s

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"

	"chaoslab/internal/wait"
)

// Annotations on the ConfigMap while a compare has changed its RESILIENCE.
const (
	ResilienceChangedByAnnotation = "chaoslab.io/resilience-changed-by" // the compare's run id
	ResilienceWasAnnotation       = "chaoslab.io/resilience-was"        // the value before
	restartedAtAnnotation         = "kubectl.kubernetes.io/restartedAt" // what kubectl rollout restart sets
)

// SetResilience sets RESILIENCE in the ConfigMap to value, remembering the value before in its
// annotations (the first time, for run), and restarts client-service (every Deployment that
// reads the ConfigMap: a topology's tiers too) so that its pods read it, waiting until the
// rollout is complete.
func (c *Cluster) SetResilience(ctx context.Context, run, value string, say func(string)) error {
	cms := c.Client.CoreV1().ConfigMaps(c.Namespace)
	cm, err := cms.Get(ctx, ConfigMapName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("read the ConfigMap %s: %w", ConfigMapName, err)
	}
	ann := map[string]any{}
	if cm.Annotations[ResilienceChangedByAnnotation] == "" {
		ann[ResilienceChangedByAnnotation] = run
		ann[ResilienceWasAnnotation] = cm.Data["RESILIENCE"]
	}
	if cm.Data["RESILIENCE"] == value && len(ann) == 0 {
		return nil
	}
	patch := map[string]any{"metadata": map[string]any{"annotations": ann}, "data": map[string]any{"RESILIENCE": value}}
	if _, err := cms.Patch(ctx, ConfigMapName, types.MergePatchType, mergePatch(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("set RESILIENCE=%s in the ConfigMap %s: %w", value, ConfigMapName, err)
	}
	if cm.Data["RESILIENCE"] == value {
		return nil
	}
	names := c.configMapReaders(ctx)
	what := "Deployment " + ClientDeployment
	if len(names) > 1 {
		what = "Deployments " + strings.Join(names, ", ")
	}
	say(fmt.Sprintf("ConfigMap %s: RESILIENCE=%s; restarting %s", ConfigMapName, value, what))
	return c.restartClient(ctx, names)
}

// configMapReaders names the Deployments whose containers read the ConfigMap with envFrom:
// client-service, and a topology's tiers (deploy/overlays/chain-3); client-service alone when
// they cannot be listed.
func (c *Cluster) configMapReaders(ctx context.Context) []string {
	list, err := c.Client.AppsV1().Deployments(c.Namespace).List(ctx, metav1.ListOptions{})
	names := []string{ClientDeployment}
	if err != nil {
		return names
	}
	for _, d := range list.Items {
		if d.Name != ClientDeployment && slices.Contains(envFromConfigMaps([]appsv1.Deployment{d}), ConfigMapName) {
			names = append(names, d.Name)
		}
	}
	slices.Sort(names)
	return names
}

// restartClient is kubectl rollout restart of the Deployments names (client-service, and a
// topology's tiers), then rollout status of each.
func (c *Cluster) restartClient(ctx context.Context, names []string) error {
	deps := c.Client.AppsV1().Deployments(c.Namespace)
	patch := map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]any{restartedAtAnnotation: time.Now().UTC().Format(time.RFC3339Nano)}}}}}
	for _, name := range names {
		if _, err := deps.Patch(ctx, name, types.MergePatchType, mergePatch(patch), metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("restart Deployment %s: %w", name, err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for _, name := range names {
		for !rolledOut(wctx, deps, name) {
			if !wait.For(wctx, time.Second) {
				return fmt.Errorf("Deployment %s did not finish its rollout within 3 minutes: kubectl -n %s rollout status deployment/%s", name, c.Namespace, name)
			}
		}
	}
	return nil
}

// rolledOut says whether the Deployment's rollout is complete: every replica updated and
// available.
func rolledOut(ctx context.Context, deps appsv1client.DeploymentInterface, name string) bool {
	d, err := deps.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false
	}
	n := specReplicas(d)
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == n && d.Status.Replicas == n && d.Status.AvailableReplicas == n
}

// restoreResilienceExcept restores a change of any run but keep ("" = of any run).
func (c *Cluster) restoreResilienceExcept(ctx context.Context, keep string) (string, error) {
	if keep != "" {
		cm, err := c.Client.CoreV1().ConfigMaps(c.Namespace).Get(ctx, ConfigMapName, metav1.GetOptions{})
		if err == nil && cm.Annotations[ResilienceChangedByAnnotation] == keep {
			return "", nil
		}
	}
	return c.restoreResilience(ctx, "")
}

// restoreResilience puts back the RESILIENCE a compare changed (of run; "" = of any run) and
// restarts the client; it says what it did ("" = nothing).
func (c *Cluster) restoreResilience(ctx context.Context, run string) (string, error) {
	cms := c.Client.CoreV1().ConfigMaps(c.Namespace)
	cm, err := cms.Get(ctx, ConfigMapName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the ConfigMap %s: %w", ConfigMapName, err)
	}
	by := cm.Annotations[ResilienceChangedByAnnotation]
	if by == "" || (run != "" && by != run) {
		return "", nil
	}
	was := cm.Annotations[ResilienceWasAnnotation]
	patch := map[string]any{"metadata": map[string]any{"annotations": map[string]any{ResilienceChangedByAnnotation: nil, ResilienceWasAnnotation: nil}}}
	if was != "" {
		patch["data"] = map[string]any{"RESILIENCE": was}
	}
	if _, err := cms.Patch(ctx, ConfigMapName, types.MergePatchType, mergePatch(patch), metav1.PatchOptions{}); err != nil {
		return "", fmt.Errorf("restore RESILIENCE=%s in the ConfigMap %s: %w", was, ConfigMapName, err)
	}
	what := fmt.Sprintf("ConfigMap %s/%s: RESILIENCE=%s restored (%s had set it to %s)", c.Namespace, ConfigMapName, was, by, cm.Data["RESILIENCE"])
	if was != cm.Data["RESILIENCE"] {
		names := c.configMapReaders(ctx)
		if err := c.restartClient(ctx, names); err != nil {
			return "", err
		}
		what += ", " + strings.Join(names, ", ") + " restarted"
	}
	return what, nil
}
