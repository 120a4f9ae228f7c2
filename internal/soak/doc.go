// Package soak keeps a stack under load and rotating faults for a long time and decides whether
// it leaks: it samples each process's memory (RSS), goroutines or threads and open file
// descriptors from /proc, prints them as a table and a CSV, and judges the samples with fixed,
// written-down rules (Judge). It knows nothing of how the stack or the load are started:
// chaoslab soak (internal/cli) wires them in through small function fields.
package soak
