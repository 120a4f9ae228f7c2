package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"chaoslab/internal/cli"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/load"
)

// clientBase is where the load Deployment reaches client-service.
const clientBase = "http://client-service:8080"

// loadArgs returns the arguments of the load container's chaoslab command and its flags.
func loadArgs(t *testing.T, m *manifests) ([]string, map[string]string) {
	t.Helper()
	c := m.deployments["chaoslab-load"].Spec.Template.Spec.Containers[0]
	args := c.Command[1:]
	if len(args) == 0 || args[0] != "load" {
		t.Fatalf("command = %v, want chaoslab load ...", c.Command)
	}
	flags := map[string]string{}
	for i := 1; i+1 < len(args); i += 2 {
		flags[args[i]] = args[i+1]
	}
	return args, flags
}

// TestLoadWaitsForClient: the load container itself waits for client-service's /readyz through
// its Service (chaoslab load --wait-ready), with no init container, volume or ConfigMap of its
// own; and its exact arguments, pointed at a stand-in, send nothing until /readyz answers 200
// and exit 1 when it never does.
func TestLoadWaitsForClient(t *testing.T) {
	m := loadManifests(t)
	pod := m.deployments["chaoslab-load"].Spec.Template.Spec
	if len(pod.InitContainers) != 0 || len(pod.Volumes) != 0 || len(pod.Containers[0].VolumeMounts) != 0 {
		t.Errorf("chaoslab-load has init containers %v, volumes %v: want none, the load waits itself (--wait-ready)",
			pod.InitContainers, pod.Volumes)
	}
	if _, ok := m.configMaps["chaoslab-load-wait"]; ok || slices.ContainsFunc(m.kust.Resources, func(r string) bool { return strings.HasPrefix(r, "load-wait") }) {
		t.Error("the ConfigMap chaoslab-load-wait is gone with the init container: remove it from kustomization.yaml")
	}
	args, flags := loadArgs(t, m)
	checkURLPointsAt(t, "--wait-ready", flags["--wait-ready"], m.services["client-service"], "/readyz")
	if !strings.HasPrefix(flags["--wait-ready"], clientBase) || !strings.HasPrefix(flags["--target"], clientBase) {
		t.Fatalf("--wait-ready %q and --target %q: want both under %s", flags["--wait-ready"], flags["--target"], clientBase)
	}
	for _, tc := range []struct {
		name     string
		notReady int64
		extra    []string // appended: the flag package keeps the last value
		exit     int
	}{
		{"client ready after two 503s", 2, []string{"--duration", "50ms"}, 0},
		{"client never ready", 1 << 62, []string{"--wait-timeout", "100ms"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var polls, data, early atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/readyz":
					if polls.Add(1) <= tc.notReady {
						http.Error(w, "starting", http.StatusServiceUnavailable)
					}
				case "/api/data":
					if data.Add(1); polls.Load() <= tc.notReady {
						early.Add(1)
					}
				}
			}))
			defer srv.Close()
			var run []string
			for _, a := range append(slices.Clone(args), tc.extra...) {
				run = append(run, strings.Replace(a, clientBase, srv.URL, 1))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out, errb bytes.Buffer
			err := cli.Run(ctx, run, func(string) string { return "" }, &out, &errb)
			if got := cmdutil.ExitCode(err); got != tc.exit {
				t.Fatalf("chaoslab %s: exit %d (%v), want %d", strings.Join(run, " "), got, err, tc.exit)
			}
			var nr *load.NotReadyError
			if tc.exit == 1 && (!errors.As(err, &nr) || nr.Last != "HTTP 503") {
				t.Errorf("err = %v, want not ready with last answer HTTP 503", err)
			}
			if early.Load() != 0 || (tc.exit == 0) != (data.Load() > 0) {
				t.Errorf("%d /api/data requests, %d of them before /readyz answered 200", data.Load(), early.Load())
			}
		})
	}
}
