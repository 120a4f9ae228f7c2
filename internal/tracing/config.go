package tracing

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"chaoslab/internal/httpserve"
)

// The standard variables a service reads (OpenTelemetry's "Environment Variable Specification").
const (
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvSampler        = "OTEL_TRACES_SAMPLER"
	EnvSamplerArg     = "OTEL_TRACES_SAMPLER_ARG"
	EnvServiceName    = "OTEL_SERVICE_NAME"
)

// TracesPath is what OTLP/HTTP adds to OTEL_EXPORTER_OTLP_ENDPOINT for traces.
const TracesPath = "/v1/traces"

// Samplers are the values of OTEL_TRACES_SAMPLER this package knows, as the specification
// spells them.
var Samplers = []string{"parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio",
	"always_on", "always_off", "traceidratio"}

// Config is a service's tracing configuration. The zero value is off.
type Config struct {
	Endpoint       string  // OTEL_EXPORTER_OTLP_ENDPOINT: base URL, TracesPath is added
	TracesEndpoint string  // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: the whole URL, used as it is
	Sampler        string  // OTEL_TRACES_SAMPLER, one of Samplers
	SamplerArg     string  // OTEL_TRACES_SAMPLER_ARG as given
	Ratio          float64 // SamplerArg read: the ratio of the traceidratio samplers
	ServiceName    string  // OTEL_SERVICE_NAME: the resource's service.name
}

// URL is where the spans go: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else
// OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces; "" = tracing off.
func (c Config) URL() string {
	switch {
	case c.TracesEndpoint != "":
		return c.TracesEndpoint
	case c.Endpoint != "":
		return strings.TrimRight(c.Endpoint, "/") + TracesPath
	}
	return ""
}

// Enabled reports whether spans are made and exported: an endpoint is set.
func (c Config) Enabled() bool { return c.URL() != "" }

// Settings are the tracing variables of a service whose configuration C holds a Config at
// field(c), with service as OTEL_SERVICE_NAME's default. A service puts them in its table of
// variables, so --help, its defaults and its effective configuration list them.
func Settings[C any](service string, field func(*C) *Config) []httpserve.Setting[C] {
	set := func(f func(*Config, string) error) func(*C, string) error {
		return func(c *C, v string) error { return f(field(c), v) }
	}
	return []httpserve.Setting[C]{
		{Name: EnvEndpoint, Default: "", Help: "traces: base URL of an OTLP/HTTP receiver (a collector, Jaeger, Tempo), such as http://localhost:4318; spans go to it + " + TracesPath + "; empty (with " + EnvTracesEndpoint + " empty) = no traces",
			Set: set(func(c *Config, v string) error { return endpoint(v, &c.Endpoint) })},
		{Name: EnvTracesEndpoint, Default: "", Help: "traces: the whole OTLP/HTTP URL of the spans, used as it is; wins over " + EnvEndpoint,
			Set: set(func(c *Config, v string) error { return endpoint(v, &c.TracesEndpoint) })},
		{Name: EnvSampler, Default: "parentbased_always_on", Help: "traces: which requests are traced: " + strings.Join(Samplers, ", ") + " (parentbased_* follow the caller's traceparent decision)",
			Set: set(func(c *Config, v string) error { return httpserve.Choice(v, &c.Sampler, Samplers...) })},
		{Name: EnvSamplerArg, Default: "1", Help: "traces: the share of traces kept by the traceidratio samplers, from 0 to 1",
			Set: set(func(c *Config, v string) error { return ratio(v, c) })},
		{Name: EnvServiceName, Default: service, Help: "traces: the service.name of the spans",
			Set: set(func(c *Config, v string) error { c.ServiceName = v; return nil })},
	}
}

// Effective maps each tracing variable to the value in force.
func (c Config) Effective() map[string]string {
	return map[string]string{EnvEndpoint: c.Endpoint, EnvTracesEndpoint: c.TracesEndpoint,
		EnvSampler: c.Sampler, EnvSamplerArg: c.SamplerArg, EnvServiceName: c.ServiceName}
}

// endpoint reads an OTLP/HTTP URL, or "" for none.
func endpoint(v string, dst *string) error {
	if v == "" {
		*dst = ""
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return errors.New("must be empty or an http:// or https:// URL with a host, such as http://localhost:4318 (OTLP/HTTP; this service does not speak OTLP/gRPC)")
	}
	if u.User != nil {
		return errors.New("must not hold credentials: the URL is shown on /api/resilience; put them in OTEL_EXPORTER_OTLP_HEADERS")
	}
	*dst = v
	return nil
}

// ratio reads OTEL_TRACES_SAMPLER_ARG.
func ratio(v string, c *Config) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f >= 0 && f <= 1) {
		return fmt.Errorf("must be a number from 0 to 1 (the share of traces kept by %s)", "traceidratio")
	}
	c.SamplerArg, c.Ratio = v, f
	return nil
}
