// Package chaos holds the experiments that ship inside the chaoslab binary. The files themselves
// live beside it, so the same JSON runs under `chaoslab run` and the real `chaos run`.
package chaos

import _ "embed"

// LocalPartitionExperiment is chaos/local/network-partition-experiment.json: the seed guide's
// network partition for the local stack (and, unchanged, for --stack netns). `chaoslab run`
// runs it when no experiment file is given.
//
//go:embed local/network-partition-experiment.json
var LocalPartitionExperiment string

// LocalPartitionExperimentPath is where LocalPartitionExperiment lives in the repository.
const LocalPartitionExperimentPath = "chaos/local/network-partition-experiment.json"
