package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/report"
	"chaoslab/internal/results"
)

// The catalogue's entries of issue 20 (retry-storm, capacity-drop, load-spike, metastable): what
// TestSuite checks of each, and retry-storm's own mark with RESILIENCE=retry.

// journalBody is the JSON body of the method activity named name, as the journal recorded it.
func journalBody(t *testing.T, dir, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, results.JournalFile))
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Run []struct {
			Activity struct {
				Name string `json:"name"`
			} `json:"activity"`
			Output struct {
				Status int             `json:"status"`
				Body   json.RawMessage `json:"body"` // "" for an answer without JSON
			} `json:"output"`
		} `json:"run"`
	}
	if err := json.Unmarshal(data, &j); err != nil {
		t.Fatal(err)
	}
	for _, r := range j.Run {
		if r.Activity.Name == name {
			var body map[string]any
			if err := json.Unmarshal(r.Output.Body, &body); err != nil || body == nil {
				t.Fatalf("activity %s answered %d without a JSON object: %s", name, r.Output.Status, r.Output.Body)
			}
			return body
		}
	}
	t.Fatalf("the journal has no activity %s", name)
	return nil
}

// faultKinds are the names of the run's fault events, one per on/off.
func (ev *evidence) faultKinds() []string {
	var out []string
	for _, e := range ev.events {
		if e.Kind == results.KindFault {
			out = append(out, e.Action+" "+e.Name)
		}
	}
	return out
}

// backendTotal sums what the backend's capacity model did with the requests it got, from a
// snapshot: every request ends completed, wasted, rejected or expired.
func backendTotal(s results.Snapshot) float64 {
	m := s.Services[results.BackendService].Metrics
	return m["backend_requests_completed_total"] + m["backend_requests_wasted_total"] + m["backend_requests_rejected_total"] + m["backend_requests_expired_total"]
}

// overloaded sums the backend's requests that did not end well: rejected (queue full), expired
// (dropped from the queue at their deadline) and wasted (served for a caller that had gone).
func overloaded(s results.Snapshot) float64 {
	m := s.Services[results.BackendService].Metrics
	return m["backend_requests_rejected_total"] + m["backend_requests_expired_total"] + m["backend_requests_wasted_total"]
}

// summaryOf reads the run's summary.json.
func summaryOf(t *testing.T, dir string) report.Summary {
	t.Helper()
	s, err := report.ReadSummaryJSON(filepath.Join(dir, report.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// retry-storm in the suite (RESILIENCE=on): chain-3 started from the experiment's own
// extension, the outage at the backend's hop, and every layer counted.
func checkRetryStormSuite(t *testing.T, ev *evidence) {
	s := summaryOf(t, ev.dir)
	if s.Settings.Topology != "chain-3" || len(s.Layers) != 4 {
		t.Fatalf("topology %q with %d layers, want chain-3's 4", s.Settings.Topology, len(s.Layers))
	}
	if kinds := strings.Join(ev.faultKinds(), ", "); kinds != "on partition, off partition" {
		t.Errorf("fault events: %s, want the partition on and off", kinds)
	}
	for _, e := range ev.events {
		if e.Kind == results.KindFault && e.Action == "on" && strings.HasPrefix(e.Message, "proxy ") {
			t.Errorf("the outage is at %q, want the backend's hop", e.Message)
		}
	}
	if s.Layers[3].During.Calls == 0 {
		t.Error("no call reached the backend's layer during the outage")
	}
}

// capacity-drop: the capacity fault's window, the backend 4 times slower during it (its own
// answer), its queue grown by the end of the drop, its settings back afterwards.
func checkCapacityDrop(t *testing.T, ev *evidence) {
	if kinds := strings.Join(ev.faultKinds(), ", "); kinds != "on capacity, off capacity" {
		t.Errorf("fault events: %s, want the capacity fault on and off", kinds)
	}
	end := journalBody(t, ev.dir, "backend-capacity-at-the-end-of-the-drop")
	if end["factor"] != 4.0 || end["queued"].(float64) == 0 {
		t.Errorf("the backend at the end of the drop: %v; want factor 4 and requests queued (20 requests/s against about 10)", end)
	}
	if w := ev.after.Services[results.BackendService].Metrics["backend_workers"]; w != 4 {
		t.Errorf("backend_workers after the run = %g, want single's 4", w)
	}
	if backendTotal(ev.after) <= backendTotal(ev.before) {
		t.Errorf("the backend's counters did not move: %g before, %g after", backendTotal(ev.before), backendTotal(ev.after))
	}
}

// load-spike: the spike's window, its own counts, the entry tier's own count of the requests it
// got (the lab's load, the spike and the two steady-state probes), and the backend overloaded.
func checkLoadSpike(t *testing.T, ev *evidence) {
	if kinds := strings.Join(ev.faultKinds(), ", "); kinds != "on load-spike, off load-spike" {
		t.Errorf("fault events: %s, want the load spike on and off", kinds)
	}
	spike := journalBody(t, ev.dir, "wait-for-the-spike-to-end")
	sent, answered, failed := spike["sent"].(float64), spike["answered"].(float64), spike["failed"].(float64)
	if sent+spike["dropped"].(float64) < 199 || sent != answered+failed || spike["in_flight"] != 0.0 {
		t.Errorf("the spike's counts %v: want 100/s x 2 s = 200 arrivals, each sent one answered or failed, none in flight", spike)
	}
	run, err := results.ReadRun(ev.dir)
	if err != nil {
		t.Fatal(err)
	}
	load := 0
	for _, r := range run.Records {
		if r.Answered() {
			load++
		}
	}
	const probes = 2 // the steady state's GET /api/data, before and after
	if got := dataCounted(ev.after.Services["client"].Metrics); got != float64(load)+sent+probes {
		t.Errorf("the entry tier counted %g requests; the load sent %d, the spike %g, the probes %d", got, load, sent, probes)
	}
	if overloaded(ev.after) == 0 {
		t.Errorf("the backend rejected, expired and wasted nothing: %v", ev.after.Services[results.BackendService].Metrics)
	}
}

// dataCounted sums a service's own count of GET /api/data requests, every status.
func dataCounted(m map[string]float64) float64 {
	n := 0.0
	for k, v := range m {
		if strings.HasPrefix(k, "http_server_requests_seconds_count") && strings.Contains(k, `uri="GET /api/data"`) {
			n += v
		}
	}
	return n
}

// metastable runs: one trigger, ended by the method itself before the watch and the rollbacks,
// the backend slower during it and as fast as before at the end of the watch.
func checkMetastable(t *testing.T, ev *evidence) {
	if kinds := strings.Join(ev.faultKinds(), ", "); kinds != "on capacity, off capacity" {
		t.Fatalf("fault events: %s, want one trigger", kinds)
	}
	j := readJournal(t, ev.dir)
	if len(j.Rollbacks) == 0 || !ev.off[0].Before(time.Time(j.Rollbacks[0].Start)) {
		t.Errorf("the trigger ended at %v, not before the rollbacks: the method must end it and watch", ev.off[0])
	}
	if b := journalBody(t, ev.dir, "backend-capacity-at-the-end-of-the-trigger"); b["factor"] != 4.0 {
		t.Errorf("the backend at the end of the trigger: %v, want factor 4", b)
	}
	if b := journalBody(t, ev.dir, "backend-capacity-at-the-end-of-the-watch"); b["factor"] != 1.0 {
		t.Errorf("the backend at the end of the watch: %v, want factor 1", b)
	}
}

// retry-storm's mark, with RESILIENCE=retry at every tier of chain-3 during a 2 s outage at the
// backend's hop: every layer below the entry gets more than one call per user request, and the
// calls joined by request id add up, layer by layer, to what each calling tier counted itself
// (its /metrics), less the experiment's probes.
func TestRetryStormAmplifiesPerLayer(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end lab run with three tiers (about 8 s)")
	}
	t.Setenv(envTestMain, "1")
	out := filepath.Join(t.TempDir(), "results")
	args := []string{"run", "retry-storm", "--out", out, "--rps", "20", "--warmup", "1s", "--recovery", "2s",
		"--var", "partition_duration:int=2", "--env", "RESILIENCE=retry", "--env", "ATTEMPT_TIMEOUT=200ms", "--env", "REQUEST_TIMEOUT=1s",
		"--env", "RETRY_INITIAL_BACKOFF=10ms", "--env", "RETRY_MAX_BACKOFF=50ms", "--env", "RETRY_MAX_RETRIES=2"}
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), args, os.Getenv, &stdout, &stderr); err != nil && cmdutil.ExitCode(err) != cmdutil.ExitFailure {
		t.Fatalf("chaoslab run: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	run, err := results.ReadRun(out)
	if err != nil {
		t.Fatal(err)
	}
	s := summaryOf(t, out)
	if run.After == nil || len(s.Layers) != 4 || s.Settings.Topology != "chain-3" || s.Settings.Resilience != "retry" {
		t.Fatalf("after snapshot %t, topology %q, resilience %q, layers %+v", run.After != nil, s.Settings.Topology, s.Settings.Resilience, s.Layers)
	}
	for _, l := range s.Layers[1:] {
		if l.During.PerRequest != nil {
			t.Logf("layer %s during the outage: %d calls for %d user requests (%.2f each)", l.Name, l.During.Calls, l.During.Requests, *l.During.PerRequest)
		}
		if l.During.PerRequest == nil || *l.During.PerRequest <= 1 {
			t.Errorf("layer %s during the outage: %d calls for %d user requests, want more than one each", l.Name, l.During.Calls, l.During.Requests)
		}
	}
	// RESILIENCE=retry has no breaker, so a tier's own count of its calls is what the tier it
	// calls counted of the requests it got (its /metrics), less the calls without a request id
	// (the experiment's probes, as they go down the chain).
	// A call that was cut before it reached the tier it called (its caller's attempt timed out
	// while the connection through the hop's proxy was still being made: a machine under load)
	// is a call made and never counted there; only a failed call can be one.
	probes, failed := map[string]int{}, map[string]int{}
	for _, e := range run.Events {
		if e.Kind == results.KindAttempt && e.RequestID == 0 {
			probes[e.Tier]++
		}
		if e.Kind == results.KindAttempt && e.RequestID != 0 && e.Outcome != results.OutcomeSuccess {
			failed[e.Tier]++
		}
	}
	total := func(l report.SummaryLayer) int { return l.Before.Calls + l.During.Calls + l.After.Calls }
	for i, caller := range []string{"edge", "mid"} {
		l := s.Layers[i+1]
		callee := l.Nodes[0]
		if own := int(dataCounted(run.After.Services[callee].Metrics)) - probes[caller]; own > total(l) || total(l)-own > failed[caller] {
			t.Errorf("layer %s: %d calls joined by request id; %s counted %d requests of its own (less %d probes' calls by %s), want the same or fewer by at most %s's %d failed calls",
				l.Name, total(l), callee, own, probes[caller], caller, caller, failed[caller])
		}
	}
	// The backend gets only the calls made outside the outage: at most the layer's.
	l := s.Layers[3]
	if got := int(dataCounted(run.After.Services[results.BackendService].Metrics)) - probes["client"]; got > total(l) || got < l.Before.Calls {
		t.Errorf("the backend counted %d requests (less %d probes'), the layer %d calls, %d of them before the outage", got, probes["client"], total(l), l.Before.Calls)
	}
}

// --var fault_target=mid (a string: --var's default type) moves a catalogue partition to the hop
// in front of tier mid of chain-3: the fault window names proxy mid, edge's calls fail during
// it, and the user requests of the window hardly reach the tiers below the cut (only in the
// instant between the two toxics, one per stream).
func TestFaultTargetPartitionsATier(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end lab run with three tiers (about 8 s)")
	}
	t.Setenv(envTestMain, "1")
	out := filepath.Join(t.TempDir(), "results")
	args := []string{"run", "network-partition", "--topology", "chain-3", "--var", "fault_target=mid", "--var", "partition_duration:int=2",
		"--out", out, "--rps", "20", "--warmup", "1s", "--recovery", "2s", "--env", "ATTEMPT_TIMEOUT=200ms", "--env", "REQUEST_TIMEOUT=1s",
		"--env", "RETRY_INITIAL_BACKOFF=10ms", "--env", "RETRY_MAX_BACKOFF=50ms", "--env", "CB_WAIT_DURATION=500ms"}
	var stdout, stderr bytes.Buffer
	if err := Run(context.Background(), args, os.Getenv, &stdout, &stderr); err != nil && cmdutil.ExitCode(err) != cmdutil.ExitFailure {
		t.Fatalf("chaoslab run: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	ev := newEvidence(t, out)
	if len(ev.on) != 1 || len(ev.off) != 1 {
		t.Fatalf("fault windows: %d on, %d off, want one", len(ev.on), len(ev.off))
	}
	for _, e := range ev.events {
		if e.Kind == results.KindFault && e.Action == "on" && (e.Name != "partition" || !strings.HasPrefix(e.Message, "proxy mid: blackhole")) {
			t.Errorf("fault on = %s %q, want the partition of proxy mid", e.Name, e.Message)
		}
	}
	checkEdgeCallsFail(t, ev)
	s := summaryOf(t, out)
	if len(s.Layers) != 4 {
		t.Fatalf("layers %+v", s.Layers)
	}
	if below := s.Layers[2].During; below.Requests == 0 || float64(below.Calls) > 0.1*float64(below.Requests) {
		t.Errorf("layer client during the partition at mid: %d calls for %d user requests, want next to none", below.Calls, below.Requests)
	}
	// a request sent in the last moment before the fault is a "before" request whose call down
	// the chain may meet the partition at mid and never reach the backend: one may be missing
	if before := s.Layers[3].Before; before.Calls > before.Requests || before.Calls < before.Requests-1 {
		t.Errorf("layer backend before the fault: %d calls for %d requests, want one each (one fewer at most)", before.Calls, before.Requests)
	}
}

// checkEdgeCallsFail: every call edge made for a user request in the fault window failed (the
// fault sits on the hop below it), and there were some.
func checkEdgeCallsFail(t *testing.T, ev *evidence) {
	t.Helper()
	failed, succeeded := 0, 0
	for _, e := range ev.attemptsDuring {
		switch {
		case e.Tier == "edge" && e.Outcome == results.OutcomeSuccess && e.RequestID != 0:
			succeeded++
		case e.Tier == "edge" && e.RequestID != 0:
			failed++
		}
	}
	if failed == 0 || succeeded != 0 {
		t.Errorf("edge's calls started in the window: %d failed, %d succeeded; want failures only", failed, succeeded)
	}
}
