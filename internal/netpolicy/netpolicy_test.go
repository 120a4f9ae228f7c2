package netpolicy_test

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"chaoslab/internal/netpolicy"
)

// Pods of a small cluster, used by every case.
var (
	web    = netpolicy.Pod{Name: "web", Namespace: "shop", Labels: map[string]string{"app": "web"}, IP: netip.MustParseAddr("10.0.0.1"), Ports: map[string]int32{"http": 8080}}
	db     = netpolicy.Pod{Name: "db", Namespace: "shop", Labels: map[string]string{"app": "db"}, IP: netip.MustParseAddr("10.0.0.2"), Ports: map[string]int32{"pg": 5432}}
	noapp  = netpolicy.Pod{Name: "noapp", Namespace: "shop", IP: netip.MustParseAddr("10.0.0.3")}
	prom   = netpolicy.Pod{Name: "prom", Namespace: "monitoring", Labels: map[string]string{"app": "prom"}, IP: netip.MustParseAddr("10.0.1.1")}
	dns    = netpolicy.Pod{Name: "coredns", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}, IP: netip.MustParseAddr("10.0.9.9"), Ports: map[string]int32{"dns": 53}}
	webApp = netpolicy.Pod{Name: "web", Namespace: "other", Labels: map[string]string{"app": "web"}, IP: netip.MustParseAddr("10.0.2.1")}
)

var namespaces = []netpolicy.Namespace{
	{Name: "shop", Labels: map[string]string{"team": "shop"}},
	{Name: "monitoring", Labels: map[string]string{"team": "ops"}},
}

func conn(from, to netpolicy.Pod, port int32, proto corev1.Protocol) netpolicy.Connection {
	return netpolicy.Connection{From: from, To: to, Port: port, Protocol: proto}
}

func TestAllowed(t *testing.T) {
	type check struct {
		c    netpolicy.Connection
		want bool
	}
	cases := []struct {
		name   string
		policy string // YAML, several documents allowed; namespace shop unless set
		checks []check
	}{
		{
			name:   "no policy allows everything",
			policy: "",
			checks: []check{{conn(web, db, 5432, ""), true}, {conn(prom, db, 1, corev1.ProtocolUDP), true}},
		},
		{
			name: "default deny ingress isolates the selected pods only",
			policy: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]`,
			checks: []check{{conn(web, db, 5432, ""), false}, {conn(db, web, 8080, ""), true}, {conn(db, dns, 53, corev1.ProtocolUDP), true}},
		},
		{
			name: "policy types default to Ingress, plus Egress only when egress rules exist",
			policy: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: implicit, namespace: shop}
spec:
  podSelector: {}
  ingress: [{}]`,
			checks: []check{{conn(prom, db, 5432, ""), true}, {conn(db, prom, 9090, ""), true}},
		},
		{
			name: "a podSelector peer alone means the policy's namespace",
			policy: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: web}}}]`,
			checks: []check{{conn(web, db, 5432, ""), true}, {conn(webApp, db, 5432, ""), false}, {conn(noapp, db, 5432, ""), false}},
		},
		{
			name: "namespaceSelector and podSelector in one peer need both; in two peers either",
			policy: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: and, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: ops}}
      podSelector: {matchLabels: {app: web}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: or, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: ops}}
    - podSelector: {matchLabels: {app: db}}`,
			checks: []check{
				{conn(prom, db, 5432, ""), false}, // ops namespace, but not app=web
				{conn(web, db, 5432, ""), false},  // app=web, but not in an ops namespace
				{conn(prom, web, 8080, ""), true}, // or: the namespace is enough
				{conn(db, web, 8080, ""), true},   // or: the pod is enough
				{conn(noapp, web, 8080, ""), false},
			},
		},
		{
			name: "NotIn admits pods without the label and every namespace with an empty namespaceSelector",
			policy: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: all-but-web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - namespaceSelector: {}
      podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [web]}]}`,
			checks: []check{{conn(web, db, 5432, ""), false}, {conn(webApp, db, 5432, ""), false}, {conn(noapp, db, 5432, ""), true}, {conn(prom, db, 5432, ""), true}},
		},
		{
			name: "ports: number, range, named port of the destination, protocol defaults to TCP",
			policy: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ports, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 5432}]
  - ports: [{port: 9000, endPort: 9010, protocol: UDP}]
  - ports: [{port: http}]`,
			checks: []check{
				{conn(web, db, 5432, ""), true},
				{conn(web, db, 5432, corev1.ProtocolUDP), false},
				{conn(web, db, 9005, corev1.ProtocolUDP), true},
				{conn(web, db, 9011, corev1.ProtocolUDP), false},
				{conn(db, web, 8080, ""), true},  // web names 8080 "http"
				{conn(web, db, 8080, ""), false}, // db has no port named http
			},
		},
		{
			name: "egress isolation blocks DNS unless a rule allows it",
			policy: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: db}}}]`,
			checks: []check{{conn(web, db, 5432, ""), true}, {conn(web, dns, 53, corev1.ProtocolUDP), false}, {conn(db, dns, 53, corev1.ProtocolUDP), true}},
		},
		{
			name: "ipBlock with except",
			policy: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: cidr, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.1.0/24]}}]`,
			checks: []check{{conn(web, db, 5432, ""), true}, {conn(prom, db, 5432, ""), false}},
		},
		{
			name: "policies add up: a second policy allows what the first does not",
			policy: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-prom, namespace: shop}
spec:
  podSelector: {}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]`,
			checks: []check{{conn(prom, db, 5432, ""), true}, {conn(web, db, 5432, ""), false}},
		},
		{
			name: "a policy in another namespace does not apply",
			policy: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: other}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]`,
			checks: []check{{conn(web, db, 5432, ""), true}, {conn(web, webApp, 8080, ""), false}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			policies, err := netpolicy.Parse([]byte(tc.policy))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			ev, err := netpolicy.New(policies, namespaces)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			for _, ck := range tc.checks {
				if got := ev.Allowed(ck.c); got.Allowed != ck.want {
					t.Errorf("%s: allowed=%v, want %v (%s)", ck.c, got.Allowed, ck.want, got.Reason)
				}
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		name, doc, wantErr string
	}{
		{"unknown field", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec: {podSelectors: {}}", `unknown field "podSelectors"`},
		{"wrong kind", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}", "is not a networking.k8s.io/v1 NetworkPolicy"},
		{"duplicate field", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nkind: NetworkPolicy\nmetadata: {name: x}", "already set"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := netpolicy.Parse([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Parse error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	cases := []struct {
		name, doc, wantErr string
	}{
		{"bad operator", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec:\n  podSelector: {matchExpressions: [{key: app, operator: Nope}]}", "spec.podSelector"},
		{"bad cidr", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec:\n  podSelector: {}\n  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/99}}]}]", "ipBlock.cidr"},
		{"empty peer", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec:\n  podSelector: {}\n  ingress: [{from: [{}]}]", "empty peer"},
		{"unknown policy type", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec:\n  podSelector: {}\n  policyTypes: [Sideways]", "unknown type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			policies, err := netpolicy.Parse([]byte(tc.doc))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			_, err = netpolicy.New(policies, nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestSeedGuideOption1 shows what the seed guide's "Option 1" policy (kept verbatim in testdata)
// really does: an Egress policy on the client that lists the backend as its only destination.
func TestSeedGuideOption1(t *testing.T) {
	data, err := os.ReadFile("testdata/seed-guide-option1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	policies, err := netpolicy.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := netpolicy.New(policies, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := netpolicy.Pod{Name: "client", Namespace: "default", Labels: map[string]string{"app": "client-service"}}
	backend := netpolicy.Pod{Name: "backend", Namespace: "default", Labels: map[string]string{"app": "backend-service"}}
	kubeDNS := netpolicy.Pod{Name: "coredns", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}}
	cases := []struct {
		name string
		c    netpolicy.Connection
		want bool
	}{
		{"client still reaches the backend", conn(client, backend, 8081, ""), true},
		{"client can no longer resolve names", conn(client, kubeDNS, 53, corev1.ProtocolUDP), false},
		{"client can no longer resolve names over TCP", conn(client, kubeDNS, 53, corev1.ProtocolTCP), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ev.Allowed(tc.c); got.Allowed != tc.want {
				t.Fatalf("%s: allowed=%v, want %v (%s)", tc.c, got.Allowed, tc.want, got.Reason)
			}
		})
	}
}
