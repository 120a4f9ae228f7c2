package httpserve

import (
	"io"
	"log/slog"
)

// NewLogger returns the service logger: JSON lines when format is "json", slog's text otherwise;
// records below level are dropped.
func NewLogger(format string, level slog.Leveler, w io.Writer, service string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(h).With("service", service)
}
