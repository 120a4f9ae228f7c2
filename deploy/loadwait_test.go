package deploy_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"chaoslab/internal/experiment"
)

const loadWaitConfigMap = "chaoslab-load-wait"

// loadWait returns the load Deployment's init container and the experiment it runs, read from
// the ConfigMap volume it mounts.
func loadWait(t *testing.T, m *manifests) (corev1.Container, string) {
	t.Helper()
	pod := m.deployments["chaoslab-load"].Spec.Template.Spec
	if len(pod.InitContainers) != 1 {
		t.Fatalf("chaoslab-load has %d init containers, want 1 that waits for client-service", len(pod.InitContainers))
	}
	ic := pod.InitContainers[0]
	if len(ic.Command) < 2 || ic.Command[0] != "/usr/local/bin/chaoslab" || ic.Command[1] != "run" {
		t.Fatalf("init container command %v, want /usr/local/bin/chaoslab run ...", ic.Command)
	}
	args := strings.Join(ic.Command[2:], " ")
	if !strings.Contains(args, "--stack none") || !strings.Contains(args, "--journal-path /dev/null") {
		t.Errorf("init container args %q, want --stack none (no lab, no load) and --journal-path /dev/null (read-only root filesystem)", args)
	}
	file := ic.Command[len(ic.Command)-1]
	var mount *corev1.VolumeMount
	for i, vm := range ic.VolumeMounts {
		if path.Dir(file) == vm.MountPath {
			mount = &ic.VolumeMounts[i]
		}
	}
	if mount == nil {
		t.Fatalf("the experiment %s is in no volume the init container mounts (%v)", file, ic.VolumeMounts)
	}
	var vol *corev1.Volume
	for i, v := range pod.Volumes {
		if v.Name == mount.Name {
			vol = &pod.Volumes[i]
		}
	}
	if vol == nil || vol.ConfigMap == nil || vol.ConfigMap.Name != loadWaitConfigMap {
		t.Fatalf("volume %q must be the ConfigMap %s, got %+v", mount.Name, loadWaitConfigMap, vol)
	}
	data, ok := m.configMaps[loadWaitConfigMap].Data[path.Base(file)]
	if !ok {
		t.Fatalf("ConfigMap %s has no key %s", loadWaitConfigMap, path.Base(file))
	}
	return ic, data
}

// TestLoadWaitsForClient: the load's init container runs an experiment whose only check is
// client-service's /readyz through its Service, and that run fails (exit 1, so the kubelet runs
// it again and the load does not start) while nothing answers there.
func TestLoadWaitsForClient(t *testing.T) {
	m := loadManifests(t)
	_, data := loadWait(t, m)
	exp, err := experiment.Parse([]byte(data), "json")
	if err != nil {
		t.Fatalf("the wait experiment: %v", err)
	}
	if _, err := experiment.Validate(exp, experiment.Options{}); err != nil {
		t.Fatalf("the wait experiment does not validate: %v", err)
	}
	target := "http://client-service:8080/readyz"
	if !strings.Contains(data, `"url": "`+target+`"`) {
		t.Fatalf("the wait experiment must GET %s", target)
	}
	checkURLPointsAt(t, "wait URL", target, m.services["client-service"], "/readyz")

	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
		}
	}))
	defer ready.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there: connection refused, as a Service without ready endpoints
	for _, tc := range []struct {
		name, base string
		exit       int
	}{
		{"client ready", ready.URL, 0},
		{"client not ready", refused, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := experiment.Parse([]byte(strings.ReplaceAll(data, "http://client-service:8080", tc.base)), "json")
			if err != nil {
				t.Fatal(err)
			}
			j, err := experiment.Run(context.Background(), e, experiment.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := j.ExitCode(); got != tc.exit {
				t.Errorf("exit code %d (status %s), want %d", got, j.Status, tc.exit)
			}
		})
	}
	if !slices.ContainsFunc(m.kust.Resources, func(r string) bool { return strings.HasPrefix(r, "load-wait") }) {
		t.Error("the wait ConfigMap is not in kustomization.yaml")
	}
}
