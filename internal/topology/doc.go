// Package topology reads the call graphs a local run can start instead of today's two services:
// client-service tiers, each the client-service binary with its own variables, calling the next
// tier or backend-service. A topology is a YAML (or JSON) file, or a built-in by name (Names):
//
//	name: chain-3
//	backend: {env: {BACKEND_WORKERS: "8"}}   # backend-service's variables
//	tiers:                                   # each calls the next one listed; the last calls the backend
//	  - {name: edge, env: {RESILIENCE: "on"}}
//	  - {name: mid}
//	  - {name: client, calls: backend}       # calls names the next hop: a tier, or backend
//
// A tier that no tier calls is an entry: the load goes to the entries, round robin. Several
// entries calling one tier (or the backend) make a fan-in. Load decodes strictly (an unknown
// field is an error naming its path), fills the defaults, then validates: names unique and
// valid as TIER values, calls naming a tier or the backend, no cycle (so every tier reaches the
// backend), variables that client-service (or backend-service) knows and the lab does not set
// itself. A mistake is a usage error of one line naming the file and the field. The variables'
// values are checked where they meet the run's --env (stack.CheckTopology).
//
// The package knows nothing of processes, proxies or phases: it hands the stack a graph
// (BottomUp, Entries) and the results a record of it (Record).
package topology
