package fault

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Partitioner makes and removes a network partition between the client and the backend.
type Partitioner interface {
	Partition(ctx context.Context) error // must verify that the partition took effect
	Heal(ctx context.Context) error      // must be idempotent
}

// PartitionAPIConfig configures a PartitionAPI.
type PartitionAPIConfig struct {
	Addr        string // where the API listens, e.g. 127.0.0.1:8474 (port 0 picks one)
	Partitioner Partitioner
	Listen      string       // shown as the proxy's listen address (the backend as the client sees it)
	Upstream    string       // shown as the proxy's upstream
	OnChange    func(Change) // called on every fault on/off transition; may be nil
}

// PartitionAPI answers the subset of Toxiproxy's REST API that an experiment uses to partition
// proxy "backend": a `timeout` toxic with timeout 0 (on either stream) makes the partition with
// the Partitioner, removing the last toxic heals it. Other toxics are refused with 400 and a
// message saying what this mode supports. It is safe for concurrent use.
type PartitionAPI struct {
	cfg    PartitionAPIConfig
	mu     sync.Mutex
	toxics []toxicJSON
	srv    *http.Server
	ln     net.Listener
}

type toxicJSON struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"`
	Toxicity   float64        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
}

type proxyJSON struct {
	Name     string      `json:"name"`
	Listen   string      `json:"listen"`
	Upstream string      `json:"upstream"`
	Enabled  bool        `json:"enabled"`
	Toxics   []toxicJSON `json:"toxics"`
}

// StartPartitionAPI starts serving the API.
func StartPartitionAPI(cfg PartitionAPIConfig) (*PartitionAPI, error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("fault API on %s: %w (choose another address)", cfg.Addr, err)
	}
	a := &PartitionAPI{cfg: cfg, ln: ln, toxics: []toxicJSON{}}
	a.srv = &http.Server{
		Handler:           watch(a.routes(), a.Active, cfg.OnChange),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	go a.srv.Serve(ln)
	return a, nil
}

func (a *PartitionAPI) routes() http.Handler {
	mux := http.NewServeMux()
	p := "/proxies/" + ProxyName
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("chaoslab-netns")) })
	mux.HandleFunc("GET /proxies", a.handleProxies)
	mux.HandleFunc("GET /proxies/{proxy}", a.handleProxy)
	mux.HandleFunc("GET /proxies/{proxy}/toxics", a.handleToxicIndex)
	mux.HandleFunc("POST "+p+"/toxics", a.handleToxicCreate)
	mux.HandleFunc("DELETE "+p+"/toxics/{toxic}", a.handleToxicDelete)
	mux.HandleFunc("POST /reset", a.handleReset)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("%s %s is not supported with --stack netns: only the partition toxic of proxy %q (POST %s/toxics, DELETE %s/toxics/NAME, POST /reset)", r.Method, r.URL.Path, ProxyName, p, p))
	})
	return mux
}

// APIURL is the base URL of the API.
func (a *PartitionAPI) APIURL() string { return "http://" + a.ln.Addr().String() }

// Active says whether the partition is in effect and which toxics made it.
func (a *PartitionAPI) Active() (bool, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	names := make([]string, len(a.toxics))
	for i, t := range a.toxics {
		names[i] = fmt.Sprintf("%s (iptables DROP, %s)", t.Name, t.Stream)
	}
	return len(names) > 0, joinNames(names)
}

func (a *PartitionAPI) proxy() proxyJSON {
	a.mu.Lock()
	defer a.mu.Unlock()
	return proxyJSON{Name: ProxyName, Listen: a.cfg.Listen, Upstream: a.cfg.Upstream, Enabled: true, Toxics: slices.Clone(a.toxics)}
}

func (a *PartitionAPI) handleProxies(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]proxyJSON{ProxyName: a.proxy()})
}

func (a *PartitionAPI) handleProxy(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("proxy") != ProxyName {
		writeError(w, http.StatusNotFound, "proxy not found")
		return
	}
	writeJSON(w, http.StatusOK, a.proxy())
}

func (a *PartitionAPI) handleToxicIndex(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("proxy") != ProxyName {
		writeError(w, http.StatusNotFound, "proxy not found")
		return
	}
	writeJSON(w, http.StatusOK, a.proxy().Toxics)
}

func (a *PartitionAPI) handleToxicCreate(w http.ResponseWriter, r *http.Request) {
	t := toxicJSON{Stream: "downstream", Toxicity: 1}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&t); err != nil {
		writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return
	}
	if msg := checkPartitionToxic(&t); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if slices.ContainsFunc(a.toxics, func(x toxicJSON) bool { return x.Name == t.Name }) {
		writeError(w, http.StatusConflict, "toxic already exists")
		return
	}
	if len(a.toxics) == 0 {
		if err := a.cfg.Partitioner.Partition(r.Context()); err != nil {
			writeError(w, http.StatusInternalServerError, "partition failed: "+err.Error())
			return
		}
	}
	a.toxics = append(a.toxics, t)
	writeJSON(w, http.StatusOK, t)
}

// checkPartitionToxic fills defaults and says why a toxic is not a partition ("" if it is).
func checkPartitionToxic(t *toxicJSON) string {
	if t.Stream != "downstream" && t.Stream != "upstream" {
		return "stream must be upstream or downstream"
	}
	if t.Name == "" {
		t.Name = t.Type + "_" + t.Stream
	}
	timeout, _ := t.Attributes["timeout"].(float64)
	if t.Type != "timeout" || timeout != 0 || t.Toxicity != 1 {
		return fmt.Sprintf("toxic %q (type %q) is not supported with --stack netns: only a partition, type \"timeout\" with attributes.timeout 0 and toxicity 1, made with iptables", t.Name, t.Type)
	}
	return ""
}

func (a *PartitionAPI) handleToxicDelete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("toxic")
	a.mu.Lock()
	defer a.mu.Unlock()
	i := slices.IndexFunc(a.toxics, func(x toxicJSON) bool { return x.Name == name })
	if i < 0 {
		writeError(w, http.StatusNotFound, "toxic not found")
		return
	}
	if len(a.toxics) == 1 {
		if err := a.cfg.Partitioner.Heal(context.WithoutCancel(r.Context())); err != nil {
			writeError(w, http.StatusInternalServerError, "heal failed: "+err.Error())
			return
		}
	}
	a.toxics = slices.Delete(a.toxics, i, i+1)
	w.WriteHeader(http.StatusNoContent)
}

func (a *PartitionAPI) handleReset(w http.ResponseWriter, r *http.Request) {
	if err := a.Reset(context.WithoutCancel(r.Context())); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Reset heals the partition and forgets every toxic.
func (a *PartitionAPI) Reset(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.cfg.Partitioner.Heal(ctx); err != nil {
		return fmt.Errorf("heal: %w", err)
	}
	a.toxics = a.toxics[:0]
	return nil
}

// Close heals the partition and stops the API.
func (a *PartitionAPI) Close(ctx context.Context) error {
	err := a.Reset(ctx)
	if serr := a.srv.Shutdown(ctx); serr != nil {
		a.srv.Close()
	}
	return err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers in Toxiproxy's error shape.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": msg, "status": status})
}
