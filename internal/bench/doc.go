// Package bench measures resilience profiles against each other on the local stack: the same
// faults, the same load, one profile after another (chaoslab bench). Every figure comes from the
// runs themselves, through the report's analysis of each run (internal/report): detection and
// recovery from a network partition, the attempts that timed out on a healthy backend, the
// amplification and the backend's share of the answers under 30 % HTTP 503s, the recovery from
// a latency step, and the closed-loop throughput on a healthy backend. The table puts each
// profile's figures side by side with the ratio of the last profile to the first.
//
// The service bench (RunService, chaoslab bench service) measures one client-service under
// load instead: open-loop latency at fixed rates, healthy and with the breaker OPEN and
// HALF_OPEN, and closed-loop throughput against proxies in front of the same backend, with
// counts checked against the backend's own.
package bench
