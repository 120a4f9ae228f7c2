package chaos

import _ "embed" // the Kubernetes experiments

// K8sPartitionExperiment is chaos/network-partition-experiment.json: the network partition on
// Kubernetes (chaosk8s NetworkPolicy). `chaoslab run --stack k8s` runs it when no experiment
// file is given; the same file runs under the real `chaos run`.
//
//go:embed network-partition-experiment.json
var K8sPartitionExperiment string

// K8sPartitionExperimentPath is where K8sPartitionExperiment lives in the repository.
const K8sPartitionExperimentPath = "chaos/network-partition-experiment.json"
