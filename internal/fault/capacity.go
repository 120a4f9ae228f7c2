package fault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// backendCallTimeout bounds one call of the capacity fault to the backend's /api/capacity.
const backendCallTimeout = 5 * time.Second

// capacityFaults changes the backend's capacity model for a while through the backend's own API
// (PUT /api/capacity) and puts its start-up settings back (DELETE /api/capacity) when the fault
// is removed, by DELETE, POST /reset or Close. The backend has one capacity, so at most one
// capacity fault is in effect. It is safe for concurrent use.
type capacityFaults struct {
	backend string // the backend's base URL, reached directly; "" = not available here
	client  *http.Client

	change sync.Mutex // held across a change and its call to the backend, so changes do not cross
	mu     sync.Mutex // guards active; never held across a call
	active *capacityFault
}

// capacityFault is a capacity fault in effect; its fields are its JSON record.
type capacityFault struct {
	Name        string          `json:"name"`
	Workers     *int            `json:"workers,omitempty"`
	ServiceTime *string         `json:"service_time,omitempty"`
	Factor      *float64        `json:"service_time_factor,omitempty"`
	Since       time.Time       `json:"since"`
	Backend     json.RawMessage `json:"backend"` // the backend's answer: the capacity now in force
}

// capacityRequest is the body of POST /faults/capacity: a name and the settings to change, as
// PUT /api/capacity takes them (each optional, at least one).
type capacityRequest struct {
	Name        string   `json:"name"`
	Workers     *int     `json:"workers"`
	ServiceTime *string  `json:"service_time"`
	Factor      *float64 `json:"service_time_factor"`
}

func newCapacityFaults(backend string) *capacityFaults {
	return &capacityFaults{backend: strings.TrimSuffix(backend, "/"), client: &http.Client{Timeout: backendCallTimeout}}
}

// register adds the routes:
//
//	GET    /faults/capacity        200 {"faults": [the fault in effect, if any]}
//	POST   /faults/capacity        201 the fault, with the backend's answer; 400 a bad request (ours
//	                               or the backend's); 409 one is in effect, or the backend has no
//	                               capacity model; 502 the backend did not answer
//	DELETE /faults/capacity/{name} 204 the start-up settings are back; 404 no such fault
func (c *capacityFaults) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /faults/capacity", c.handleList)
	mux.HandleFunc("POST /faults/capacity", c.handleCreate)
	mux.HandleFunc("DELETE /faults/capacity/{name}", c.handleDelete)
}

func (c *capacityFaults) handleList(w http.ResponseWriter, _ *http.Request) {
	faults := []capacityFault{}
	if f := c.current(); f != nil {
		faults = append(faults, *f)
	}
	writeJSON(w, http.StatusOK, map[string]any{"faults": faults})
}

func (r capacityRequest) check() error {
	if !namePattern.MatchString(r.Name) {
		return fmt.Errorf("name %q: 1 to 64 letters, digits, '.', '_' or '-'", r.Name)
	}
	if r.Workers == nil && r.ServiceTime == nil && r.Factor == nil {
		return errors.New("nothing to change: give workers, service_time or service_time_factor (e.g. {\"name\":\"slow\",\"service_time_factor\":3})")
	}
	return nil
}

func (c *capacityFaults) handleCreate(w http.ResponseWriter, r *http.Request) {
	if c.backend == "" {
		writeError(w, http.StatusNotImplemented, "this fault API does not know the backend's URL, so it cannot change its capacity")
		return
	}
	var req capacityRequest
	if err := decodeStrict(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := req.check(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	c.change.Lock()
	defer c.change.Unlock()
	if cur := c.current(); cur != nil {
		writeError(w, http.StatusConflict, fmt.Sprintf("capacity fault %s is in effect: DELETE /faults/capacity/%s first", cur.Name, cur.Name))
		return
	}
	answer, code, err := c.call(r.Context(), http.MethodPut, req.change())
	if err != nil {
		writeError(w, code, err.Error())
		return
	}
	f := &capacityFault{Name: req.Name, Workers: req.Workers, ServiceTime: req.ServiceTime, Factor: req.Factor,
		Since: time.Now().UTC(), Backend: answer}
	c.set(f)
	writeJSON(w, http.StatusCreated, f)
}

// current is the fault in effect, or nil.
func (c *capacityFaults) current() *capacityFault {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active
}

func (c *capacityFaults) set(f *capacityFault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active = f
}

// change is the body of PUT /api/capacity: the fields the request gave, so the backend changes
// only those.
func (r capacityRequest) change() []byte {
	m := map[string]any{}
	if r.Workers != nil {
		m["workers"] = *r.Workers
	}
	if r.ServiceTime != nil {
		m["service_time"] = *r.ServiceTime
	}
	if r.Factor != nil {
		m["service_time_factor"] = *r.Factor
	}
	body, _ := json.Marshal(m) // numbers and strings: cannot fail
	return body
}

// call sends method to the backend's /api/capacity and returns its JSON answer; on failure the
// status to answer with and an error that says what the backend said.
func (c *capacityFaults) call(ctx context.Context, method string, body []byte) (json.RawMessage, int, error) {
	ctx, cancel := context.WithTimeout(ctx, backendCallTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.backend+"/api/capacity", bytes.NewReader(body))
	if err != nil {
		return nil, http.StatusInternalServerError, fmt.Errorf("the backend's capacity API: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, http.StatusBadGateway, fmt.Errorf("%s %s/api/capacity: %w (is the backend running?)", method, c.backend, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return nil, http.StatusBadGateway, fmt.Errorf("%s %s/api/capacity: reading the answer: %w", method, c.backend, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(answer, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(answer))
		}
		code := resp.StatusCode
		if code != http.StatusBadRequest && code != http.StatusConflict {
			code = http.StatusBadGateway
		}
		return nil, code, fmt.Errorf("the backend answered %s %s/api/capacity with HTTP %d: %s", method, c.backend, resp.StatusCode, e.Error)
	}
	if !json.Valid(answer) {
		return nil, http.StatusBadGateway, fmt.Errorf("%s %s/api/capacity: the answer is not JSON", method, c.backend)
	}
	return answer, 0, nil
}

func (c *capacityFaults) handleDelete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	c.change.Lock()
	defer c.change.Unlock()
	if f := c.current(); f == nil || f.Name != name {
		writeError(w, http.StatusNotFound, "capacity fault not found: "+name)
		return
	}
	if code, err := c.restore(context.WithoutCancel(r.Context())); err != nil {
		writeError(w, code, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// restore puts the backend's start-up settings back; the fault stays in effect if that fails.
// The caller holds c.change and a fault is in effect.
func (c *capacityFaults) restore(ctx context.Context) (int, error) {
	if _, code, err := c.call(ctx, http.MethodDelete, nil); err != nil {
		return code, fmt.Errorf("restore the backend's capacity (capacity fault %s stays in effect): %w", c.current().Name, err)
	}
	c.set(nil)
	return 0, nil
}

// Reset removes the capacity fault in effect, if any.
func (c *capacityFaults) Reset(ctx context.Context) error {
	c.change.Lock()
	defer c.change.Unlock()
	if c.current() == nil {
		return nil
	}
	_, err := c.restore(ctx)
	return err
}

// Injected lists the capacity fault in effect.
func (c *capacityFaults) Injected() []Injected {
	f := c.current()
	if f == nil {
		return nil
	}
	return []Injected{{Kind: KindCapacity, Detail: f.describe(), Target: ProxyName}}
}

// describe says what the fault changed: "backend capacity: workers 1, service time x5 (capacity
// fault slow)".
func (f *capacityFault) describe() string {
	var parts []string
	if f.Workers != nil {
		parts = append(parts, fmt.Sprintf("workers %d", *f.Workers))
	}
	if f.ServiceTime != nil {
		parts = append(parts, "service time "+*f.ServiceTime)
	}
	if f.Factor != nil {
		parts = append(parts, fmt.Sprintf("service time x%g", *f.Factor))
	}
	return fmt.Sprintf("backend capacity: %s (capacity fault %s)", strings.Join(parts, ", "), f.Name)
}
