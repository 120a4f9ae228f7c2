package deploy_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"chaoslab/internal/k8s"
	"chaoslab/internal/sidecar"
	"chaoslab/internal/topology"
)

// TestOverlaySpikeTargets: in each overlay the fault-proxy sidecar's SPIKE_TARGETS is valid for
// the sidecar and names every entry tier's Service, in the topology's order, so a load spike
// (the catalogue's load-spike) reaches the entries as the run's load does; the base's variables
// of the sidecar stay.
func TestOverlaySpikeTargets(t *testing.T) {
	for name := range k8s.Overlays() {
		t.Run(name, func(t *testing.T) {
			m := renderOverlay(t, name)
			topo, err := topology.Load(name)
			if err != nil {
				t.Fatal(err)
			}
			var c corev1.Container
			for _, ct := range m.deployments["backend-service"].Spec.Template.Spec.Containers {
				if ct.Name == k8s.FaultProxyContainer {
					c = ct
				}
			}
			env := k8s.ContainerEnv(c, nil)
			cfg, err := sidecar.LoadConfig(func(k string) string { return env[k] })
			if err != nil {
				t.Fatalf("sidecar.LoadConfig on the overlay's fault-proxy: %v", err)
			}
			targets := cfg.Spikes()
			if len(targets) != len(topo.Entries()) {
				t.Fatalf("SPIKE_TARGETS %q, want one per entry tier %v", cfg.SpikeTargets, topo.Entries())
			}
			for i, tier := range topo.Entries() {
				checkURLPointsAt(t, "SPIKE_TARGETS", targets[i], entryService(t, m, tier), "")
			}
			if cfg.LogFormat != "json" {
				t.Errorf("LOG_FORMAT %q: the base's variables of the sidecar must stay", cfg.LogFormat)
			}
		})
	}
}
