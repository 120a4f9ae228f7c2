package live

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"chaoslab/internal/report"
)

//go:embed assets
var assets embed.FS // read-only

// Bounds of POST /api/load.
const (
	maxLoadSeconds = 60
	maxLoadRPS     = 200
)

// The page's load button: "Load 10 s" at the rate of chaoslab run.
const (
	buttonLoadSeconds = 10
	buttonLoadRPS     = 20
)

// site holds what the handlers share.
type site struct {
	hub     *Hub
	actions Actions // nil: no buttons
	results string  // the folder served under /results/; "" serves nothing
	log     *slog.Logger
	loading atomic.Bool // a load of POST /api/load is running
}

// httpError is an error with the HTTP status it is answered with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// statusOf maps an error to the HTTP status it is answered with: its own, 503 when the
// request or the server went away, 502 otherwise (the lab's fault API or the load failed).
func statusOf(err error) int {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusBadGateway
}

// encode writes v as JSON with status.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers err as {"error": "..."} with its status.
func writeError(w http.ResponseWriter, err error) {
	encode(w, statusOf(err), map[string]string{"error": err.Error()})
}

// decode reads one JSON object of at most 4 KiB into v, strictly: an unknown field, a second
// value or a malformed body is a 400.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "bad JSON body: %v", err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "bad JSON body: one object expected")
	}
	return nil
}

// loopbackOnly refuses a request whose Host is not the loopback (DNS rebinding).
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			http.Error(w, "the live page answers to 127.0.0.1 only", http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sameOrigin refuses a POST that a page of another origin makes (cross-site request forgery):
// only the live page itself may press its buttons.
func sameOrigin(next http.Handler) http.Handler {
	p := http.NewCrossOriginProtection()
	p.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusForbidden, "a request from another origin is refused: use the live page itself"))
	}))
	return p.Handler(next)
}

// pageCSP lets the page load its own script, style and stream, and nothing else: no inline
// script, no other origin.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// pageData is what the page's template shows.
type pageData struct {
	Title       string
	Faults      []Fault // nil without Actions
	Actions     bool
	LoadSeconds int
	LoadRPS     int
}

func (s *site) handlePage() http.Handler {
	tmpl := template.Must(template.ParseFS(assets, "assets/index.html.tmpl"))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := pageData{Title: s.hub.title(), Actions: s.actions != nil, LoadSeconds: buttonLoadSeconds, LoadRPS: buttonLoadRPS}
		if s.actions != nil {
			d.Faults = s.actions.Faults()
		}
		var b strings.Builder
		if err := tmpl.Execute(&b, d); err != nil {
			s.log.Error("render the live page", "error", err)
			http.Error(w, "cannot render the page: "+err.Error(), http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		io.WriteString(w, b.String())
	})
}

// handleAsset serves one embedded file with its content type.
func handleAsset(name, contentType string) http.Handler {
	body, err := assets.ReadFile(name)
	if err != nil {
		panic(fmt.Sprintf("live: %s is not embedded: %v", name, err))
	}
	return serveBytes(body, contentType)
}

// handleStyle serves the report's stylesheet and the page's own, so the page looks like
// report.html.
func handleStyle() http.Handler {
	own, err := assets.ReadFile("assets/live.css")
	if err != nil {
		panic(fmt.Sprintf("live: assets/live.css is not embedded: %v", err))
	}
	return serveBytes([]byte(report.StyleCSS()+string(own)), "text/css; charset=utf-8")
}

func serveBytes(body []byte, contentType string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(body)
	})
}

// handleResults serves the files of the results folder once the run is done: files only (no
// listing), nothing outside the folder (os.Root refuses an escape, symbolic links included).
func (s *site) handleResults() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("path")
		switch {
		case s.results == "":
			http.Error(w, "no results folder is served", http.StatusNotFound)
			return
		case !validResultPath(name):
			http.Error(w, "bad path: a file inside the results folder, without ..", http.StatusBadRequest)
			return
		case !s.hub.done():
			http.Error(w, "the run has not ended: its results are served once it has", http.StatusNotFound)
			return
		}
		root, err := os.OpenRoot(s.results)
		if err != nil {
			http.Error(w, "the results folder cannot be opened", http.StatusNotFound)
			return
		}
		defer root.Close()
		f, err := root.Open(filepath.FromSlash(name))
		if err != nil {
			http.Error(w, "no such file", http.StatusNotFound)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			http.Error(w, "no such file", http.StatusNotFound)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
	})
}

// validResultPath reports whether name is a slash-separated path inside a folder: no "..",
// no leading slash, no empty or "." element, no backslash.
func validResultPath(name string) bool {
	return name != "" && fs.ValidPath(name) && !strings.Contains(name, `\`)
}

// reportHref is the link to the report at path (a report.html, or a folder holding one) under
// /results/, or "" when it is not inside the served folder.
func (s *site) reportHref(path string) string {
	if s.results == "" || path == "" {
		return ""
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, "report.html")
	}
	base, err1 := filepath.Abs(s.results)
	abs, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return ""
	}
	rel, err := filepath.Rel(base, abs)
	if err != nil || !validResultPath(filepath.ToSlash(rel)) {
		return ""
	}
	parts := strings.Split(filepath.ToSlash(rel), "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return "/results/" + strings.Join(parts, "/")
}

// The fault buttons' actions.
const (
	actionApply  = "apply"
	actionRemove = "remove"
)

// faultsAnswer is GET /api/faults.
type faultsAnswer struct {
	Faults []faultEntry `json:"faults"`
}

// faultEntry is one fault the page can apply.
type faultEntry struct {
	Name  string `json:"name"`
	Fault string `json:"fault"`
}

func (s *site) handleFaults() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := faultsAnswer{Faults: []faultEntry{}}
		for _, f := range s.actions.Faults() {
			a.Faults = append(a.Faults, faultEntry{Name: f.Name, Fault: f.Fault})
		}
		encode(w, http.StatusOK, a)
	})
}

// actionAnswer is the answer of a fault button.
type actionAnswer struct {
	Fault  string  `json:"fault"`
	Action string  `json:"action"` // apply or remove
	OK     bool    `json:"ok"`
	TookMS float64 `json:"took_ms"`
}

// handleFault applies or removes the fault named in the path.
func (s *site) handleFault(action string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if !s.knownFault(name) {
			writeError(w, errorf(http.StatusNotFound, "no fault %q here: GET /api/faults lists them", name))
			return
		}
		do := s.actions.Apply
		if action == actionRemove {
			do = s.actions.Remove
		}
		start := time.Now()
		err := do(r.Context(), name)
		s.log.Info("fault button", "fault", name, "action", action, "error", err)
		if err != nil {
			writeError(w, fmt.Errorf("%s %s: %w", action, name, err))
			return
		}
		encode(w, http.StatusOK, actionAnswer{Fault: name, Action: action, OK: true, TookMS: msSince(start)})
	})
}

func (s *site) knownFault(name string) bool {
	for _, f := range s.actions.Faults() {
		if f.Name == name {
			return true
		}
	}
	return false
}

// loadRequest is the body of POST /api/load.
type loadRequest struct {
	Seconds float64 `json:"seconds"`
	RPS     float64 `json:"rps"`
}

func (l loadRequest) validate() error {
	switch {
	case !(l.Seconds > 0 && l.Seconds <= maxLoadSeconds): // also rejects NaN
		return errorf(http.StatusBadRequest, "seconds %v: want more than 0 and at most %d", l.Seconds, maxLoadSeconds)
	case !(l.RPS > 0 && l.RPS <= maxLoadRPS):
		return errorf(http.StatusBadRequest, "rps %v: want more than 0 and at most %d requests per second", l.RPS, maxLoadRPS)
	}
	return nil
}

// loadAnswer is the answer of POST /api/load, once the load is over.
type loadAnswer struct {
	Seconds float64 `json:"seconds"`
	RPS     float64 `json:"rps"`
	OK      bool    `json:"ok"`
	TookMS  float64 `json:"took_ms"`
}

// handleLoad sends a short load and answers when it is over; one at a time.
func (s *site) handleLoad() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req loadRequest
		if err := decode(r, &req); err != nil {
			writeError(w, err)
			return
		}
		if err := req.validate(); err != nil {
			writeError(w, err)
			return
		}
		if !s.loading.CompareAndSwap(false, true) {
			writeError(w, errorf(http.StatusConflict, "a load is already running: wait for it to end"))
			return
		}
		defer s.loading.Store(false)
		start := time.Now()
		d := time.Duration(math.Round(req.Seconds * float64(time.Second)))
		err := s.actions.Load(r.Context(), d, req.RPS)
		s.log.Info("load button", "seconds", req.Seconds, "rps", req.RPS, "error", err)
		if err != nil {
			writeError(w, fmt.Errorf("load: %w", err))
			return
		}
		encode(w, http.StatusOK, loadAnswer{Seconds: req.Seconds, RPS: req.RPS, OK: true, TookMS: msSince(start)})
	})
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }
