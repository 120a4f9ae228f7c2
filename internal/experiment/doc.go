// Package experiment reads, validates and runs Chaos Toolkit experiments: a Go re-implementation of
// `chaos validate` and `chaos run` (chaostoolkit-lib 1.44.0) for the http and process providers.
//
// The behaviour follows the conformance vectors in internal/conformance/testdata (copied from
// shared/conformance: the real tool's journals, case by case), with three deliberate differences:
//   - invalid input is a *ValidationError that satisfies errors.Is(err, cmdutil.ErrUsage), so a
//     command exits 2 (the real tool exits 1);
//   - a regex tolerance whose target is a parsed JSON body matches the body's JSON text (the real
//     tool crashes with a TypeError);
//   - the default rollback strategy (Options.RollbackStrategy "") is "always"; "default" is the
//     real tool's default and is supported exactly.
//
// A run goes: hypothesis before -> method -> hypothesis after -> rollbacks (see Run). Providers
// and tolerances are registries written as map literals of functions (providers and tolerances
// functions); validation reads its names from the same maps. A python provider cannot run here:
// Validate reports it as a note naming the module and function (checked against a catalogue of
// chaostoolkit-kubernetes functions), and Run refuses it before anything starts.
//
// Values decoded from JSON keep Python's shapes: integers are int64, other numbers float64,
// objects are *Object (keys in document order, as Python's dict keeps them; YAML input comes
// through sigs.k8s.io/yaml, which sorts keys), arrays []any.
package experiment
