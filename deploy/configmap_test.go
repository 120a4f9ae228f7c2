package deploy_test

import (
	"net"
	"slices"
	"strconv"
	"testing"

	"chaoslab/internal/backend"
	"chaoslab/internal/client"
)

// configOverrides are the ConfigMap values that deliberately differ from client.Defaults(), and why.
var configOverrides = map[string]string{
	// In the cluster the backend is the Service backend-service, not localhost.
	"BACKEND_URL": "http://backend-service:8081",
	// kind's and most other network plugins keep an established connection alive under a new
	// NetworkPolicy: a pooled connection must be retired well inside the 30 s partition, or the
	// client may never see it.
	"BACKEND_CONN_MAX_AGE": "5s",
}

// notInConfigMap are client variables that are not pipeline variables: the container's defaults
// are right for them, so the ConfigMap leaves them out.
var notInConfigMap = []string{"LISTEN_ADDR", "LOG_FORMAT", "LOG_LEVEL", "SHUTDOWN_TIMEOUT", "SHUTDOWN_DRAIN", "TIER"}

func TestConfigMap(t *testing.T) {
	m := loadManifests(t)
	cm, ok := m.configMaps[configMap]
	if !ok {
		t.Fatalf("no ConfigMap %q", configMap)
	}
	defaults := client.Defaults()
	for key, value := range cm.Data {
		def, known := defaults[key]
		switch {
		case !known:
			t.Errorf("%s is not a client-service variable (client.Defaults())", key)
		case configOverrides[key] != "":
			if value != configOverrides[key] {
				t.Errorf("%s = %q, want the documented override %q", key, value, configOverrides[key])
			}
		case value != def:
			t.Errorf("%s = %q, want the code's default %q (or document an override here)", key, value, def)
		}
	}
	for key := range defaults {
		if _, ok := cm.Data[key]; !ok && !slices.Contains(notInConfigMap, key) {
			t.Errorf("client variable %s is missing from the ConfigMap", key)
		}
	}
	for key := range configOverrides {
		if _, ok := defaults[key]; !ok {
			t.Errorf("override %s is not a client variable", key)
		}
	}
	if len(cm.BinaryData) != 0 {
		t.Error("the ConfigMap must hold text variables only")
	}

	c := m.deployments["client-service"].Spec.Template.Spec.Containers[0]
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != configMap {
		t.Errorf("client-service envFrom = %v, want the ConfigMap %s", c.EnvFrom, configMap)
	}
	checkURLPointsAt(t, "BACKEND_URL", cm.Data["BACKEND_URL"], m.services["backend-service"], "")
}

// TestConfigMapLoads starts the client's own configuration loader on the ConfigMap's values, as
// the container sees them, and with the switch the guide tells users to flip.
func TestConfigMapLoads(t *testing.T) {
	cm := loadManifests(t).configMaps[configMap]
	cases := []struct {
		name      string
		overrides map[string]string
	}{
		{"as shipped", nil},
		{"patterns off, as the guide patches it", map[string]string{"RESILIENCE": "off"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				if v, ok := tc.overrides[k]; ok {
					return v
				}
				return cm.Data[k]
			}
			if _, err := client.LoadConfig(getenv); err != nil {
				t.Fatalf("client.LoadConfig on the ConfigMap: %v", err)
			}
		})
	}
}

// TestListenPortsMatchDefaults: the container ports are the ports the services listen on by
// default, since the manifests do not set LISTEN_ADDR.
func TestListenPortsMatchDefaults(t *testing.T) {
	defaults := map[string]map[string]string{
		"backend-service": backend.Defaults(),
		"client-service":  client.Defaults(),
	}
	for _, w := range workloads {
		if w.port == 0 {
			continue
		}
		t.Run(w.name, func(t *testing.T) {
			addr := defaults[w.name]["LISTEN_ADDR"]
			_, port, err := net.SplitHostPort(addr)
			if err != nil || port != strconv.Itoa(int(w.port)) {
				t.Errorf("default LISTEN_ADDR %q, but the manifests expect port %d", addr, w.port)
			}
		})
	}
}
