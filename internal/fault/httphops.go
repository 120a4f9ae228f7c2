package fault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// httpHops is the fault API's /faults/http: the L7 injectors of a stack by target, the name of
// the node each one fronts. The backend's (target ProxyName, the default) is always there; a
// call graph adds one per called tier (API.AddHTTPHop), named after the tier as its Toxiproxy
// proxy is. It is safe for concurrent use.
type httpHops struct {
	mu    sync.Mutex
	names []string // the targets: ProxyName first, then in the order they were added
	hops  map[string]*HTTPFaults
}

func newHTTPHops(backend *HTTPFaults) *httpHops {
	return &httpHops{names: []string{ProxyName}, hops: map[string]*HTTPFaults{ProxyName: backend}}
}

// add makes h the injector of target name.
func (hs *httpHops) add(name string, h *HTTPFaults) error {
	if !validFaultName(name) {
		return fmt.Errorf("HTTP fault target %q: 1 to %d characters from A-Z a-z 0-9 _ . -", name, maxNameLength)
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if _, ok := hs.hops[name]; ok {
		return fmt.Errorf("HTTP fault target %q: there is an injector of that name already", name)
	}
	hs.names = append(hs.names, name)
	hs.hops[name] = h
	return nil
}

// errUnknownTarget is a target that no injector fronts.
var errUnknownTarget = errors.New("unknown target")

// hop returns the injector of target name ("" = the backend's).
func (hs *httpHops) hop(name string) (*HTTPFaults, error) {
	if name == "" {
		name = ProxyName
	}
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if h, ok := hs.hops[name]; ok {
		return h, nil
	}
	return nil, fmt.Errorf("%w %q: an HTTP fault goes in front of one of %s (the nodes an L7 injector fronts on this stack)",
		errUnknownTarget, name, strings.Join(hs.names, ", "))
}

// hopOf is the injector a request's ?target= names (the backend's without one).
func (hs *httpHops) hopOf(r *http.Request) (*HTTPFaults, error) {
	return hs.hop(r.URL.Query().Get("target"))
}

// each returns the targets and their injectors, in order.
func (hs *httpHops) each() ([]string, []*HTTPFaults) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hops := make([]*HTTPFaults, len(hs.names))
	for i, n := range hs.names {
		hops[i] = hs.hops[n]
	}
	return slices.Clone(hs.names), hops
}

// register adds the routes of HTTP faults to mux. A request names its target in the fault
// object's "target" (POST) or in ?target= (GET, DELETE); without one it is the backend's:
//
//	GET    /faults/http[?target=T]        200 {"faults": [fault objects in creation order], "stats": HTTPStats} of T's injector
//	POST   /faults/http                   201 the created fault; 400 a bad fault or an unknown target; 409 a fault with that name exists at its target
//	DELETE /faults/http/{name}[?target=T] 204; 404 no fault with that name at T, or an unknown T
//	DELETE /faults/http[?target=T]        204, every fault at T removed, or without a target at every target
//
// Errors are answered in Toxiproxy's shape, {"error": message, "status": code}.
func (hs *httpHops) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /faults/http", hs.handleList)
	mux.HandleFunc("POST /faults/http", hs.handleCreate)
	mux.HandleFunc("DELETE /faults/http/{name}", hs.handleDelete)
	mux.HandleFunc("DELETE /faults/http", hs.handleDeleteAll)
}

func (hs *httpHops) handleList(w http.ResponseWriter, r *http.Request) {
	h, err := hs.hopOf(r)
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"faults": h.list(), "stats": h.Stats()})
}

func (hs *httpHops) handleCreate(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
	if err != nil {
		writeError(w, http.StatusBadRequest, "cannot read the request body: "+err.Error()+" (a fault object is a small JSON object, at most 64 KiB)")
		return
	}
	f, msg := parseHTTPFault(body)
	if msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	h, err := hs.hop(f.Target)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if !h.add(f) {
		writeError(w, http.StatusConflict, fmt.Sprintf("http fault already exists: %s%s (remove it first with DELETE /faults/http/%s%s)",
			f.Name, atTarget(f.Target), f.Name, targetQuery(f.Target)))
		return
	}
	writeJSON(w, http.StatusCreated, f)
}

func (hs *httpHops) handleDelete(w http.ResponseWriter, r *http.Request) {
	h, err := hs.hopOf(r)
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	name, target := r.PathValue("name"), r.URL.Query().Get("target")
	if !h.remove(name) {
		writeError(w, http.StatusNotFound, "http fault not found: "+name+atTarget(target))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (hs *httpHops) handleDeleteAll(w http.ResponseWriter, r *http.Request) {
	ctx := context.WithoutCancel(r.Context())
	if !r.URL.Query().Has("target") {
		hs.Reset(ctx)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h, err := hs.hopOf(r)
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	h.Reset(ctx)
	w.WriteHeader(http.StatusNoContent)
}

// atTarget says where a fault is, for a message: "" for the default target.
func atTarget(target string) string {
	if target == "" {
		return ""
	}
	return " at target " + target
}

// targetQuery is the ?target= that addresses target ("" for the default).
func targetQuery(target string) string {
	if target == "" {
		return ""
	}
	return "?target=" + target
}

// Reset removes every fault at every target. It never fails.
func (hs *httpHops) Reset(ctx context.Context) error {
	_, hops := hs.each()
	for _, h := range hops {
		h.Reset(ctx)
	}
	return nil
}

// Injected lists the faults in effect at every target: the backend's as the injector says
// them, a tier's prefixed with its hop ("hop mid: HTTP 503 on 30% of requests (http fault
// http-errors)"), as a Toxiproxy fault on a tier's proxy names the proxy.
func (hs *httpHops) Injected() []Injected {
	names, hops := hs.each()
	var in []Injected
	for i, h := range hops {
		for _, x := range h.Injected() {
			if names[i] != ProxyName {
				x.Detail = "hop " + names[i] + ": " + x.Detail
			}
			x.Target = names[i]
			in = append(in, x)
		}
	}
	return in
}
