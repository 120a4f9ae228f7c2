// Package sidecar is `chaoslab serve fault-proxy`: the lab's fault data path and fault API as one
// process beside the backend, in the backend's pod on Kubernetes.
//
// Clients reach the backend through it, as on the local stack: the Toxiproxy proxy "backend"
// (TCP faults) listens on LISTEN_ADDR and forwards to the L7 injector (HTTP faults, Envoy's
// fault-filter semantics), which forwards to the backend on UPSTREAM, on loopback (the pod's
// containers share one network namespace). The fault API, the local stack's own (internal/fault),
// listens on FAULT_API_ADDR and also answers /healthz and /readyz. With the pod's
// shareProcessNamespace, process faults find the backend's process in /proc (Processes) and
// signal it; the kubelet restarts the container. Every fault on/off and every process fault's
// step is one structured log record (results.DecodeFaultLine reads them back).
package sidecar
