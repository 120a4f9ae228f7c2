package fault

import "strings"

// Injected is one fault in effect, as the fault API reports it and the run's events name it.
type Injected struct {
	Kind   string // what kind of fault: one of the Kind constants
	Detail string // the fault and its parameters, for a person: "latency 1500 ms ± 200 ms, downstream (toxic backend-latency)"
	Target string // where it acts: the proxy or HTTP hop's name ("backend", a tier), the service a crash took down, the spike's entry URLs
}

// Kinds of fault, as fault events name them (results.Event.Name of a KindFault event).
const (
	KindPartition  = "partition"        // a blackhole: Toxiproxy timeout toxic with timeout 0, or iptables DROP
	KindTimeout    = "timeout"          // Toxiproxy timeout toxic with a timeout > 0: data stops, then the connection closes
	KindLatency    = "latency"          // Toxiproxy latency toxic
	KindBandwidth  = "slow-body"        // Toxiproxy bandwidth toxic: the answer trickles
	KindReset      = "connection-reset" // Toxiproxy reset_peer toxic
	KindRefuse     = "refuse"           // the proxy disabled: connections refused
	KindToxic      = "toxic"            // any other Toxiproxy toxic (slicer, limit_data, slow_close)
	KindHTTPErrors = "http-errors"      // the L7 injector aborts a share of requests with an HTTP status
	KindHTTPDelay  = "http-delay"       // the L7 injector delays a share of requests
	KindCrash      = "crash"            // a service was killed (and may be restarted after a delay)
	KindFlapping   = "flapping"         // the partition goes on and off on a schedule
	KindCapacity   = "capacity"         // the backend's capacity changed through its /api/capacity (fewer workers, slower service)
	KindSpike      = "load-spike"       // extra requests sent to the entry clients at an open-loop rate
)

// kindsOf returns the distinct kinds of faults in effect, in order, joined by "+".
func kindsOf(in []Injected) string {
	var kinds []string
	for _, i := range in {
		dup := false
		for _, k := range kinds {
			dup = dup || k == i.Kind
		}
		if !dup {
			kinds = append(kinds, i.Kind)
		}
	}
	return strings.Join(kinds, "+")
}

// detailsOf joins the details of the faults in effect.
func detailsOf(in []Injected) string {
	ds := make([]string, len(in))
	for i, x := range in {
		ds[i] = x.Detail
	}
	return strings.Join(ds, "; ")
}
