package load

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// TraceparentHeader is the W3C Trace Context header the load sends (Config.TraceSample).
const TraceparentHeader = "traceparent"

// traceparent is one W3C trace context: a trace id, the id of the load's own (unrecorded)
// span, the parent of the entry service's SERVER span, and the sampled flag.
type traceparent struct {
	traceID [16]byte
	spanID  [8]byte
	sampled bool
}

// newTraceparent draws fresh random ids and decides sampled for share of the trace ids.
//
// The ids come from crypto/rand, not from a seeded generator: two runs sending to one
// collector must never reuse a trace id, and the ids decide nothing a run is judged on.
func newTraceparent(share float64) (traceparent, error) {
	var tp traceparent
	for isZero(tp.traceID[:]) || isZero(tp.spanID[:]) { // all zeros is an invalid id
		if _, err := rand.Read(tp.traceID[:]); err != nil {
			return tp, fmt.Errorf("drawing a trace id: %w", err)
		}
		if _, err := rand.Read(tp.spanID[:]); err != nil {
			return tp, fmt.Errorf("drawing a span id: %w", err)
		}
	}
	tp.sampled = sampledFor(tp.traceID, share)
	return tp, nil
}

// sampledFor is OpenTelemetry's TraceIDRatioBased decision: the trace id's last 8 bytes,
// shifted right once, below share * 2^63.
func sampledFor(id [16]byte, share float64) bool {
	if share >= 1 {
		return true
	}
	return binary.BigEndian.Uint64(id[8:])>>1 < uint64(share*(1<<63))
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// TraceID is the trace id as 32 lower-case hex digits.
func (tp traceparent) TraceID() string { return hex.EncodeToString(tp.traceID[:]) }

// String is the header's value: version 00, trace id, parent id, flags 01 (sampled) or 00.
func (tp traceparent) String() string {
	flags := "00"
	if tp.sampled {
		flags = "01"
	}
	return "00-" + tp.TraceID() + "-" + hex.EncodeToString(tp.spanID[:]) + "-" + flags
}
