package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"chaoslab/internal/experiment"
	"chaoslab/internal/fault"
)

// reportExperiment tells the stack's fault API (PUT /experiment) that the experiment runs
// (running) or how it ended: its journal's status, or "aborted" when it never made one (j nil);
// for its chaostoolkit_* metrics. A stack without a fault API is told nothing.
// A failure costs the metrics only: it is logged, the run goes on.
func (r *runner) reportExperiment(ctx context.Context, started time.Time, running bool, j *experiment.Journal) {
	if r.endpoints.Faults == "" {
		return
	}
	e := fault.Experiment{Ref: r.info.Title, Run: filepath.Base(r.cfg.OutDir), InProgress: running}
	if !running {
		e.Status, e.Duration = experiment.StatusAborted, time.Since(started).Seconds()
		if j != nil {
			e.Status, e.Deviated = j.Status, j.Deviated
		}
	}
	if err := putExperiment(ctx, r.endpoints.Faults, e); err != nil {
		r.cfg.Logger.Warn("the fault API's experiment metrics are not updated", "error", err)
	}
}

func putExperiment(ctx context.Context, faults string, e fault.Experiment) error {
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, faults+"/experiment", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("PUT %s/experiment: %w", faults, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("PUT %s/experiment: %w", faults, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("PUT %s/experiment: answered %s (a fault API older than this chaoslab?)", faults, resp.Status)
	}
	return nil
}
