// Package backend is backend-service: the HTTP service that client-service calls through its
// resilience pipeline. It answers GET /api/data, liveness, readiness and metrics.
package backend
