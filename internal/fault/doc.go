// Package fault holds chaoslab's fault injectors and the HTTP API experiments use to drive them.
//
// One API server (API) on 127.0.0.1 answers every fault request, so one experiment file drives
// every stack, under `chaoslab run` and under the real `chaos run`:
//
//   - TCP faults through Toxiproxy's own REST API (/proxies/backend/toxics ...). On the laptop
//     that is a real, embedded Toxiproxy (Proxy) between the client and the backend: a partition
//     is a `timeout` toxic with `timeout: 0` on both streams (a blackhole), "refuse" is the proxy
//     disabled, latency, bandwidth and reset_peer are toxics. With network namespaces
//     (PartitionAPI) the same requests are answered by a Toxiproxy-shaped API whose only toxic is
//     the partition, made with iptables in the kernel.
//   - HTTP faults (/faults/http): an L7 injector (HTTPFaults) in the data path, next to the
//     backend, with the semantics of Envoy's fault filter (abort: percentage + status; delay:
//     percentage + duration).
//   - Process faults (/processes/...): kill a service with a signal and restart it after a delay,
//     as a kubelet would.
//   - A flapping partition (/faults/flapping): the partition on and off on a schedule, at proxy
//     "backend" or (Hops, the local stack's call graphs) at a named hop's proxy.
//   - A capacity fault (/faults/capacity): the backend's capacity model changed through its own
//     /api/capacity (fewer workers, a slower service) and put back when the fault is removed.
//   - A load spike (/faults/spike): extra requests to the entry clients at an open-loop rate for
//     a while, on top of the lab's own load.
//
// The API reports every change between "no fault" and "fault in effect" to a callback, which the
// lab turns into the fault on/off events that delimit the phases of a run. Only this package
// imports Toxiproxy.
package fault
