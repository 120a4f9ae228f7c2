// Package tracing sets up OpenTelemetry traces for a service: the configuration from the
// standard variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
// OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG, OTEL_SERVICE_NAME), a Provider that exports over
// OTLP/HTTP through a bounded queue off the request path, the SERVER span of every incoming
// request (the stable HTTP server conventions, worked out only for a sampled span) and the W3C
// trace context on outgoing requests.
//
// Tracing is off unless an OTLP endpoint is set: then New returns a nil *Provider, whose methods
// all do nothing, so a service runs exactly as it did without this package. The spans of the
// resilience pipeline (CLIENT spans of the backend calls, span events, probe spans) are made by
// internal/resilience from its own events, with the tracer a Provider gives.
package tracing
