package experiment

import (
	"net/http/httptest"
	"testing"

	"chaoslab/internal/conformance"
)

// newConformanceServer starts a server that follows internal/conformance/testdata/SERVER.md.
func newConformanceServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(conformance.Handler())
	t.Cleanup(srv.Close)
	return srv
}
