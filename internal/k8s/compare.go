package k8s

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"chaoslab/internal/wait"
)

// Annotations on the ConfigMap while a compare has changed its RESILIENCE.
const (
	ResilienceChangedByAnnotation = "chaoslab.io/resilience-changed-by" // the compare's run id
	ResilienceWasAnnotation       = "chaoslab.io/resilience-was"        // the value before
	restartedAtAnnotation         = "kubectl.kubernetes.io/restartedAt" // what kubectl rollout restart sets
)

// SetResilience sets RESILIENCE in the ConfigMap to value, remembering the value before in its
// annotations (the first time, for run), and restarts client-service so that its pods read it,
// waiting until the rollout is complete.
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
	say(fmt.Sprintf("ConfigMap %s: RESILIENCE=%s; restarting Deployment %s", ConfigMapName, value, ClientDeployment))
	return c.restartClient(ctx)
}

// restartClient is kubectl rollout restart deployment/client-service, then rollout status.
func (c *Cluster) restartClient(ctx context.Context) error {
	deps := c.Client.AppsV1().Deployments(c.Namespace)
	patch := map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]any{restartedAtAnnotation: time.Now().UTC().Format(time.RFC3339Nano)}}}}}
	if _, err := deps.Patch(ctx, ClientDeployment, types.MergePatchType, mergePatch(patch), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("restart Deployment %s: %w", ClientDeployment, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		d, err := deps.Get(wctx, ClientDeployment, metav1.GetOptions{})
		if err == nil {
			n := specReplicas(d)
			if d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == n && d.Status.Replicas == n && d.Status.AvailableReplicas == n {
				return nil
			}
		}
		if !wait.For(wctx, time.Second) {
			return fmt.Errorf("Deployment %s did not finish its rollout within 3 minutes: kubectl -n %s rollout status deployment/%s", ClientDeployment, c.Namespace, ClientDeployment)
		}
	}
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
		if err := c.restartClient(ctx); err != nil {
			return "", err
		}
		what += ", client-service restarted"
	}
	return what, nil
}
