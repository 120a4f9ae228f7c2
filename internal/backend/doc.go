// Package backend is backend-service: the HTTP service that client-service calls through its
// resilience pipeline. It answers GET /api/data, liveness, readiness and metrics. Off by default,
// GET /api/data can go through a model of finite capacity (internal/capacity: workers, a
// bounded queue, a service time), which /api/capacity shows and changes at run time.
package backend
