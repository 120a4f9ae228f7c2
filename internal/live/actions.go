package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"chaoslab/chaos"
	"chaoslab/internal/experiment"
	"chaoslab/internal/load"
	"chaoslab/internal/results"
)

// Actions lets the page drive the lab (chaoslab up --ui); nil for chaoslab run --ui. Its
// methods are called from the server's handlers, several at once.
type Actions interface {
	Faults() []Fault                                              // the catalogue entries the stack can apply
	Apply(ctx context.Context, name string) error                 // inject the entry's fault
	Remove(ctx context.Context, name string) error                // undo it (the entry's rollbacks)
	Load(ctx context.Context, d time.Duration, rps float64) error // a short load against the client; its records go to the hub
}

// Fault is a catalogue entry the page offers: its name ("network-partition") and what it does.
type Fault struct{ Name, Fault string }

// envClientURL is the variable that holds client-service's URL (lab.EnvClientURL; the lab
// imports this package, so it is spelt here).
const envClientURL = "CHAOSLAB_CLIENT_URL"

// loadIDShift places the request ids of the page's n-th load at n<<loadIDShift, so they never
// meet those of chaoslab up's own load (which count from 1) and the client's attempt events
// still join their requests.
const loadIDShift = 40

// catalogueActions applies catalogue entries through the fault API, with the experiment engine.
type catalogueActions struct {
	env     map[string]string
	record  func(results.Record)
	entries map[string]chaos.Entry // the entries the stack supports that write to the fault API
	faults  []Fault                // the same, in catalogue order
	err     error                  // the catalogue could not be read
	loads   atomic.Uint64          // loads sent so far
}

// NewCatalogueActions applies catalogue entries through the fault API exactly as the experiments
// do. Apply runs the entry's method actions that write to the fault API (POST, PUT, PATCH or
// DELETE to ${toxiproxy_url}...; not its probes, not its pauses), Remove runs its rollbacks
// (without pauses), both with chaoslab's experiment engine: a small experiment document holding
// those activities and the entry's configuration, run by experiment.Run with LookupEnv
// returning env (CHAOSLAB_CLIENT_URL, CHAOSLAB_BACKEND_URL, CHAOSLAB_TOXIPROXY_URL). Load sends
// open-loop load with internal/load to env["CHAOSLAB_CLIENT_URL"]+"/api/data" for d at rps,
// each record to record. Only entries that support stack and need no call graph of their own
// (a topology in their chaoslab extension) are offered. It is safe for
// concurrent use.
func NewCatalogueActions(stack string, env map[string]string, record func(results.Record)) Actions {
	c := &catalogueActions{env: make(map[string]string, len(env)), record: record, entries: map[string]chaos.Entry{}}
	for k, v := range env {
		c.env[k] = v
	}
	entries, err := chaos.Catalogue()
	if err != nil {
		c.err = fmt.Errorf("the catalogue: %w", err)
		return c
	}
	for _, e := range entries {
		if ok, _ := e.Supports(stack); !ok || e.Topology != "" {
			continue // an entry with its own call graph runs with chaoslab run, which starts that graph
		}
		if acts, err := faultActivities(e, phaseApply); err != nil || len(acts) == 0 {
			continue
		}
		c.entries[e.Name] = e
		c.faults = append(c.faults, Fault{Name: e.Name, Fault: e.Fault})
	}
	return c
}

// Faults returns the entries offered, in catalogue order.
func (c *catalogueActions) Faults() []Fault { return slices.Clone(c.faults) }

// Apply injects the fault of the entry name.
func (c *catalogueActions) Apply(ctx context.Context, name string) error {
	return c.run(ctx, name, phaseApply)
}

// Remove runs the rollbacks of the entry name.
func (c *catalogueActions) Remove(ctx context.Context, name string) error {
	return c.run(ctx, name, phaseRemove)
}

// Load sends open-loop load to client-service for d at rps.
func (c *catalogueActions) Load(ctx context.Context, d time.Duration, rps float64) error {
	base := c.loads.Add(1) << loadIDShift
	client := load.NewHTTPClient()
	client.Transport = shiftIDs{base: base, next: client.Transport}
	cfg := load.Config{Target: c.env[envClientURL] + "/api/data", RPS: rps, Timeout: load.DefaultTimeout, Duration: d}
	return load.Run(ctx, cfg, client, func(r results.Record) {
		r.ID += base
		if c.record != nil {
			c.record(r)
		}
	})
}

// shiftIDs adds base to the request id header of every request.
type shiftIDs struct {
	base uint64
	next http.RoundTripper
}

func (s shiftIDs) RoundTrip(req *http.Request) (*http.Response, error) {
	if id, err := strconv.ParseUint(req.Header.Get(results.RequestIDHeader), 10, 64); err == nil {
		req = req.Clone(req.Context())
		req.Header.Set(results.RequestIDHeader, strconv.FormatUint(id+s.base, 10))
	}
	return s.next.RoundTrip(req)
}

// What a fault button runs of an entry.
const (
	phaseApply  = "apply"  // the method's actions on the fault API, as the method
	phaseRemove = "remove" // the rollbacks, as rollbacks
)

// run builds the entry's small experiment for phase and runs it with the engine.
func (c *catalogueActions) run(ctx context.Context, name, phase string) error {
	if c.err != nil {
		return c.err
	}
	e, ok := c.entries[name]
	if !ok {
		return errorf(http.StatusNotFound, "no fault %q in the catalogue for this stack", name)
	}
	doc, err := faultDocument(e, phase)
	if err != nil {
		return err
	}
	exp, err := experiment.Parse(doc, "json")
	if err != nil {
		return fmt.Errorf("%s: %w", e.Path, err)
	}
	j, err := experiment.Run(ctx, exp, experiment.Options{LookupEnv: c.lookup})
	if err != nil {
		return fmt.Errorf("%s: %w", e.Path, err)
	}
	ran := j.Run
	if phase == phaseRemove {
		ran = j.Rollbacks
	}
	if err := failures(ran); err != nil {
		return err
	}
	return ctx.Err()
}

func (c *catalogueActions) lookup(k string) (string, bool) {
	v, ok := c.env[k]
	return v, ok
}

// faultDocument is the experiment a button runs: the entry's configuration and, for apply, the
// method's actions on the fault API as its method; for remove, the rollbacks as its rollbacks.
// Pauses are left out: the page applies and removes at once.
func faultDocument(e chaos.Entry, phase string) ([]byte, error) {
	var src map[string]any
	dec := json.NewDecoder(strings.NewReader(string(e.Data)))
	dec.UseNumber() // numbers keep their text: 1500 stays an integer
	if err := dec.Decode(&src); err != nil {
		return nil, fmt.Errorf("%s: %w", e.Path, err)
	}
	acts, err := faultActivities(e, phase)
	if err != nil {
		return nil, err
	}
	doc := map[string]any{
		"version":       "1.0.0",
		"title":         fmt.Sprintf("%s: %s (chaoslab live page)", e.Name, phase),
		"description":   fmt.Sprintf("The %s button of the live page for %s: %s.", phase, e.Name, e.Fault),
		"configuration": src["configuration"],
		"method":        []any{},
	}
	if phase == phaseApply {
		doc["method"] = acts
	} else {
		doc["rollbacks"] = acts
	}
	return json.Marshal(doc)
}

// faultActivities returns the activities a button runs, without their pauses.
func faultActivities(e chaos.Entry, phase string) ([]any, error) {
	var src struct {
		Method    []map[string]any `json:"method"`
		Rollbacks []map[string]any `json:"rollbacks"`
	}
	dec := json.NewDecoder(strings.NewReader(string(e.Data)))
	dec.UseNumber()
	if err := dec.Decode(&src); err != nil {
		return nil, fmt.Errorf("%s: %w", e.Path, err)
	}
	list, keep := src.Rollbacks, func(map[string]any) bool { return true }
	if phase == phaseApply {
		list, keep = src.Method, writesFaultAPI
	}
	var out []any
	for _, a := range list {
		if keep(a) {
			delete(a, "pauses")
			out = append(out, a)
		}
	}
	return out, nil
}

// writesFaultAPI reports whether a is an action that changes the lab's fault API.
func writesFaultAPI(a map[string]any) bool {
	p, _ := a["provider"].(map[string]any)
	url, _ := p["url"].(string)
	method, _ := p["method"].(string)
	switch strings.ToUpper(method) {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return false
	}
	return a["type"] == "action" && p["type"] == "http" && strings.HasPrefix(url, "${toxiproxy_url}")
}

// failures says which activities failed: the engine's status, or an answer of the fault API
// that is not a success.
func failures(ran []*experiment.Entry) error {
	var errs []error
	for _, e := range ran {
		switch {
		case e.Status != "succeeded":
			errs = append(errs, fmt.Errorf("%s: %s", e.Name(), lastLine(e.Exception, "did not complete")))
		default:
			if status, body, ok := httpAnswer(e.Output); ok && status >= 400 {
				errs = append(errs, fmt.Errorf("%s: the fault API answered %d: %s", e.Name(), status, body))
			}
		}
	}
	return errors.Join(errs...)
}

// httpAnswer reads the status and the body (cut short) of an http provider's output.
func httpAnswer(out any) (int64, string, bool) {
	o, ok := out.(*experiment.Object)
	if !ok {
		return 0, "", false
	}
	v, _ := o.Get("status")
	status, ok := v.(int64)
	if !ok {
		return 0, "", false
	}
	body, _ := o.Get("body")
	text, isText := body.(string)
	if !isText {
		b, _ := json.Marshal(body)
		text = string(b)
	}
	return status, strings.TrimSpace(cut(text, 300)), true
}

// cut shortens s to at most n bytes, on a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// lastLine returns the last non-empty line of an exception, or fallback.
func lastLine(lines []string, fallback string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		parts := strings.Split(lines[i], "\n")
		for k := len(parts) - 1; k >= 0; k-- {
			if l := strings.TrimSpace(parts[k]); l != "" {
				return l
			}
		}
	}
	return fallback
}
