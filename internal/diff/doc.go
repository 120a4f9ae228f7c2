// Package diff compares two results folders figure by figure, for `chaoslab diff OLD NEW`: two
// run folders, two compare folders (each profile both ran: resilient, adaptive, baseline)
// or two suite folders (entry by entry, by name). Each run is read from its summary.json
// (report.ReadSummaryJSON), or, in a folder written before summary.json existed, analyzed from
// its raw files (report.Load and report.NewSummary).
//
// Every figure knows which way is worse and how much worse it may get before it is a regression
// (its Tolerance: the larger of a share of OLD and an absolute amount in the figure's unit);
// Options overrides the defaults. A figure measured in OLD but not in NEW is a regression, and
// so is a verdict going from passed to failed. Compare makes a Result; Write prints it as a
// table, Markdown or JSON.
//
// The figures are a registry (figures), from which the comparison, the tolerance names
// --tolerance accepts and --help are all made. Nothing here keeps package-level mutable state.
package diff
