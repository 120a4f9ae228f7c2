package k8s

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSetAndRestoreResilience(t *testing.T) {
	ctx := context.Background()
	client := deployment(ClientDeployment, 1, 1, 1)
	client.Status.UpdatedReplicas, client.Status.Replicas = 1, 1
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: "lab"}, Data: map[string]string{"RESILIENCE": "on", "CB_WAIT_DURATION": "10s"}}
	c, cs := labCluster(client, cm)
	read := func() (*corev1.ConfigMap, string) {
		got, err := cs.CoreV1().ConfigMaps("lab").Get(ctx, ConfigMapName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d, _ := cs.AppsV1().Deployments("lab").Get(ctx, ClientDeployment, metav1.GetOptions{})
		return got, d.Spec.Template.Annotations[restartedAtAnnotation]
	}

	if err := c.SetResilience(ctx, "run-cmp", "off", func(string) {}); err != nil {
		t.Fatal(err)
	}
	got, restarted := read()
	if got.Data["RESILIENCE"] != "off" || got.Data["CB_WAIT_DURATION"] != "10s" || got.Annotations[ResilienceWasAnnotation] != "on" ||
		got.Annotations[ResilienceChangedByAnnotation] != "run-cmp" || restarted == "" {
		t.Fatalf("after SetResilience off: data %v annotations %v, client restarted at %q", got.Data, got.Annotations, restarted)
	}
	// The next profile keeps the first value before the compare.
	if err := c.SetResilience(ctx, "run-cmp", "adaptive", func(string) {}); err != nil {
		t.Fatal(err)
	}
	if got, _ := read(); got.Data["RESILIENCE"] != "adaptive" || got.Annotations[ResilienceWasAnnotation] != "on" {
		t.Fatalf("after adaptive: data %v annotations %v", got.Data, got.Annotations)
	}
	// A run of the compare keeps the compare's setting...
	if removed, err := c.removeLeftovers(ctx, "run-cmp"); err != nil || len(removed) != 0 {
		t.Errorf("a run of the compare removed %q, %v", removed, err)
	}
	// ...a later run or recover, after the compare was killed, restores it and says so.
	removed, err := c.RemoveLeftovers(ctx)
	if err != nil || len(removed) != 1 || !strings.Contains(removed[0], "RESILIENCE=on restored (run-cmp had set it to adaptive), client-service restarted") {
		t.Fatalf("RemoveLeftovers = %q, %v", removed, err)
	}
	got, _ = read()
	if got.Data["RESILIENCE"] != "on" || len(got.Annotations) != 0 {
		t.Errorf("restored: data %v annotations %v", got.Data, got.Annotations)
	}
}
