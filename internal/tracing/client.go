package tracing

import (
	"fmt"
	"net/url"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// ClientSpan is the name and the start attributes of the CLIENT span of an HTTP call to a fixed
// URL (the stable HTTP client conventions): named "GET /api/data" (method and url.template),
// with http.request.method, url.full, url.template, server.address and server.port.
func ClientSpan(method, rawURL string) (string, []attribute.KeyValue, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "", nil, fmt.Errorf("traces: %q is not a URL with a host", rawURL)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		port = map[string]int{"http": 80, "https": 443}[u.Scheme]
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return method + " " + path, []attribute.KeyValue{semconv.HTTPRequestMethodKey.String(method), semconv.URLFull(u.String()),
		semconv.URLTemplate(path), semconv.ServerAddress(u.Hostname()), semconv.ServerPort(port)}, nil
}
