// Package client is client-service: it answers GET /api/data by calling backend-service through
// the resilience pipeline (package resilience), and exposes that pipeline's state
// (/api/resilience), a fresh-connection reachability check of the backend
// (/api/diagnostics/backend), a switch of the per-call attempt records that turns itself off
// (/api/attempt-records), liveness, readiness and metrics.
package client
