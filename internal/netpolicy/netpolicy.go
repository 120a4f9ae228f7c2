// Package netpolicy decides which pod-to-pod connections a set of Kubernetes NetworkPolicies
// (networking.k8s.io/v1) allows. It is a small, literal reading of the API's documented
// semantics, made so that tests can prove what a shipped policy does without a cluster:
//
//   - A pod is isolated for ingress (egress) when some policy in its namespace selects it and
//     lists Ingress (Egress) in its policy types; policy types default to Ingress, plus Egress
//     when the policy has egress rules.
//   - A connection is allowed when the source's egress allows it AND the destination's ingress
//     allows it. Policies only add allowances: an isolated direction allows exactly the union of
//     the rules of the policies that isolate it.
//   - A rule matches when one of its peers matches (no peers: every peer) and one of its ports
//     matches (no ports: every port). A peer with both a namespaceSelector and a podSelector
//     needs both; a podSelector alone means the policy's own namespace.
//
// Not modelled: traffic from the node itself (kubelet probes; most plugins always allow it),
// hostNetwork pods, Services (a policy sees the backend pod, after the Service's NAT), and
// established connections, which many plugins keep alive when a policy appears.
// ipBlock peers match Pod.IP when it is set; whether a real plugin applies ipBlock to pod IPs is
// implementation-defined.
//
// An Evaluator is immutable once built and safe for concurrent use.
package netpolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// NamespaceNameLabel is the label the API server puts on every namespace since Kubernetes 1.22.
const NamespaceNameLabel = "kubernetes.io/metadata.name"

// Pod is the part of a pod that NetworkPolicies look at.
type Pod struct {
	Name      string
	Namespace string            // "" means "default"
	Labels    map[string]string // the pod's labels (not the Deployment's)
	IP        netip.Addr        // optional; only ipBlock peers use it
	Ports     map[string]int32  // named container ports, for policies that name a port
}

// Namespace gives a namespace's labels. The kubernetes.io/metadata.name label is added when
// missing, as the API server does; namespaces the Evaluator is not told about get only that label.
type Namespace struct {
	Name   string
	Labels map[string]string
}

// Connection is a new connection from one pod to a port of another.
type Connection struct {
	From, To Pod
	Port     int32
	Protocol corev1.Protocol // "" means TCP
}

// String names the connection as "ns/from -> ns/to:port/PROTOCOL".
func (c Connection) String() string {
	return fmt.Sprintf("%s -> %s:%d/%s", podName(c.From), podName(c.To), c.Port, protocolOf(c.Protocol))
}

// Verdict is the answer for one connection, with the reason in words.
type Verdict struct {
	Allowed bool
	Reason  string
}

// Evaluator answers questions about one fixed set of policies.
type Evaluator struct {
	policies   []compiledPolicy
	namespaces map[string]labels.Set
}

type compiledPolicy struct {
	name, namespace string
	selector        labels.Selector
	ingress, egress bool // the policy types it isolates
	ingressRules    []compiledRule
	egressRules     []compiledRule
}

type compiledRule struct {
	peers []compiledPeer // empty: every peer
	ports []networkingv1.NetworkPolicyPort
}

type compiledPeer struct {
	pods       labels.Selector // nil: any pod (only the namespace condition applies)
	namespaces labels.Selector // nil: the policy's own namespace
	block      *ipBlock
}

type ipBlock struct {
	cidr   netip.Prefix
	except []netip.Prefix
}

// New compiles policies. A policy without a namespace is placed in "default", as kubectl would.
// It fails on selectors or CIDRs the API server would reject.
func New(policies []networkingv1.NetworkPolicy, namespaces []Namespace) (*Evaluator, error) {
	e := &Evaluator{namespaces: make(map[string]labels.Set, len(namespaces))}
	for _, ns := range namespaces {
		set := labels.Set{NamespaceNameLabel: ns.Name}
		for k, v := range ns.Labels {
			set[k] = v
		}
		e.namespaces[ns.Name] = set
	}
	for i := range policies {
		cp, err := compilePolicy(&policies[i])
		if err != nil {
			return nil, fmt.Errorf("networkpolicy %q: %w", policies[i].Name, err)
		}
		e.policies = append(e.policies, cp)
	}
	return e, nil
}

func compilePolicy(p *networkingv1.NetworkPolicy) (compiledPolicy, error) {
	cp := compiledPolicy{name: p.Name, namespace: orDefault(p.Namespace)}
	sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
	if err != nil {
		return cp, fmt.Errorf("spec.podSelector: %w", err)
	}
	cp.selector = sel
	if len(p.Spec.PolicyTypes) == 0 {
		cp.ingress, cp.egress = true, len(p.Spec.Egress) > 0
	}
	for _, t := range p.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			cp.ingress = true
		case networkingv1.PolicyTypeEgress:
			cp.egress = true
		default:
			return cp, fmt.Errorf("spec.policyTypes: unknown type %q (allowed: Ingress, Egress)", t)
		}
	}
	for i, r := range p.Spec.Ingress {
		rule, err := compileRule(r.From, r.Ports)
		if err != nil {
			return cp, fmt.Errorf("spec.ingress[%d]: %w", i, err)
		}
		cp.ingressRules = append(cp.ingressRules, rule)
	}
	for i, r := range p.Spec.Egress {
		rule, err := compileRule(r.To, r.Ports)
		if err != nil {
			return cp, fmt.Errorf("spec.egress[%d]: %w", i, err)
		}
		cp.egressRules = append(cp.egressRules, rule)
	}
	return cp, nil
}

func compileRule(peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) (compiledRule, error) {
	rule := compiledRule{ports: ports}
	for i, p := range peers {
		var cp compiledPeer
		var err error
		switch {
		case p.IPBlock != nil:
			if p.PodSelector != nil || p.NamespaceSelector != nil {
				return rule, fmt.Errorf("peer %d: ipBlock cannot be combined with selectors", i)
			}
			cp.block, err = compileBlock(p.IPBlock)
		case p.PodSelector == nil && p.NamespaceSelector == nil:
			err = errors.New("empty peer: set podSelector, namespaceSelector or ipBlock")
		default:
			if p.PodSelector != nil {
				cp.pods, err = metav1.LabelSelectorAsSelector(p.PodSelector)
			}
			if err == nil && p.NamespaceSelector != nil {
				cp.namespaces, err = metav1.LabelSelectorAsSelector(p.NamespaceSelector)
			}
		}
		if err != nil {
			return rule, fmt.Errorf("peer %d: %w", i, err)
		}
		rule.peers = append(rule.peers, cp)
	}
	return rule, nil
}

func compileBlock(b *networkingv1.IPBlock) (*ipBlock, error) {
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return nil, fmt.Errorf("ipBlock.cidr: %w", err)
	}
	out := &ipBlock{cidr: cidr}
	for _, ex := range b.Except {
		p, err := netip.ParsePrefix(ex)
		if err != nil {
			return nil, fmt.Errorf("ipBlock.except: %w", err)
		}
		out.except = append(out.except, p)
	}
	return out, nil
}

// Allowed decides whether the connection may be opened.
func (e *Evaluator) Allowed(c Connection) Verdict {
	if ok, why := e.direction(c, c.From, true); !ok {
		return Verdict{Reason: why}
	}
	ok, why := e.direction(c, c.To, false)
	if !ok {
		return Verdict{Reason: why}
	}
	return Verdict{Allowed: true, Reason: why}
}

// direction checks the egress of the source (egress=true) or the ingress of the destination.
func (e *Evaluator) direction(c Connection, subject Pod, egress bool) (bool, string) {
	word, peer := "ingress", c.From
	if egress {
		word, peer = "egress", c.To
	}
	var isolating []string
	for _, p := range e.policies {
		if p.namespace != orDefault(subject.Namespace) || !p.selector.Matches(labels.Set(subject.Labels)) {
			continue
		}
		if (egress && !p.egress) || (!egress && !p.ingress) {
			continue
		}
		rules := p.ingressRules
		if egress {
			rules = p.egressRules
		}
		isolating = append(isolating, p.name)
		for _, r := range rules {
			if e.ruleMatches(r, p.namespace, peer, c) {
				return true, fmt.Sprintf("%s of %s allowed by %s", word, podName(subject), p.name)
			}
		}
	}
	if len(isolating) == 0 {
		return true, fmt.Sprintf("%s of %s not isolated", word, podName(subject))
	}
	return false, fmt.Sprintf("%s of %s isolated by %s and no rule allows %s", word, podName(subject),
		strings.Join(isolating, ", "), c)
}

func (e *Evaluator) ruleMatches(r compiledRule, policyNS string, peer Pod, c Connection) bool {
	return e.peersMatch(r.peers, policyNS, peer) && portsMatch(r.ports, c)
}

func (e *Evaluator) peersMatch(peers []compiledPeer, policyNS string, pod Pod) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		if e.peerMatches(p, policyNS, pod) {
			return true
		}
	}
	return false
}

func (e *Evaluator) peerMatches(p compiledPeer, policyNS string, pod Pod) bool {
	if p.block != nil {
		return p.block.contains(pod.IP)
	}
	ns := orDefault(pod.Namespace)
	if p.namespaces == nil {
		if ns != policyNS {
			return false
		}
	} else if !p.namespaces.Matches(e.namespaceLabels(ns)) {
		return false
	}
	return p.pods == nil || p.pods.Matches(labels.Set(pod.Labels))
}

func (e *Evaluator) namespaceLabels(ns string) labels.Set {
	if set, ok := e.namespaces[ns]; ok {
		return set
	}
	return labels.Set{NamespaceNameLabel: ns}
}

func (b *ipBlock) contains(ip netip.Addr) bool {
	if !ip.IsValid() || !b.cidr.Contains(ip) {
		return false
	}
	for _, ex := range b.except {
		if ex.Contains(ip) {
			return false
		}
	}
	return true
}

// portsMatch reads a port as the destination pod's port: a named port is looked up in To.Ports.
func portsMatch(ports []networkingv1.NetworkPolicyPort, c Connection) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		want := corev1.ProtocolTCP
		if p.Protocol != nil {
			want = *p.Protocol
		}
		if want != protocolOf(c.Protocol) {
			continue
		}
		if p.Port == nil {
			return true
		}
		if p.Port.Type == intstr.String { // a named port of the destination pod
			if n, ok := c.To.Ports[p.Port.StrVal]; ok && n == c.Port {
				return true
			}
			continue
		}
		lo, hi := p.Port.IntVal, p.Port.IntVal
		if p.EndPort != nil {
			hi = *p.EndPort
		}
		if c.Port >= lo && c.Port <= hi {
			return true
		}
	}
	return false
}

func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func orDefault(ns string) string {
	if ns == "" {
		return metav1.NamespaceDefault
	}
	return ns
}

func podName(p Pod) string {
	return orDefault(p.Namespace) + "/" + p.Name
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// Parse decodes NetworkPolicies from YAML or JSON, several documents separated by "---" lines.
// Decoding is strict and reads YAML as kubectl does: an unknown or duplicated field is an error, as is any kind other than
// networking.k8s.io/v1 NetworkPolicy. Documents holding only comments are skipped.
func Parse(data []byte) ([]networkingv1.NetworkPolicy, error) {
	var out []networkingv1.NetworkPolicy
	for i, doc := range docSeparator.Split(string(data), -1) {
		if isBlank([]byte(doc)) {
			continue
		}
		var p networkingv1.NetworkPolicy
		if err := DecodeStrict([]byte(doc), &p); err != nil {
			return nil, fmt.Errorf("document %d: %w", i+1, err)
		}
		if p.APIVersion != "networking.k8s.io/v1" || p.Kind != "NetworkPolicy" {
			return nil, fmt.Errorf("document %d: %s %s is not a networking.k8s.io/v1 NetworkPolicy", i+1, p.APIVersion, p.Kind)
		}
		out = append(out, p)
	}
	return out, nil
}

// DecodeStrict reads YAML the way kubectl does (YAML 1.1 scalars: an unquoted on is a boolean),
// failing on duplicated keys and on fields the API type does not have.
func DecodeStrict(doc []byte, into any) error {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	return dec.Decode(into)
}

func isBlank(doc []byte) bool {
	for _, line := range bytes.Split(doc, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' {
			return false
		}
	}
	return true
}
