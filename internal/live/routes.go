package live

import (
	"net/http"
)

// newHandler returns the page's whole HTTP API. It never listens: Start does.
func newHandler(cfg Config) http.Handler {
	cfg = cfg.withDefaults()
	s := &site{hub: cfg.Hub, actions: cfg.Actions, results: cfg.ResultsDir, log: cfg.Logger}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", s.handlePage())
	mux.Handle("GET /app.js", handleAsset("assets/app.js", "text/javascript; charset=utf-8"))
	mux.Handle("GET /style.css", handleStyle())
	mux.Handle("GET /events", s.handleEvents())
	mux.Handle("GET /results/{path...}", s.handleResults())
	if s.actions != nil {
		mux.Handle("GET /api/faults", s.handleFaults())
		mux.Handle("POST /api/faults/{name}/apply", s.handleFault(actionApply))
		mux.Handle("POST /api/faults/{name}/remove", s.handleFault(actionRemove))
		mux.Handle("POST /api/load", s.handleLoad())
	}
	return loopbackOnly(sameOrigin(mux))
}
