package lab

import (
	"context"
	"strings"
	"testing"

	"chaoslab/internal/results"
)

// namedStack is a stack that starts nothing, under a name.
type namedStack struct{ name string }

func (s namedStack) Name() string { return s.name }
func (s namedStack) Prepare(_ context.Context, env map[string]string) (map[string]string, error) {
	return env, nil
}
func (s namedStack) Start(context.Context, StartEnv) (Running, error) { return nil, nil }

// Where a run's spans go: nowhere when off (and no traceparent), the user's endpoint when set
// (from the environment or --env, never overridden), the lab's receiver on the local stack
// with the user's own sampler or names kept, nowhere on a stack whose services cannot reach
// loopback.
func TestPlanTraces(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	local := Processes{Kind: "local"}
	tests := []struct {
		name       string
		cfg        RunConfig
		sample     float64
		kept       bool
		endpoint   string // "" = none; "lab" = the lab's receiver
		noteHas    string
		serviceEnv map[string]string // client-service's variables from the lab; nil = none
	}{
		{name: "off", cfg: RunConfig{Stack: local, LookupEnv: env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"})}},
		{name: "local", cfg: RunConfig{Stack: local, LookupEnv: env(nil), Traces: TraceConfig{On: true}}, sample: 1, kept: true, endpoint: "lab",
			serviceEnv: map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_always_on", "OTEL_SERVICE_NAME": "client-service"}},
		{name: "a share", cfg: RunConfig{Stack: local, LookupEnv: env(nil), Traces: TraceConfig{On: true, Sample: 0.1}}, sample: 0.1, kept: true, endpoint: "lab",
			serviceEnv: map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_always_on", "OTEL_SERVICE_NAME": "client-service"}},
		{name: "user's sampler kept", cfg: RunConfig{Stack: local, LookupEnv: env(map[string]string{"OTEL_TRACES_SAMPLER": "parentbased_traceidratio"}), Traces: TraceConfig{On: true}},
			sample: 1, kept: true, endpoint: "lab", noteHas: "kept your OTEL_TRACES_SAMPLER=parentbased_traceidratio",
			serviceEnv: map[string]string{"OTEL_SERVICE_NAME": "client-service"}},
		{name: "user's endpoint", cfg: RunConfig{Stack: local, LookupEnv: env(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}), Traces: TraceConfig{On: true}},
			sample: 1, endpoint: "http://c:4318", noteHas: "your OTEL_EXPORTER_OTLP_ENDPOINT=http://c:4318"},
		{name: "user's traces endpoint in --env", cfg: RunConfig{Stack: local, LookupEnv: env(nil), ClientEnv: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"},
			Traces: TraceConfig{On: true}}, sample: 1, endpoint: "http://c:4318/v1/traces", noteHas: "your OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{name: "netns", cfg: RunConfig{Stack: Processes{Kind: "netns"}, LookupEnv: env(nil), Traces: TraceConfig{On: true}}, noteHas: "netns stack's services run in their own network namespaces"},
		{name: "k8s", cfg: RunConfig{Stack: namedStack{"k8s"}, LookupEnv: env(nil), Traces: TraceConfig{On: true}}, noteHas: "the k8s stack's services cannot reach"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := planTraces(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer p.close()
			if p.sample != tt.sample {
				t.Errorf("load's trace sample = %v, want %v", p.sample, tt.sample)
			}
			info := p.info
			if tt.endpoint == "" && tt.noteHas == "" {
				if info != nil || p.startLine() != "" {
					t.Errorf("off: info %+v, line %q", info, p.startLine())
				}
				return
			}
			if info == nil {
				t.Fatal("no traces info")
			}
			want := tt.endpoint
			if want == "lab" {
				want = p.endpoint()
				if !strings.HasPrefix(want, "http://127.0.0.1:") {
					t.Errorf("the lab's receiver at %s, want loopback", want)
				}
			}
			if info.Endpoint != want || info.Kept != tt.kept || !strings.Contains(info.Note, tt.noteHas) {
				t.Errorf("info = %+v; want endpoint %s, kept %t, a note with %q", info, want, tt.kept, tt.noteHas)
			}
			if !strings.Contains(p.startLine(), "traces: ") && !strings.Contains(p.startLine(), tt.noteHas) {
				t.Errorf("start line %q", p.startLine())
			}
			se := p.serviceEnv()
			if (se == nil) != (tt.serviceEnv == nil) {
				t.Fatalf("service env set %t, want %t", se != nil, tt.serviceEnv != nil)
			}
			if se == nil {
				return
			}
			got := se(results.ClientService)
			if got["OTEL_EXPORTER_OTLP_ENDPOINT"] != p.endpoint() {
				t.Errorf("client-service's endpoint = %q, want %s", got["OTEL_EXPORTER_OTLP_ENDPOINT"], p.endpoint())
			}
			delete(got, "OTEL_EXPORTER_OTLP_ENDPOINT")
			if len(got) != len(tt.serviceEnv) {
				t.Errorf("client-service's variables = %v, want the endpoint and %v", got, tt.serviceEnv)
			}
			for k, v := range tt.serviceEnv {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if name := se("mid")["OTEL_SERVICE_NAME"]; name != "mid" && tt.serviceEnv["OTEL_SERVICE_NAME"] != "" {
				t.Errorf("tier mid's service name = %q", name)
			}
		})
	}
}
