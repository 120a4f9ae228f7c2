package fault

import "net/http"

// jobRoutes serves what every named fault that runs in the background (the flapping partition,
// the load spike) answers besides its creation: the list, one record, a wait for its end and its
// stop. J is the job (a pointer: nil when there is none), R its JSON record.
type jobRoutes[J comparable, R any] struct {
	what   string          // "load spike": in the 404 of an unknown name
	names  func() []string // the jobs' names, sorted
	find   func(name string) J
	record func(J) R
	done   func(J) <-chan struct{} // closed when the job has ended
	stop   func(J)                 // ends it; done follows
}

// register serves the routes under path ("/faults/spike"), with create for its POST.
func (jr jobRoutes[J, R]) register(mux *http.ServeMux, path string, create http.HandlerFunc) {
	mux.HandleFunc("GET "+path, jr.handleList)
	mux.HandleFunc("POST "+path, create)
	mux.HandleFunc("GET "+path+"/{name}", jr.handleGet)
	mux.HandleFunc("GET "+path+"/{name}/wait", jr.handleWait)
	mux.HandleFunc("DELETE "+path+"/{name}", jr.handleDelete)
}

func (jr jobRoutes[J, R]) handleList(w http.ResponseWriter, _ *http.Request) {
	out := []R{}
	for _, n := range jr.names() {
		out = append(out, jr.record(jr.find(n)))
	}
	writeJSON(w, http.StatusOK, out)
}

// lookup finds the job the path names, or answers 404.
func (jr jobRoutes[J, R]) lookup(w http.ResponseWriter, r *http.Request) (J, bool) {
	var none J
	j := jr.find(r.PathValue("name"))
	if j == none {
		writeError(w, http.StatusNotFound, jr.what+" not found: "+r.PathValue("name"))
		return none, false
	}
	return j, true
}

func (jr jobRoutes[J, R]) handleGet(w http.ResponseWriter, r *http.Request) {
	if j, ok := jr.lookup(w, r); ok {
		writeJSON(w, http.StatusOK, jr.record(j))
	}
}

// handleWait answers once the job has ended (or the caller gave up).
func (jr jobRoutes[J, R]) handleWait(w http.ResponseWriter, r *http.Request) {
	j, ok := jr.lookup(w, r)
	if !ok {
		return
	}
	select {
	case <-jr.done(j):
		writeJSON(w, http.StatusOK, jr.record(j))
	case <-r.Context().Done():
	}
}

func (jr jobRoutes[J, R]) handleDelete(w http.ResponseWriter, r *http.Request) {
	j, ok := jr.lookup(w, r)
	if !ok {
		return
	}
	jr.stop(j)
	<-jr.done(j)
	w.WriteHeader(http.StatusNoContent)
}
