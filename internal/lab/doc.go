// Package lab orchestrates one chaoslab run on any stack: it prepares and starts a Stack (a
// plug: Processes for local and netns, package k8s for a cluster, a fake in the tests), drives
// an open-loop load against it, runs a Chaos Toolkit experiment, keeps the load through a
// recovery window, hands everything the run produced to the analysis in memory (a results.Run,
// judged by report.Judge) and writes the results folder once. When the backend has a capacity
// model, the run reads it about once a second through the stack's backend URL (capacity.csv).
// Compare runs the same once per profile.
//
// The house, before (two runners, every capability built twice or only once):
//
//	cli ──> lab.Run ──> stack.Start (local, netns)      cli ──> k8s.Run ──> cluster
//	        phases, status line, load, experiment,              its own phases, ticker, load,
//	        snapshots, results, verdict                         experiment, snapshots, results
//
// and after (one runner; a stack knows nothing of phases, status lines or verdicts):
//
//	cli ──> lab.Run ── phases, status line, load, experiment, snapshots, results, verdict
//	           │
//	           └─ Stack: Prepare, Start -> Running: Endpoints, Native, Died, Breaker,
//	                     FaultLeft, Snapshot, Close
//	                ├─ lab.Processes{local|netns} ─> package stack (child processes, Toxiproxy, iptables)
//	                └─ k8s.Stack ─> client-go activities, the API server's proxies, pod logs,
//	                               the fault sidecar, cleanup of labelled objects
package lab
