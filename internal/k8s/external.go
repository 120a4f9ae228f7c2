package k8s

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"chaoslab/internal/fault"
)

// externalFaults are the faults of this run made outside the sidecar's fault API, in effect now:
// the partition while a NetworkPolicy of the run is in place (on the hop in front of the
// backend), and a crash of each app whose pods terminate_pods deleted until they are replaced.
func (r *running) externalFaults() []fault.External {
	r.mu.Lock()
	defer r.mu.Unlock()
	ex := []fault.External{}
	if len(r.policies) > 0 {
		ex = append(ex, fault.External{Kind: fault.KindPartition, Target: fault.ProxyName})
	}
	for _, app := range sortedKeys(r.crashed) {
		ex = append(ex, fault.External{Kind: fault.KindCrash, Target: app})
	}
	return ex
}

// tellSidecar puts the run's external faults on the sidecar's fault API (PUT /faults/external),
// so that its chaoslab_fault_active shows their windows as it shows its own faults'. A failure
// costs the metric only: it is said, the run goes on.
func (r *running) tellSidecar() {
	if r.faults == nil {
		return
	}
	if err := putExternal(r.watchCtx, r.faults.URL, r.externalFaults()); err != nil {
		r.say("the fault sidecar's chaoslab_fault_active does not show this fault: %v", err)
	}
}

func putExternal(ctx context.Context, faultsURL string, ex []fault.External) error {
	body, err := json.Marshal(ex)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, faultsURL+"/faults/external", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("PUT %s/faults/external: %w", faultsURL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("PUT %s/faults/external: %w", faultsURL, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("PUT %s/faults/external: answered %s (a sidecar image older than this chaoslab?)", faultsURL, resp.Status)
	}
	return nil
}
