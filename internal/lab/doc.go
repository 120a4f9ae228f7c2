// Package lab runs chaoslab's local chaos lab: it starts backend-service and client-service as
// child processes (watched like pods), puts a fault injector between them, drives an open-loop
// load, runs a Chaos Toolkit experiment against the stack and writes the results folder that
// internal/report reads.
//
// Stacks: "local" (children on loopback, an embedded Toxiproxy between them) and "netns" (each
// child in its own Linux network namespace, the partition made with iptables). Both expose the
// same Toxiproxy-shaped fault API, so one experiment file drives either.
package lab
