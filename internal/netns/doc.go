// Package netns builds the Linux network-namespace topology that gives chaoslab a real network
// partition, and tears it down again.
//
// A Topology is two namespaces, chaoslab-client-<id> and chaoslab-backend-<id>, joined by one veth
// pair (clb-<id>-c in the client, clb-<id>-b in the backend), plus a second veth pair between the
// root namespace (clb-<id>-h) and the client namespace (clb-<id>-r) so that load and probes started
// in the root namespace reach the client service. Every address comes from the benchmarking range
// 198.18.0.0/15, one /29 block per topology: two /30s, client<->backend and root<->client. No IP
// forwarding is involved.
//
//	root ns                 chaoslab-client-<id>               chaoslab-backend-<id>
//	clb-<id>-h  <-------->  clb-<id>-r
//	HostAddr                ClientHostAddr
//	                        clb-<id>-c  <------------------->  clb-<id>-b
//	                        ClientAddr                         BackendAddr
//
// The partition is the one from the seed guide, run inside the client namespace:
//
//	iptables -A OUTPUT -d <BackendAddr> -j DROP
//
// and healing is the matching -D. Partition verifies the fault with a fresh TCP connect from the
// client namespace and fails when that connect still succeeds.
//
// Cleanup is by name: every namespace named chaoslab-* and every root-namespace link named clb-*
// belongs to this package. A live topology holds an flock on /run/chaoslab/netns/<id>.lock for as
// long as its process lives (the kernel drops it when the process dies, SIGKILL included), so
// CleanupLeftovers removes what earlier, killed runs left behind without touching topologies that
// are still in use by another process.
//
// Everything here needs root, the ip command (iproute2) and iptables; Preflight says which is
// missing. The package has no package-level mutable state; a Topology's methods are safe for
// concurrent use.
package netns
