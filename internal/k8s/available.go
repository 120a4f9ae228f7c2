package k8s

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"chaoslab/internal/wait"
)

// hopeless are the waiting reasons of a container that waiting does not cure: the run says what
// to do at once instead of waiting for them.
var hopelessReasons = []string{"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError"}

// unavailable returns the Deployments of names that exist but have fewer available replicas
// than they ask for (missing ones are Preflight's to report), with what their pods are waiting
// for.
func (c *Cluster) unavailable(ctx context.Context, names []string) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range names {
		d, err := c.Client.AppsV1().Deployments(c.Namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read Deployment %s: %w", name, err)
		}
		if d.Status.AvailableReplicas >= specReplicas(d) && specReplicas(d) > 0 {
			continue
		}
		out[name] = fmt.Sprintf("%d of %d replicas available", d.Status.AvailableReplicas, specReplicas(d))
		app := name // deploy/k8s: a Deployment's pods have its name as their app label
		if a := d.Spec.Template.Labels["app"]; a != "" {
			app = a
		}
		if why := c.podTrouble(ctx, app); why != "" {
			out[name] += ": " + why
		}
	}
	return out, nil
}

// podTrouble says why the pods of app are not ready, from their containers' states: "container
// backend-service CrashLoopBackOff (2 restarts)". "" when nothing is reported yet.
func (c *Cluster) podTrouble(ctx context.Context, app string) string {
	pods, err := c.Client.CoreV1().Pods(c.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		return ""
	}
	var why []string
	for _, p := range pods.Items {
		for _, cs := range p.Status.ContainerStatuses {
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				why = append(why, fmt.Sprintf("container %s %s (%d restarts)", cs.Name, cs.State.Waiting.Reason, cs.RestartCount))
			case cs.State.Running != nil && !cs.Ready:
				why = append(why, fmt.Sprintf("container %s running, not ready yet", cs.Name))
			}
		}
		if len(p.Status.ContainerStatuses) == 0 && p.Status.Phase == corev1.PodPending {
			why = append(why, "pod "+p.Name+" pending")
		}
	}
	return strings.Join(why, ", ")
}

// hopeless reports whether why names a reason that waiting does not cure.
func hopeless(why string) bool {
	return slices.ContainsFunc(hopelessReasons, func(r string) bool { return strings.Contains(why, " "+r+" ") })
}

// WaitAvailable waits, at most timeout, for the lab's Deployments to have all their replicas
// available: a container the kubelet is restarting (a kill by an earlier run, its back-off) or a
// rollout under way cures itself, and a run that starts then would only fail its preflight.
// say gets a line of progress every few seconds. It returns when they are available, when a pod
// waits for something that waiting does not cure (an image that cannot be pulled), or at the
// timeout; Preflight then reports what is still wrong. extra names more Deployments to wait for
// (a topology's tiers).
func (c *Cluster) WaitAvailable(ctx context.Context, timeout time.Duration, say func(string), extra ...string) error {
	deadline := time.Now().Add(timeout)
	lastSaid := time.Time{}
	names := []string{BackendDeployment, ClientDeployment}
	for _, n := range extra {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for {
		down, err := c.unavailable(ctx, names)
		if err != nil || len(down) == 0 {
			return err
		}
		var lines []string
		for _, name := range names {
			if why, ok := down[name]; ok {
				if hopeless(why) {
					return nil
				}
				lines = append(lines, name+" "+why)
			}
		}
		if time.Now().After(deadline) {
			return nil
		}
		if time.Since(lastSaid) >= 5*time.Second {
			say(fmt.Sprintf("waiting up to %s for %s", time.Until(deadline).Round(time.Second), strings.Join(lines, "; ")))
			lastSaid = time.Now()
		}
		if !wait.For(ctx, 500*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// troubleText is ", container backend-service CrashLoopBackOff (2 restarts)" or "".
func troubleText(why string) string {
	if why == "" {
		return ""
	}
	return " (" + why + ")"
}

// troubleHint says what to do about a pod's trouble.
func troubleHint(why, namespace string) string {
	switch {
	case strings.Contains(why, "ImagePull") || strings.Contains(why, "InvalidImageName"):
		return " (the image cannot be pulled: load chaoslab:dev into the cluster, or set the image your registry has)"
	case strings.Contains(why, "CrashLoopBackOff"):
		return "; kubectl -n " + namespace + " logs --previous <pod> -c <container> says why it stopped"
	default:
		return ""
	}
}

// DefaultAvailableTimeout is how long a run waits for the lab's Deployments by default: longer
// than the kubelet's back-off after a few kills (10 s, 20 s, 40 s).
const DefaultAvailableTimeout = 2 * time.Minute
