// Package bench measures resilience profiles against each other on the local stack: the same
// faults, the same load, one profile after another (chaoslab bench). Every figure comes from the
// runs themselves, through the report's analysis of each run (internal/report): detection and
// recovery from a network partition, the attempts that timed out on a healthy backend, the
// amplification and the backend's share of the answers under 30 % HTTP 503s, the recovery from
// a latency step, and the closed-loop throughput on a healthy backend. The table puts each
// profile's figures side by side with the ratio of the last profile to the first.
package bench
