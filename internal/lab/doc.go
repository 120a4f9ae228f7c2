// Package lab orchestrates one chaoslab run: it starts a stack (package stack), drives an
// open-loop load against it, runs a Chaos Toolkit experiment, keeps the load through a recovery
// window, hands everything the run produced to the analysis in memory (a results.Run, judged by
// report.Judge) and writes the results folder once. Compare runs the same twice, without and
// with the resilience patterns.
package lab
