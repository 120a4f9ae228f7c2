package fault

import (
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeAPI fetches the fault API's GET /metrics and parses it; the text goes to promtool when
// it is installed.
func scrapeAPI(t *testing.T, a *API) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(a.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /metrics = %d, %v", resp.StatusCode, err)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(text)))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, text)
	}
	if path, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(path, "check", "metrics")
		cmd.Stdin = strings.NewReader(string(text))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s\n%s", err, out, text)
		}
	} else {
		t.Log("promtool not installed (apt-get install prometheus): exposition lint skipped")
	}
	return families
}

// series is the value of the series of family name whose labels are exactly labels.
func series(t *testing.T, families map[string]*dto.MetricFamily, name string, typ dto.MetricType, labels map[string]string) (float64, bool) {
	t.Helper()
	mf := families[name]
	if mf == nil {
		return 0, false
	}
	if mf.GetType() != typ {
		t.Errorf("%s: type %v, want %v", name, mf.GetType(), typ)
	}
next:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		if m.Counter != nil {
			return m.Counter.GetValue(), true
		}
		return m.Gauge.GetValue(), true
	}
	return 0, false
}

func TestFaultActiveGauge(t *testing.T) {
	procs := newFakeProcs()
	a, ch, _, _ := startAPI(t, procs)
	g := dto.MetricType_GAUGE
	active := func(f map[string]*dto.MetricFamily, kind, target string) (float64, bool) {
		return series(t, f, "chaoslab_fault_active", g, map[string]string{"kind": kind, "target": target})
	}
	if f := scrapeAPI(t, a); len(f["chaoslab_fault_active"].GetMetric()) != 0 {
		t.Errorf("before any fault: %v, want no series", f["chaoslab_fault_active"])
	}
	if code, body := call(t, "POST", a.URL()+"/proxies/backend/toxics", toxic("downstream")); code != 200 {
		t.Fatalf("partition: %d %s", code, body)
	}
	if code, body := call(t, "POST", a.URL()+"/processes/client-service/kill", `{"signal":"SIGKILL"}`); code != 200 {
		t.Fatalf("kill: %d %s", code, body)
	}
	f := scrapeAPI(t, a)
	if v, ok := active(f, KindPartition, "backend"); !ok || v != 1 {
		t.Errorf("during the partition: partition/backend = %v (found %v), want 1", v, ok)
	}
	if v, ok := active(f, KindCrash, "client-service"); !ok || v != 1 {
		t.Errorf("during the crash: crash/client-service = %v (found %v), want 1", v, ok)
	}
	if got := ch.list(); len(got) != 1 || !got[0].Active {
		t.Fatalf("changes = %+v, want one on", got)
	}
	if code, body := call(t, "POST", a.URL()+"/reset", ""); code != 204 {
		t.Fatalf("reset: %d %s", code, body)
	}
	f = scrapeAPI(t, a)
	for _, kt := range [][2]string{{KindPartition, "backend"}, {KindCrash, "client-service"}} {
		if v, ok := active(f, kt[0], kt[1]); !ok || v != 0 {
			t.Errorf("after the reset: %s/%s = %v (found %v), want 0", kt[0], kt[1], v, ok)
		}
	}
	if got := ch.list(); len(got) != 2 || got[1].Active {
		t.Errorf("changes = %+v, want on then off", got)
	}
}

// TestFaultSeenBetweenScrapes: a fault that came and went between two scrapes has its 0.
func TestFaultSeenBetweenScrapes(t *testing.T) {
	a, _, _, _ := startAPI(t, nil)
	call(t, "POST", a.URL()+"/proxies/backend/toxics", toxic("downstream"))
	call(t, "POST", a.URL()+"/reset", "")
	if v, ok := series(t, scrapeAPI(t, a), "chaoslab_fault_active", dto.MetricType_GAUGE,
		map[string]string{"kind": KindPartition, "target": "backend"}); !ok || v != 0 {
		t.Errorf("partition/backend = %v (found %v), want 0", v, ok)
	}
}

func TestExperimentMetrics(t *testing.T) {
	a, _, _, _ := startAPI(t, nil)
	labels := func(extra ...string) map[string]string {
		m := map[string]string{"source": "chaoslab", "chaostoolkit_lib_version": "chaoslab",
			"chaostoolkit_run_trace_id": "run-1", "chaostoolkit_experiment_ref": "partition"}
		for i := 0; i < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	g, c := dto.MetricType_GAUGE, dto.MetricType_COUNTER
	if f := scrapeAPI(t, a); f["chaostoolkit_inprogress_experiment"] != nil {
		t.Errorf("before any experiment: %v", f["chaostoolkit_inprogress_experiment"])
	}
	if code, body := call(t, "PUT", a.URL()+"/experiment", `{"ref":"partition","run":"run-1","inProgress":true}`); code != 204 {
		t.Fatalf("PUT /experiment = %d %s", code, body)
	}
	f := scrapeAPI(t, a)
	if v, ok := series(t, f, "chaostoolkit_inprogress_experiment", g, labels()); !ok || v != 1 {
		t.Errorf("during: in progress = %v (found %v), want 1", v, ok)
	}
	if f["chaostoolkit_experiment_status"] != nil || f["chaostoolkit_deviated_experiment_total"] != nil {
		t.Errorf("during: status or deviated exported before the end")
	}
	a.SetExperiment(Experiment{Ref: "partition", Run: "run-1", Status: "failed", Deviated: true, Duration: 12.5})
	f = scrapeAPI(t, a)
	for _, w := range []struct {
		name   string
		typ    dto.MetricType
		labels map[string]string
		want   float64
	}{
		{"chaostoolkit_inprogress_experiment", g, labels(), 0},
		{"chaostoolkit_experiment_status", g, labels("chaostoolkit_experiment_status", "failed"), 1},
		{"chaostoolkit_experiment_status", g, labels("chaostoolkit_experiment_status", "completed"), 0},
		{"chaostoolkit_experiment_status", g, labels("chaostoolkit_experiment_status", "aborted"), 0},
		{"chaostoolkit_experiment_status", g, labels("chaostoolkit_experiment_status", "interrupted"), 0},
		{"chaostoolkit_deviated_experiment_total", c, labels(), 1},
		{"chaostoolkit_experiment_duration", g, labels(), 12.5},
	} {
		if v, ok := series(t, f, w.name, w.typ, w.labels); !ok || v != w.want {
			t.Errorf("after: %s%v = %v (found %v), want %v", w.name, w.labels, v, ok, w.want)
		}
	}
	for _, bad := range []string{`{"ref":"x","run":"r","status":"done"}`, `{"run":"r","inProgress":true}`, `{"ref":"x","run":"r","bogus":1}`} {
		if code, _ := call(t, "PUT", a.URL()+"/experiment", bad); code != 400 {
			t.Errorf("PUT %s = %d, want 400", bad, code)
		}
	}
}

// A runner's faults made outside the API (PUT /faults/external: Kubernetes' NetworkPolicy, the
// pods a crash deleted) have their window in chaoslab_fault_active too: 1 while listed, 0 once
// a later list leaves them out; a bad list is a 400 that changes nothing.
func TestExternalFaults(t *testing.T) {
	a, _, _, _ := startAPI(t, nil)
	active := func(kind, target string) (float64, bool) {
		return series(t, scrapeAPI(t, a), "chaoslab_fault_active", dto.MetricType_GAUGE, map[string]string{"kind": kind, "target": target})
	}
	if code, body := call(t, "PUT", a.URL()+"/faults/external", `[{"kind":"partition","target":"backend"},{"kind":"crash","target":"backend-service"}]`); code != 204 {
		t.Fatalf("PUT /faults/external: %d %s", code, body)
	}
	for _, kt := range [][2]string{{KindPartition, "backend"}, {KindCrash, "backend-service"}} {
		if v, ok := active(kt[0], kt[1]); !ok || v != 1 {
			t.Errorf("while listed: %s/%s = %v (found %v), want 1", kt[0], kt[1], v, ok)
		}
	}
	for _, bad := range []string{`{"kind":"partition"}`, `[{"kind":"partition"}]`, `[{"kind":"partition","target":"backend","x":1}]`} {
		if code, _ := call(t, "PUT", a.URL()+"/faults/external", bad); code != 400 {
			t.Errorf("PUT %s: %d, want 400", bad, code)
		}
	}
	if v, _ := active(KindPartition, "backend"); v != 1 {
		t.Error("a refused list changed the faults in effect")
	}
	if code, body := call(t, "PUT", a.URL()+"/faults/external", `[{"kind":"crash","target":"backend-service"}]`); code != 204 {
		t.Fatalf("PUT /faults/external: %d %s", code, body)
	}
	if v, ok := active(KindPartition, "backend"); !ok || v != 0 {
		t.Errorf("once left out: partition/backend = %v (found %v), want 0", v, ok)
	}
	if v, _ := active(KindCrash, "backend-service"); v != 1 {
		t.Errorf("crash/backend-service = %v, want still 1", v)
	}
	call(t, "POST", a.URL()+"/reset", "")
	if v, _ := active(KindCrash, "backend-service"); v != 0 {
		t.Errorf("after POST /reset: crash/backend-service = %v, want 0", v)
	}
}
