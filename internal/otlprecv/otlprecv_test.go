package otlprecv

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// export sends spans made by the OpenTelemetry SDK to rc over OTLP/HTTP, as a service does, and
// returns the SDK's view of the trace: the parent's and the child's span contexts.
func export(t *testing.T, rc *Receiver, opts ...otlptracehttp.Option) (parent, child trace.SpanContext) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("POST "+Path, rc)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()
	exp, err := otlptracehttp.New(ctx, append([]otlptracehttp.Option{otlptracehttp.WithEndpointURL(srv.URL + Path)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "client-service"), attribute.String("chaoslab.tier", "edge"))))
	tr := tp.Tracer("chaoslab/test")
	pctx, ps := tr.Start(ctx, "GET /api/data", trace.WithSpanKind(trace.SpanKindServer))
	_, cs := tr.Start(pctx, "GET", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.Int("http.request.resend_count", 2), attribute.String("error.type", "503"),
		attribute.Bool("b", true), attribute.Float64("f", 1.5), attribute.StringSlice("s", []string{"x", "y"})))
	cs.SetStatus(codes.Error, "backend answered 503")
	cs.End()
	ps.AddEvent("chaoslab.retry", trace.WithAttributes(attribute.Int("chaoslab.attempt", 1), attribute.Float64("chaoslab.wait_ms", 10)))
	ps.AddEvent("chaoslab.fallback")
	ps.End()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("exporting: %v", err)
	}
	return ps.SpanContext(), cs.SpanContext()
}

func TestReceiveFromTheSDK(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts []otlptracehttp.Option
	}{
		{"plain", nil},
		{"gzip", []otlptracehttp.Option{otlptracehttp.WithCompression(otlptracehttp.GzipCompression)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rc := New(0)
			parent, child := export(t, rc, tt.opts...)
			spans := rc.Trace(parent.TraceID().String())
			if len(spans) != 2 || rc.Len() != 2 || rc.Requests() != 2 {
				t.Fatalf("%d spans of the trace, %d in all, %d requests; want 2, 2, 2 (one per span: a syncer)", len(spans), rc.Len(), rc.Requests())
			}
			c, p := spans[0], spans[1]
			if c.SpanID != child.SpanID().String() || c.ParentSpanID != parent.SpanID().String() || p.ParentSpanID != "" {
				t.Errorf("ids: child %s under %s, parent under %q; want %s under %s, a root", c.SpanID, c.ParentSpanID, p.ParentSpanID, child.SpanID(), parent.SpanID())
			}
			if c.Kind != "CLIENT" || p.Kind != "SERVER" || c.Name != "GET" || p.Name != "GET /api/data" {
				t.Errorf("kinds %s %s, names %q %q", c.Kind, p.Kind, c.Name, p.Name)
			}
			want := map[string]any{"http.request.resend_count": int64(2), "error.type": "503", "b": true, "f": 1.5, "s": []any{"x", "y"}}
			if !reflect.DeepEqual(c.Attributes, want) {
				t.Errorf("attributes %v, want %v", c.Attributes, want)
			}
			if c.Status != (Status{Code: "ERROR", Message: "backend answered 503"}) || p.Status.Code != "UNSET" {
				t.Errorf("statuses %+v, %+v", c.Status, p.Status)
			}
			if c.Service != "client-service" || c.Resource["chaoslab.tier"] != "edge" || c.Scope != "chaoslab/test" {
				t.Errorf("service %q, resource %v, scope %q", c.Service, c.Resource, c.Scope)
			}
			if len(p.Events) != 2 || p.Events[0].Name != "chaoslab.retry" || p.Events[0].Attributes["chaoslab.wait_ms"] != 10.0 ||
				p.Events[1].Name != "chaoslab.fallback" || p.Events[0].Time.After(p.Events[1].Time) {
				t.Errorf("events %+v", p.Events)
			}
			if !p.Start.Before(p.End) || c.Start.Before(p.Start) || c.End.After(p.End) || time.Since(p.End) > time.Minute {
				t.Errorf("times: parent %v..%v, child %v..%v", p.Start, p.End, c.Start, c.End)
			}
		})
	}
}

// TestLimit: spans over the limit are refused, counted and told to the exporter.
func TestLimit(t *testing.T) {
	rc := New(1)
	export(t, rc)
	if rc.Len() != 1 || rc.Rejected() != 1 {
		t.Errorf("kept %d, rejected %d; want 1 and 1", rc.Len(), rc.Rejected())
	}
}

func TestBadRequests(t *testing.T) {
	rc := New(0)
	tests := []struct {
		name, method, ctype, encoding, body string
		status                              int
	}{
		{"GET", http.MethodGet, "", "", "", http.StatusMethodNotAllowed},
		{"JSON", http.MethodPost, "application/json", "", "{}", http.StatusUnsupportedMediaType},
		{"not protobuf", http.MethodPost, "application/x-protobuf", "", "\xff\xff\xff", http.StatusBadRequest},
		{"not gzip", http.MethodPost, "application/x-protobuf", "gzip", "plain", http.StatusBadRequest},
		{"unknown encoding", http.MethodPost, "application/x-protobuf", "br", "", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, Path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.ctype)
			req.Header.Set("Content-Encoding", tt.encoding)
			w := httptest.NewRecorder()
			rc.ServeHTTP(w, req)
			if w.Code != tt.status {
				t.Errorf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
		})
	}
	if rc.Len() != 0 || rc.Requests() != 0 {
		t.Errorf("bad requests left %d spans, %d requests counted", rc.Len(), rc.Requests())
	}
}
