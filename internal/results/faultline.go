package results

import (
	"encoding/json"
	"time"
)

// Values of AttrEvent in the fault proxy's records (`chaoslab serve fault-proxy`, the sidecar
// beside the backend on Kubernetes): one record per fault on/off and per step of a process
// fault, whose time is the change's own. internal/sidecar writes them and DecodeFaultLine reads
// them; a test in each package pins the other side.
const (
	LogFault   = "fault"   // a fault came into effect or went (AttrAction on|off)
	LogProcess = "process" // a process fault's step (AttrAction kill|start)
)

// Attribute keys of the fault proxy's records, beside AttrEvent.
const (
	AttrAction  = "action"   // fault: on|off; process: kill|start
	AttrKind    = "kind"     // fault: the kinds in effect (partition, http-errors, crash, ...), joined by "+"
	AttrDetail  = "detail"   // fault, process: what happened and its parameters, for a person
	AttrProcess = "process"  // process: the service killed, or back (backend-service)
	AttrPID     = "pid"      // process: the killed or the new process
	AttrSinceMS = "since_ms" // process start: the time since the kill, in ms
)

// faultLine is the part of a fault proxy's JSON record that DecodeFaultLine reads.
type faultLine struct {
	Time    time.Time `json:"time"`
	Event   string    `json:"event"`
	Action  string    `json:"action"`
	Kind    string    `json:"kind"`
	Detail  string    `json:"detail"`
	Process string    `json:"process"`
	SinceMS float64   `json:"since_ms"`
}

// DecodeFaultLine turns one JSON record of the fault proxy into the results event it records: a
// KindFault event (Action on|off, Name the kinds, Message the detail) or a KindProcess event
// (Action kill|start, Service, Message, DurationMS since the kill). ok is false for a line that
// is not JSON or is no such record.
func DecodeFaultLine(line []byte) (e Event, ok bool) {
	var l faultLine
	if json.Unmarshal(line, &l) != nil {
		return Event{}, false
	}
	switch {
	case l.Event == LogFault && (l.Action == "on" || l.Action == "off"):
		return Event{Time: l.Time, Kind: KindFault, Action: l.Action, Name: l.Kind, Message: l.Detail}, true
	case l.Event == LogProcess && (l.Action == "kill" || l.Action == "start"):
		return Event{Time: l.Time, Kind: KindProcess, Action: l.Action, Service: l.Process, Message: l.Detail, DurationMS: l.SinceMS}, true
	}
	return Event{}, false
}
