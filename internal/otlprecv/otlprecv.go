// Package otlprecv is a small OTLP/HTTP trace receiver: an http.Handler for POST /v1/traces that
// decodes the collector's wire format (go.opentelemetry.io/proto/otlp, binary protobuf, gzip or
// not) and keeps the spans in memory, flattened into Span values that encode to JSON. Tests use
// it on loopback as the services' collector; the lab can keep a run's spans with it.
package otlprecv

import (
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// Path is where OTLP/HTTP exporters send spans, under their endpoint.
const Path = "/v1/traces"

// maxBody bounds one export request, decompressed.
const maxBody = 32 << 20

// Span is one received span.
type Span struct {
	TraceID      string         `json:"trace_id"`       // 32 hex digits
	SpanID       string         `json:"span_id"`        // 16 hex digits
	ParentSpanID string         `json:"parent_span_id"` // "" for a root
	Name         string         `json:"name"`
	Kind         string         `json:"kind"` // SERVER, CLIENT, INTERNAL, PRODUCER, CONSUMER or UNSPECIFIED
	Start        time.Time      `json:"start"`
	End          time.Time      `json:"end"`
	Attributes   map[string]any `json:"attributes,omitempty"`
	Events       []Event        `json:"events,omitempty"`
	Status       Status         `json:"status"`
	Service      string         `json:"service"` // the resource's service.name
	Resource     map[string]any `json:"resource,omitempty"`
	Scope        string         `json:"scope"` // the instrumentation scope's name
}

// Event is a span event.
type Event struct {
	Name       string         `json:"name"`
	Time       time.Time      `json:"time"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

// Status is a span's status: Code UNSET, OK or ERROR.
type Status struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

// Receiver keeps the spans it receives, up to a limit. It is safe for concurrent use.
type Receiver struct {
	max int

	mu       sync.Mutex
	spans    []Span
	rejected int64 // spans refused: over the limit
	requests int64 // export requests accepted
}

// New returns a receiver that keeps at most max spans (0 = no limit); it refuses the rest, and
// says so to the exporter (a partial success) and in Rejected.
func New(max int) *Receiver { return &Receiver{max: max} }

// ServeHTTP takes one OTLP/HTTP export request: POST, Content-Type application/x-protobuf,
// optionally Content-Encoding gzip. It answers 200 with an ExportTraceServiceResponse, or 4xx
// with a plain-text reason.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "OTLP/HTTP takes POST", http.StatusMethodNotAllowed)
		return
	}
	if ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(ct) != "application/x-protobuf" {
		http.Error(w, "this receiver takes OTLP/HTTP in binary protobuf (Content-Type: application/x-protobuf), not "+ct, http.StatusUnsupportedMediaType)
		return
	}
	body, err := readBody(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, "not an OTLP ExportTraceServiceRequest: "+err.Error(), http.StatusBadRequest)
		return
	}
	resp := &coltracepb.ExportTraceServiceResponse{}
	if rejected := rc.keep(flatten(&req)); rejected > 0 {
		resp.PartialSuccess = &coltracepb.ExportTracePartialSuccess{RejectedSpans: rejected,
			ErrorMessage: fmt.Sprintf("the receiver keeps at most %d spans", rc.max)}
	}
	out, err := proto.Marshal(resp)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// readBody reads a request's body, gunzipped if it says so, up to maxBody.
func readBody(r *http.Request) ([]byte, error) {
	var src io.Reader = r.Body
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("a gzip body that does not start as one: %w", err)
		}
		defer zr.Close()
		src = zr
	default:
		return nil, fmt.Errorf("Content-Encoding %q: this receiver takes gzip or none", enc)
	}
	body, err := io.ReadAll(io.LimitReader(src, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the export request: %w", err)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("an export request over %d bytes", maxBody)
	}
	return body, nil
}

// keep stores spans up to the limit and returns how many it refused.
func (rc *Receiver) keep(spans []Span) int64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	n := len(spans)
	if rc.max > 0 {
		n = max(0, min(n, rc.max-len(rc.spans)))
	}
	rc.spans = append(rc.spans, spans[:n]...)
	rc.rejected += int64(len(spans) - n)
	return int64(len(spans) - n)
}

// Spans returns the spans received so far, in the order they came.
func (rc *Receiver) Spans() []Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.spans)
}

// Len is the number of spans kept.
func (rc *Receiver) Len() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.spans)
}

// Rejected is the number of spans refused because the limit was reached.
func (rc *Receiver) Rejected() int64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.rejected
}

// Requests is the number of export requests taken.
func (rc *Receiver) Requests() int64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.requests
}

// Trace returns the spans of trace id (hex), in the order they came.
func (rc *Receiver) Trace(id string) []Span {
	var out []Span
	for _, s := range rc.Spans() {
		if s.TraceID == id {
			out = append(out, s)
		}
	}
	return out
}

// flatten turns an export request into spans, each with its resource and scope.
func flatten(req *coltracepb.ExportTraceServiceRequest) []Span {
	var out []Span
	for _, rs := range req.GetResourceSpans() {
		res := attributes(rs.GetResource().GetAttributes())
		service, _ := res["service.name"].(string)
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				sp := span(s)
				sp.Service, sp.Resource, sp.Scope = service, res, ss.GetScope().GetName()
				out = append(out, sp)
			}
		}
	}
	return out
}

func span(s *tracepb.Span) Span {
	sp := Span{TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
		ParentSpanID: hex.EncodeToString(s.GetParentSpanId()), Name: s.GetName(),
		Kind:  strings.TrimPrefix(s.GetKind().String(), "SPAN_KIND_"),
		Start: unixNano(s.GetStartTimeUnixNano()), End: unixNano(s.GetEndTimeUnixNano()),
		Attributes: attributes(s.GetAttributes()),
		Status: Status{Code: strings.TrimPrefix(s.GetStatus().GetCode().String(), "STATUS_CODE_"),
			Message: s.GetStatus().GetMessage()},
	}
	for _, e := range s.GetEvents() {
		sp.Events = append(sp.Events, Event{Name: e.GetName(), Time: unixNano(e.GetTimeUnixNano()), Attributes: attributes(e.GetAttributes())})
	}
	return sp
}

func unixNano(ns uint64) time.Time { return time.Unix(0, int64(ns)).UTC() }

func attributes(kvs []*commonpb.KeyValue) map[string]any {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = value(kv.GetValue())
	}
	return m
}

// value is an attribute's value as Go: string, bool, int64, float64, []byte, []any or
// map[string]any.
func value(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonpb.AnyValue_BytesValue:
		return x.BytesValue
	case *commonpb.AnyValue_ArrayValue:
		out := make([]any, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			out = append(out, value(e))
		}
		return out
	case *commonpb.AnyValue_KvlistValue:
		return attributes(x.KvlistValue.GetValues())
	}
	return nil
}
