package fault

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Experiment is what a runner tells the fault API of the experiment it runs (PUT /experiment),
// for the chaostoolkit_* metrics of GET /metrics.
type Experiment struct {
	Ref        string  `json:"ref"`                  // the experiment (chaostoolkit_experiment_ref): its title
	Run        string  `json:"run"`                  // this run of it (chaostoolkit_run_trace_id)
	LibVersion string  `json:"libVersion,omitempty"` // chaostoolkit_lib_version; "" = "chaoslab"
	InProgress bool    `json:"inProgress"`           // the experiment's method and rollbacks are running
	Status     string  `json:"status,omitempty"`     // once ended: completed, failed, aborted or interrupted
	Deviated   bool    `json:"deviated"`             // once ended: the steady state did not hold after the method
	Duration   float64 `json:"duration,omitempty"`   // once ended: how long it ran, in seconds
}

// ctkStatuses are the states of the Chaos Toolkit Prometheus control's status enum.
func ctkStatuses() []string { return []string{"completed", "failed", "aborted", "interrupted"} }

// faultMetrics serves the fault windows and the experiment as Prometheus metrics:
//
//   - chaoslab_fault_active{kind,target}: 1 while a fault of that kind acts on that target (a
//     proxy or HTTP hop's name, the service a crash took down, a spike's entry URLs), 0 once it
//     is gone (for every pair seen since the API started), read from the injectors at scrape time.
//   - the metrics of the Chaos Toolkit's Prometheus control (chaosprometheus.metrics), with its
//     labels source, chaostoolkit_lib_version, chaostoolkit_run_trace_id and
//     chaostoolkit_experiment_ref, for the last experiment a runner reported (PUT /experiment):
//     chaostoolkit_inprogress_experiment (1 while it runs, 0 after), and once it ended
//     chaostoolkit_experiment_status{chaostoolkit_experiment_status} (1 for its status, 0 for
//     the other three), chaostoolkit_deviated_experiment_total (1 if it deviated, else 0) and
//     chaostoolkit_experiment_duration (seconds).
//
// It is safe for concurrent use.
type faultMetrics struct {
	injected func() []Injected

	mu       sync.Mutex
	seen     map[[2]string]bool // the (kind, target) pairs seen in effect
	exp      *Experiment        // the last one reported; nil before
	external []External         // the faults a runner made outside this API, in effect now (PUT /faults/external)

	active, inProgress, status, deviated, duration *prometheus.Desc
}

func newFaultMetrics(injected func() []Injected) *faultMetrics {
	ctk := []string{"source", "chaostoolkit_lib_version", "chaostoolkit_run_trace_id", "chaostoolkit_experiment_ref"}
	return &faultMetrics{injected: injected, seen: map[[2]string]bool{},
		active: prometheus.NewDesc("chaoslab_fault_active",
			"1 while a fault of this kind acts on this target, 0 once it is gone.", []string{"kind", "target"}, nil),
		inProgress: prometheus.NewDesc("chaostoolkit_inprogress_experiment", "Chaos Toolkit experiments in progress", ctk, nil),
		status: prometheus.NewDesc("chaostoolkit_experiment_status", "Chaos Toolkit experiment runs status",
			append(slices.Clone(ctk), "chaostoolkit_experiment_status"), nil),
		deviated: prometheus.NewDesc("chaostoolkit_deviated_experiment_total", "Chaos Toolkit deviated experiments", ctk, nil),
		duration: prometheus.NewDesc("chaostoolkit_experiment_duration", "Chaos Toolkit experiment duration", ctk, nil),
	}
}

// note records the faults in effect, so that a fault that came and went between two scrapes
// still has its 0 afterwards.
func (m *faultMetrics) note(in []Injected) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, i := range in {
		m.seen[[2]string{i.Kind, i.Target}] = true
	}
}

// Describe sends the metrics' descriptions.
func (m *faultMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.active, m.inProgress, m.status, m.deviated, m.duration} {
		ch <- d
	}
}

// Collect reads the faults in effect now and the last experiment reported.
func (m *faultMetrics) Collect(ch chan<- prometheus.Metric) {
	now := m.injected()
	m.mu.Lock()
	for _, e := range m.external {
		now = append(now, Injected{Kind: e.Kind, Target: e.Target})
	}
	m.mu.Unlock()
	on := map[[2]string]bool{}
	for _, i := range now {
		on[[2]string{i.Kind, i.Target}] = true
	}
	m.note(now)
	m.mu.Lock()
	pairs := make([][2]string, 0, len(m.seen))
	for p := range m.seen {
		pairs = append(pairs, p)
	}
	var exp *Experiment
	if m.exp != nil {
		e := *m.exp
		exp = &e
	}
	m.mu.Unlock()
	for _, p := range pairs {
		v := 0.0
		if on[p] {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(m.active, prometheus.GaugeValue, v, p[0], p[1])
	}
	if exp == nil {
		return
	}
	lib := exp.LibVersion
	if lib == "" {
		lib = "chaoslab"
	}
	labels := []string{"chaoslab", lib, exp.Run, exp.Ref}
	ch <- prometheus.MustNewConstMetric(m.inProgress, prometheus.GaugeValue, b2f(exp.InProgress), labels...)
	if exp.InProgress || exp.Status == "" {
		return
	}
	for _, s := range ctkStatuses() {
		ch <- prometheus.MustNewConstMetric(m.status, prometheus.GaugeValue, b2f(s == exp.Status), append(slices.Clone(labels), s)...)
	}
	ch <- prometheus.MustNewConstMetric(m.deviated, prometheus.CounterValue, b2f(exp.Deviated), labels...)
	ch <- prometheus.MustNewConstMetric(m.duration, prometheus.GaugeValue, exp.Duration, labels...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// External is a fault a runner made outside this API and tells it of (PUT /faults/external),
// so that chaoslab_fault_active shows its window too: on Kubernetes, the partition's
// NetworkPolicy and the pods a crash deleted.
type External struct {
	Kind   string `json:"kind"`   // one of the Kind constants: partition, crash
	Target string `json:"target"` // where it acts, as Injected.Target: "backend", the service a crash took down
}

// register serves GET /metrics, PUT /experiment and PUT /faults/external on mux.
func (m *faultMetrics) register(mux *http.ServeMux) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("PUT /experiment", m.handleExperiment)
	mux.HandleFunc("PUT /faults/external", m.handleExternal)
}

// handleExternal replaces the faults a runner made outside this API that are in effect now
// (a JSON array of {kind, target}; [] when none is left).
func (m *faultMetrics) handleExternal(w http.ResponseWriter, r *http.Request) {
	var ex []External
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ex); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("external faults: %v (want a JSON array of {kind, target})", err))
		return
	}
	for i, e := range ex {
		if e.Kind == "" || e.Target == "" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("external faults: [%d]: kind and target are required", i))
			return
		}
	}
	m.setExternal(ex)
	w.WriteHeader(http.StatusNoContent)
}

func (m *faultMetrics) setExternal(ex []External) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.external = ex
}

func (m *faultMetrics) handleExperiment(w http.ResponseWriter, r *http.Request) {
	var e Experiment
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("experiment: %v (want JSON: ref, run, inProgress, status, deviated, duration)", err))
		return
	}
	if e.Run == "" || e.Ref == "" {
		writeError(w, http.StatusBadRequest, "experiment: ref and run are required")
		return
	}
	if !e.InProgress && !slices.Contains(ctkStatuses(), e.Status) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("experiment: status %q: an ended experiment's status is one of %v", e.Status, ctkStatuses()))
		return
	}
	m.mu.Lock()
	m.exp = &e
	m.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// SetExperiment is PUT /experiment for a runner in the same process.
func (a *API) SetExperiment(e Experiment) {
	a.metrics.mu.Lock()
	defer a.metrics.mu.Unlock()
	a.metrics.exp = &e
}
