package httpserve

import (
	"io"
	"log/slog"
)

// NewLogger returns the service logger: JSON lines when format is "json", slog's text otherwise.
func NewLogger(format string, w io.Writer, service string) *slog.Logger {
	var h slog.Handler = slog.NewTextHandler(w, nil)
	if format == "json" {
		h = slog.NewJSONHandler(w, nil)
	}
	return slog.New(h).With("service", service)
}
