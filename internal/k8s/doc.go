// Package k8s is chaoslab on Kubernetes: the chaostoolkit-kubernetes (chaosk8s 0.39) activities
// chaoslab's own Kubernetes experiments use, run natively with client-go (Activities); the
// prerequisites of a run (Preflight); port-forwards to the services; the client pods' log
// streams decoded into the typed event stream; and the removal of everything a run created
// (every object carries the label RunLabel naming its run; Leftovers finds what a killed run
// left behind).
package k8s
