package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"chaoslab/internal/netpolicy"
)

const (
	partitionManifest = "../chaos/manifests/partition-networkpolicy.yaml"
	k8sExperiment     = "../chaos/network-partition-experiment.json"
	// The seed guide's "Option 1", verbatim; the netpolicy package keeps it as test data.
	seedOption1 = "../internal/netpolicy/testdata/seed-guide-option1.yaml"
)

// endpoint is a pod of the cluster and the ports it serves.
type endpoint struct {
	pod   netpolicy.Pod
	ports []corev1.ContainerPort
}

// cluster is the deployed system as the manifests describe it (labels and named ports come from
// the Deployments' pod templates, so a relabelled Deployment changes the verdicts), plus the pods
// every cluster has around it: kube-dns, a scraper in another namespace, and an unlabelled pod.
func cluster(t *testing.T) []endpoint {
	t.Helper()
	m := loadManifests(t)
	var out []endpoint
	for _, w := range workloads {
		d, ok := m.deployments[w.name]
		if !ok {
			t.Fatalf("no Deployment %q", w.name)
		}
		var ports []corev1.ContainerPort
		for _, c := range d.Spec.Template.Spec.Containers { // a sidecar's ports are the pod's too
			ports = append(ports, c.Ports...)
		}
		out = append(out, endpoint{
			pod:   netpolicy.Pod{Name: w.name, Namespace: m.kust.Namespace, Labels: d.Spec.Template.Labels, Ports: podPorts(d.Spec.Template.Spec)},
			ports: ports,
		})
	}
	return append(out,
		endpoint{
			pod: netpolicy.Pod{Name: "kube-dns", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"},
				Ports: map[string]int32{"dns": 53, "dns-tcp": 53}},
			ports: []corev1.ContainerPort{
				{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
				{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP},
			},
		},
		endpoint{
			pod:   netpolicy.Pod{Name: "prometheus", Namespace: "monitoring", Labels: map[string]string{"app": "prometheus"}, Ports: map[string]int32{"web": 9090}},
			ports: []corev1.ContainerPort{{Name: "web", ContainerPort: 9090}},
		},
		endpoint{pod: netpolicy.Pod{Name: "debug", Namespace: namespace}}, // kubectl run debug: no app label
	)
}

// flowKey names one connection: "from -> to:port/proto".
func flowKey(from, to string, p corev1.ContainerPort) string {
	proto := p.Protocol
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	return fmt.Sprintf("%s -> %s:%d/%s", from, to, p.ContainerPort, proto)
}

// blockedFlows evaluates every connection between the cluster's pods under policies and returns
// the ones that are not allowed, sorted.
func blockedFlows(t *testing.T, pods []endpoint, policies []networkingv1.NetworkPolicy) []string {
	t.Helper()
	ev, err := netpolicy.New(policies, []netpolicy.Namespace{{Name: namespace}, {Name: "kube-system"}, {Name: "monitoring"}})
	if err != nil {
		t.Fatal(err)
	}
	var blocked []string
	for _, from := range pods {
		for _, to := range pods {
			if from.pod.Name == to.pod.Name {
				continue
			}
			for _, p := range to.ports {
				v := ev.Allowed(netpolicy.Connection{From: from.pod, To: to.pod, Port: p.ContainerPort, Protocol: p.Protocol})
				if !v.Allowed {
					blocked = append(blocked, flowKey(from.pod.Name, to.pod.Name, p))
				}
			}
		}
	}
	slices.Sort(blocked)
	return blocked
}

// loadPolicies reads NetworkPolicies and places them in ns, as kubectl apply -n ns would.
func loadPolicies(t *testing.T, path, ns string) []networkingv1.NetworkPolicy {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	policies, err := netpolicy.Parse(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for i := range policies {
		policies[i].Namespace = ns
	}
	return policies
}

// partitionOnly is what a correct partition blocks, and all it blocks: the client to every port
// of the backend's pod (the backend's own, the fault-proxy's data port, which the Service
// targets, and its fault API).
var partitionOnly = []string{
	"client-service -> backend-service:8081/TCP",
	"client-service -> backend-service:8082/TCP",
	"client-service -> backend-service:8474/TCP",
}

func TestPartitionPolicyCutsClientToBackendOnly(t *testing.T) {
	pods := cluster(t)
	if got := blockedFlows(t, pods, nil); len(got) != 0 {
		t.Fatalf("without any policy these flows are blocked: %v", got)
	}
	cases := []struct {
		name        string
		policy      string
		wantBlocked []string
	}{
		{"shipped partition", partitionManifest, partitionOnly},
		// Option 1 isolates the client for egress and allows only the backend: the one flow that
		// should break still works, and the client loses DNS and everything else.
		{"seed guide option 1", seedOption1, []string{
			"client-service -> kube-dns:53/TCP",
			"client-service -> kube-dns:53/UDP",
			"client-service -> prometheus:9090/TCP",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := blockedFlows(t, pods, loadPolicies(t, tc.policy, namespace))
			if !slices.Equal(got, tc.wantBlocked) {
				t.Errorf("blocked flows:\n got  %q\n want %q", got, tc.wantBlocked)
			}
			cutsPartition := slices.Equal(got, partitionOnly)
			if shipped := tc.policy == partitionManifest; cutsPartition != shipped {
				t.Errorf("policy %s: is a correct partition = %v, want %v", tc.policy, cutsPartition, shipped)
			}
		})
	}
}

// TestPartitionPolicyOtherPorts: the partition has no port list, so it cuts every port of the
// backend for the client, while other pods keep every port.
func TestPartitionPolicyOtherPorts(t *testing.T) {
	ev, err := netpolicy.New(loadPolicies(t, partitionManifest, namespace), nil)
	if err != nil {
		t.Fatal(err)
	}
	pods := map[string]netpolicy.Pod{}
	for _, e := range cluster(t) {
		pods[e.pod.Name] = e.pod
	}
	cases := []struct {
		from string
		port int32
		want bool
	}{
		{"client-service", 8081, false},
		{"client-service", 9999, false},
		{"chaoslab-load", 9999, true},
		{"debug", 8081, true},
		{"prometheus", 8081, true},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s to backend %d", tc.from, tc.port), func(t *testing.T) {
			v := ev.Allowed(netpolicy.Connection{From: pods[tc.from], To: pods["backend-service"], Port: tc.port})
			if v.Allowed != tc.want {
				t.Errorf("allowed = %v, want %v (%s)", v.Allowed, tc.want, v.Reason)
			}
		})
	}
}

// experimentDoc is the part of the Chaos Toolkit experiment these cross-checks read.
type experimentDoc struct {
	Configuration map[string]json.RawMessage `json:"configuration"`
	Hypothesis    struct {
		Probes []activity `json:"probes"`
	} `json:"steady-state-hypothesis"`
	Method    []activity `json:"method"`
	Rollbacks []activity `json:"rollbacks"`
}

type activity struct {
	Name     string `json:"name"`
	Provider struct {
		Type      string         `json:"type"`
		Module    string         `json:"module"`
		Func      string         `json:"func"`
		Arguments map[string]any `json:"arguments"`
	} `json:"provider"`
}

func readExperiment(t *testing.T) experimentDoc {
	t.Helper()
	data, err := os.ReadFile(k8sExperiment)
	if err != nil {
		t.Fatal(err)
	}
	var doc experimentDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", k8sExperiment, err)
	}
	return doc
}

func findCalls(acts []activity, fn string) []activity {
	var out []activity
	for _, a := range acts {
		if a.Provider.Type == "python" && a.Provider.Func == fn {
			out = append(out, a)
		}
	}
	return out
}

// TestExperimentUsesTheShippedPolicy: the experiment carries the policy inline (so `chaos run`
// works from any directory); it must be the manifest's policy exactly, created and removed under
// the same name.
func TestExperimentUsesTheShippedPolicy(t *testing.T) {
	doc := readExperiment(t)
	manifest := loadPolicies(t, partitionManifest, "")
	if len(manifest) != 1 {
		t.Fatalf("%s: want one policy, got %d", partitionManifest, len(manifest))
	}
	creates := findCalls(doc.Method, "create_network_policy")
	if len(creates) != 1 {
		t.Fatalf("want one create_network_policy in the method, got %d", len(creates))
	}
	raw, err := json.Marshal(creates[0].Provider.Arguments["spec"])
	if err != nil {
		t.Fatal(err)
	}
	var inline networkingv1.NetworkPolicy
	if err := netpolicy.DecodeStrict(raw, &inline); err != nil {
		t.Fatalf("inline spec: %v", err)
	}
	if !reflect.DeepEqual(inline, manifest[0]) {
		a, _ := json.Marshal(inline)
		b, _ := json.Marshal(manifest[0])
		t.Errorf("inline policy differs from %s:\n inline   %s\n manifest %s", partitionManifest, a, b)
	}
	removes := findCalls(doc.Rollbacks, "remove_network_policy")
	if len(removes) != 1 || removes[0].Provider.Arguments["name"] != manifest[0].Name {
		t.Errorf("rollbacks must remove_network_policy %q once, got %+v", manifest[0].Name, removes)
	}
	for _, a := range append(creates, removes...) {
		if a.Provider.Arguments["ns"] != "${namespace}" {
			t.Errorf("%s: ns = %v, want ${namespace}", a.Name, a.Provider.Arguments["ns"])
		}
	}
}

// TestExperimentMatchesManifests: the namespace default and the label selectors of the steady
// state are the ones deploy/k8s creates.
func TestExperimentMatchesManifests(t *testing.T) {
	doc := readExperiment(t)
	m := loadManifests(t)
	var ns struct {
		Type, Key, Default string
	}
	if err := json.Unmarshal(doc.Configuration["namespace"], &ns); err != nil {
		t.Fatalf("configuration.namespace: %v", err)
	}
	if ns.Type != "env" || ns.Default != m.kust.Namespace {
		t.Errorf("configuration.namespace = %+v, want an env lookup defaulting to %q", ns, m.kust.Namespace)
	}
	var selectors []string
	for _, a := range findCalls(doc.Hypothesis.Probes, "pods_in_phase") {
		selectors = append(selectors, fmt.Sprint(a.Provider.Arguments["label_selector"]))
	}
	want := []string{"app=backend-service", "app=client-service"}
	slices.Sort(selectors)
	if !slices.Equal(selectors, want) {
		t.Errorf("pods_in_phase selectors = %v, want %v", selectors, want)
	}
	for _, sel := range want {
		name := strings.TrimPrefix(sel, "app=")
		if m.deployments[name].Spec.Template.Labels["app"] != name {
			t.Errorf("%s selects no pod template in deploy/k8s", sel)
		}
	}
}
