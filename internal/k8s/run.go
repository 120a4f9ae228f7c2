package k8s

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"chaoslab/internal/lab"
	"chaoslab/internal/report"
	"chaoslab/internal/results"
	"chaoslab/internal/wait"
)

// Names of the fault sidecar (deploy/k8s/backend-deployment.yaml, backend-service.yaml): the
// container `chaoslab serve fault-proxy` beside the backend, and the Service through which a
// run reaches its fault API and the backend itself (not through the faults).
const (
	FaultProxyContainer = "fault-proxy"
	FaultsServiceName   = "backend-faults"
	FaultsPort          = "http"
	DirectPort          = "direct"
)

// attemptRecordsLease is how long the client writes its attempt records after each request to
// do so; the run renews it while it lasts, and a killed run's lease ends by itself.
const attemptRecordsLease = time.Minute

// attemptRecords turns the client's attempt records on for the run (PUT
// /api/attempt-records; with a topology, every tier's), so that calls per request (and per
// layer) come from them as on the local stacks, and renews the leases until the run ends. A
// client that cannot is said, and the counts come from the answers.
func (r *running) attemptRecords(ctx context.Context) {
	var on []client
	for _, c := range r.clients() {
		if err := putAttemptRecords(ctx, c.proxy, attemptRecordsLease); err != nil {
			who := "the client's"
			if c.tier != "" {
				who = "tier " + c.tier + "'s"
			}
			r.say("!! %s attempt records could not be turned on (%v): calls per request come from the answers", who, err)
			continue
		}
		on = append(on, c)
	}
	if len(on) == 0 {
		return
	}
	r.verifyWG.Add(1)
	go func() {
		defer r.verifyWG.Done()
		for wait.For(r.watchCtx, attemptRecordsLease/3) {
			for _, c := range on {
				if err := putAttemptRecords(r.watchCtx, c.proxy, attemptRecordsLease); err != nil && r.watchCtx.Err() == nil {
					r.env.Logger.Warn("renew the attempt records", "service", c.service, "error", err)
				}
			}
		}
	}()
}

func (r *running) attemptRecordsOff(ctx context.Context) {
	for _, c := range r.clients() {
		if c.proxy == nil {
			continue
		}
		if err := putAttemptRecords(ctx, c.proxy, 0); err != nil {
			r.env.Logger.Warn("turn the attempt records off", "service", c.service, "error", err)
		}
	}
}

func putAttemptRecords(ctx context.Context, p *Proxy, lease time.Duration) error {
	url := fmt.Sprintf("%s/api/attempt-records?for=%s", p.URL, lease)
	return do(ctx, http.MethodPut, url, http.StatusOK)
}

// tierFault is told of every request to the fault sidecar in a run with a topology. The sidecar
// fronts the backend only: its Toxiproxy has the one proxy "backend", its L7 injector the one
// target "backend", its process faults the one process backend-service, and no NetworkPolicy
// of the catalogue isolates a tier. A change that names a tier in its path or its ?target= (a
// fault at a tier, as the local stack's per-hop proxies and injectors take) would do nothing
// here, so it is a problem that fails the run, with what to do, rather than a fault that
// silently never happened. (A POST /faults/http naming a tier in its body is answered 400,
// unknown target, by the sidecar itself; chaoslab run refuses --var fault_target=<tier>.)
func (r *running) tierFault(req *http.Request) {
	if req.Method == http.MethodGet {
		return
	}
	target := req.URL.Query().Get("target")
	if rest, ok := strings.CutPrefix(req.URL.Path, "/proxies/"); ok {
		target, _, _ = strings.Cut(rest, "/")
	}
	if rest, ok := strings.CutPrefix(req.URL.Path, "/processes/"); ok {
		if name, _, _ := strings.Cut(rest, "/"); name != results.BackendService {
			target = name
		}
	}
	if target == "" || target == results.BackendNode {
		return
	}
	r.env.Problem("%s %s: %s", req.Method, req.URL.Path, TierFaultRefusal(target))
	r.say("!! %s", TierFaultRefusal(target))
}

// TierFaultRefusal says why a fault at a tier (not the backend) does not run on Kubernetes.
func TierFaultRefusal(target string) string {
	return fmt.Sprintf("a fault at %s: on --stack k8s faults are at the backend only (its fault-proxy sidecar, the partition NetworkPolicy); a fault at a tier runs on --stack local, which puts a Toxiproxy proxy in front of every tier", target)
}

// resetSidecar removes every fault of the sidecar (POST /reset).
func resetSidecar(ctx context.Context, base string) error {
	return do(ctx, http.MethodPost, base+"/reset", http.StatusNoContent, http.StatusOK)
}

// sidecarLeftover asks the sidecar's fault API what of a fault remains (GET /faults).
func sidecarLeftover(ctx context.Context, base string) (bool, string) {
	hc := &http.Client{Timeout: 5 * time.Second}
	b, err := fetchBody(ctx, hc, base+"/faults")
	if err != nil {
		return false, ""
	}
	var st struct {
		Leftover bool   `json:"leftover"`
		Detail   string `json:"detail"`
	}
	if json.Unmarshal(b, &st) != nil || !st.Leftover {
		return false, ""
	}
	return true, "the fault sidecar: " + st.Detail
}

// do sends a request without a body and checks that it is answered with one of want.
func do(ctx context.Context, method, url string, want ...int) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	for _, w := range want {
		if resp.StatusCode == w {
			return nil
		}
	}
	return fmt.Errorf("%s %s: HTTP %d %s", method, url, resp.StatusCode, bytes.TrimSpace(b))
}

// Compare runs the experiment once per profile with the runner, as on the local stacks: before
// each run the ConfigMap's RESILIENCE is set to the profile and client-service is restarted
// (rollout), each run goes into its folder under cfg.OutDir, and one report compares them. The
// ConfigMap is restored (and the client restarted) afterwards, also after an interrupt; a
// killed compare is restored by the next run or `chaoslab recover --stack k8s`.
func Compare(ctx context.Context, s *Stack, cfg lab.RunConfig, profiles []report.Profile) (*lab.Comparison, error) {
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	c := s.Cluster
	if err := c.Preflight(ctx); err != nil {
		return nil, err
	}
	if err := lab.MakeResultsDir(cfg.OutDir); err != nil {
		return nil, err
	}
	removed, err := c.RemoveLeftovers(ctx)
	for _, what := range removed {
		fmt.Fprintf(cfg.Stdout, "  removed a leftover of an earlier run: %s\n", what)
	}
	if err != nil {
		return nil, fmt.Errorf("remove the leftovers of earlier runs: %w", err)
	}
	run := NewRunID(time.Now())
	plug := *s
	plug.compareRun = run
	cfg.Stack = &plug
	defer func() {
		if what, err := c.restoreResilience(context.WithoutCancel(ctx), run); err != nil {
			fmt.Fprintf(cfg.Stdout, "  !! %v: chaoslab recover --stack k8s puts it back\n", err)
		} else if what != "" {
			fmt.Fprintf(cfg.Stdout, "  %s\n", what)
		}
	}()
	return lab.Compare(ctx, cfg, profiles)
}

// waitReady polls url until it answers 200 or timeout passes.
func waitReady(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{Timeout: 5 * time.Second}
	for {
		if statusOf(ctx, hc, url) == http.StatusOK {
			return nil
		}
		if !wait.For(ctx, 500*time.Millisecond) {
			return fmt.Errorf("%s did not answer 200 within %v", url, timeout)
		}
	}
}

func statusOf(ctx context.Context, hc *http.Client, url string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func fetchBody(ctx context.Context, hc *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d %v", url, resp.StatusCode, err)
	}
	return b, nil
}
