// Package stack supervises the services a lab run tests: backend-service and client-service as
// child processes (watched like pods: their logs copied to files and turned into events, their
// exit noticed at once) and the fault API between them. The kinds of stack are one registry
// (Kinds): "local" (children on loopback, an embedded Toxiproxy between them) and "netns" (each
// child in its own Linux network namespace, the partition made with iptables). Both expose the
// same Toxiproxy-shaped fault API, so one experiment file drives either.
package stack
