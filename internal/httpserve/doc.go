// Package httpserve is what chaoslab's two HTTP services share: their environment-variable
// tables, the server lifecycle (listen, log the bound address, graceful shutdown), liveness and
// readiness handlers, HTTP request metrics and the slog logger.
//
// backend-service and client-service both use it; it imports no other chaoslab package but
// cmdutil, so either service can depend on it without depending on the other.
package httpserve
