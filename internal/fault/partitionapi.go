package fault

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
)

// PartitionAPIConfig configures a PartitionAPI.
type PartitionAPIConfig struct {
	Partitioner Partitioner
	Listen      string // shown as the proxy's listen address (the backend as the client sees it)
	Upstream    string // shown as the proxy's upstream
}

// PartitionAPI answers the subset of Toxiproxy's REST API that an experiment uses to partition
// proxy "backend": a `timeout` toxic with timeout 0 (on either stream) makes the partition with
// the Partitioner, removing the last toxic heals it. Other toxics are refused with 400 and a
// message saying what this mode supports. It is safe for concurrent use.
type PartitionAPI struct {
	cfg    PartitionAPIConfig
	mu     sync.Mutex
	toxics []toxicJSON
	flap   bool // a flapping partition holds the partition too
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

// NewPartitionAPI makes the API; Handler serves it.
func NewPartitionAPI(cfg PartitionAPIConfig) *PartitionAPI {
	return &PartitionAPI{cfg: cfg, toxics: []toxicJSON{}}
}

// Handler serves the Toxiproxy-shaped routes.
func (a *PartitionAPI) Handler() http.Handler { return a.routes() }

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

// Injected lists the partition's toxics in effect (a flapping partition reports itself).
func (a *PartitionAPI) Injected() []Injected {
	a.mu.Lock()
	defer a.mu.Unlock()
	in := make([]Injected, len(a.toxics))
	for i, t := range a.toxics {
		in[i] = Injected{Kind: KindPartition, Detail: fmt.Sprintf("blackhole (iptables DROP), %s (toxic %s)", t.Stream, t.Name), Target: ProxyName}
	}
	return in
}

// Partition makes the partition for a flapping schedule, beside any toxic.
func (a *PartitionAPI) Partition(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.toxics) == 0 && !a.flap {
		if err := a.cfg.Partitioner.Partition(ctx); err != nil {
			return err
		}
	}
	a.flap = true
	return nil
}

// Heal ends the flapping schedule's partition; a toxic still in place keeps it.
func (a *PartitionAPI) Heal(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.flap && len(a.toxics) == 0 {
		if err := a.cfg.Partitioner.Heal(ctx); err != nil {
			return err
		}
	}
	a.flap = false
	return nil
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
	if len(a.toxics) == 0 && !a.flap {
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
	if len(a.toxics) == 1 && !a.flap {
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
	a.flap = false
	return nil
}

// Close heals the partition.
func (a *PartitionAPI) Close(ctx context.Context) error { return a.Reset(ctx) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers in Toxiproxy's error shape.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": msg, "status": status})
}
