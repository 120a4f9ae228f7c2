package lab

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/fault"
	"chaoslab/internal/results"
)

// nopPartitioner is a partition that takes effect at once and does nothing.
type nopPartitioner struct{}

func (nopPartitioner) Partition(context.Context) error { return nil }
func (nopPartitioner) Heal(context.Context) error      { return nil }

// faultAPIStack is the fake stack with a real fault API as its Faults endpoint.
type faultAPIStack struct {
	*fakeStack
	api *fault.API
}

func (f *faultAPIStack) Start(ctx context.Context, env StartEnv) (Running, error) {
	if _, err := f.fakeStack.Start(ctx, env); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *faultAPIStack) Endpoints() Endpoints {
	e := f.fakeStack.Endpoints()
	e.Faults = f.api.URL()
	return e
}

func scrapeText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// A run tells the stack's fault API its experiment: in progress while the method runs, then
// its status, in the Chaos Toolkit Prometheus control's names.
func TestRunReportsExperimentMetrics(t *testing.T) {
	api, err := fault.StartAPI(fault.APIConfig{Addr: "127.0.0.1:0", TCP: fault.NewPartitionAPI(fault.PartitionAPIConfig{Partitioner: nopPartitioner{}})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close(context.Background()) })
	f := &faultAPIStack{fakeStack: newFakeStack(t), api: api}

	// The experiment's action calls /block; while it waits there the metrics are read, then
	// the run is interrupted.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	during := make(chan string, 1)
	go func() {
		<-f.blocked
		during <- scrapeText(t, api.URL())
		cancel()
	}()
	dir := filepath.Join(t.TempDir(), "out")
	o, err := Run(ctx, RunConfig{Stack: f, Experiment: fakeExperiment(t, "/block", 0), ExperimentName: "fake", RPS: 20,
		LoadTimeout: 5 * time.Second, Warmup: 60 * time.Millisecond, Recovery: 60 * time.Millisecond, OutDir: dir, Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	labels := `{chaostoolkit_experiment_ref="fake",chaostoolkit_lib_version="chaoslab",chaostoolkit_run_trace_id="out",source="chaoslab"}`
	if got := <-during; !strings.Contains(got, "chaostoolkit_inprogress_experiment"+labels+" 1\n") || strings.Contains(got, "chaostoolkit_experiment_status") {
		t.Errorf("during the method, want in progress 1 and no status:\n%s", got)
	}
	run, err := results.ReadRun(o.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if run.Info.Status == "" {
		t.Fatal("the run's journal has no status")
	}
	after := scrapeText(t, api.URL())
	statusLabels := strings.Replace(labels, `,chaostoolkit_lib_version`, `,chaostoolkit_experiment_status="`+run.Info.Status+`",chaostoolkit_lib_version`, 1) // labels are sorted
	for _, want := range []string{"chaostoolkit_inprogress_experiment" + labels + " 0\n", "chaostoolkit_experiment_status" + statusLabels + " 1\n",
		"chaostoolkit_deviated_experiment_total" + labels + " " + map[bool]string{true: "1", false: "0"}[run.Info.Deviated] + "\n"} {
		if !strings.Contains(after, want) {
			t.Errorf("after the run (journal status %s), missing %s in:\n%s", run.Info.Status, want, after)
		}
	}
}
