package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The closed loop's targets, by name.
const (
	TargetClient       = "client-service"
	TargetReverseProxy = "reverse-proxy"
	TargetHAProxy      = "haproxy"
)

// ClosedTarget is one target of the closed-loop part and what its slices counted.
type ClosedTarget struct {
	Name     string `json:"name"`     // TargetClient, TargetReverseProxy or TargetHAProxy
	Backend  int64  `json:"backend"`  // 200 answers without X-Fallback completed inside its slices
	Fallback int64  `json:"fallback"` // 200 answers with X-Fallback completed inside its slices
	Errors   int64  `json:"errors"`   // any other answer completed inside its slices
	// Slices holds the backend answers of each of its slices, round by round.
	Slices []int64 `json:"slices"`
	// PerSecond is Backend over the slices' total length.
	PerSecond float64 `json:"per_second"`
}

// Ratio is t's backend answers over ref's in the same rounds (0 when ref has none), and its
// lowest and highest ratio over single rounds: the moments of the machine each round met.
func (t ClosedTarget) Ratio(ref ClosedTarget) (all, lo, hi float64) {
	if ref.Backend == 0 {
		return 0, 0, 0
	}
	all, lo, hi = float64(t.Backend)/float64(ref.Backend), 0, 0
	first := true
	for i := range min(len(t.Slices), len(ref.Slices)) {
		if ref.Slices[i] == 0 {
			continue
		}
		r := float64(t.Slices[i]) / float64(ref.Slices[i])
		if first || r < lo {
			lo = r
		}
		if first || r > hi {
			hi = r
		}
		first = false
	}
	return all, lo, hi
}

// closedTarget is a target while it is measured.
type closedTarget struct {
	ClosedTarget
	url    string
	client *http.Client
	total  int64 // backend answers of every slice, warm-up and late ones included: the count check's share
	others int64 // the other answers of every slice: for a proxy, calls that may or may not have reached the backend
}

// sliceCount is what one slice of a closed loop counted.
type sliceCount struct {
	backend, fallback, errors int64 // completed before the slice's end
	late                      int64 // backend answers completed after it (the requests in flight at the end)
	lateOther                 int64 // other answers completed after it
}

// closedSlice has workers send GET url one after another until d has passed, and lets the
// requests in flight at the end finish (they count as late), so that every request sent is
// counted: the backend's own counter must agree with the bench's. A request that gets no
// answer at all stops the slice with an error.
func closedSlice(ctx context.Context, client *http.Client, url string, workers int, d time.Duration) (sliceCount, error) {
	end := time.Now().Add(d)
	var backend, fallback, errs, late, lateOther atomic.Int64
	var wg sync.WaitGroup
	failed := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(end) {
				kind, err := get(ctx, client, url)
				if err != nil {
					failed <- err
					return
				}
				in := !time.Now().After(end)
				switch {
				case kind == answerBackend && in:
					backend.Add(1)
				case kind == answerBackend:
					late.Add(1)
				case !in:
					lateOther.Add(1)
				case kind == answerFallback:
					fallback.Add(1)
				default:
					errs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(failed)
	var all []error
	for err := range failed {
		all = append(all, err)
	}
	c := sliceCount{backend: backend.Load(), fallback: fallback.Load(), errors: errs.Load(), late: late.Load(), lateOther: lateOther.Load()}
	if err := context.Cause(ctx); err != nil {
		return c, err
	}
	return c, errors.Join(all...)
}

// Kinds of answer in the closed loop.
const (
	answerBackend = iota
	answerFallback
	answerOther
)

// get sends one request and reads the whole answer.
func get(ctx context.Context, client *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return answerOther, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return answerOther, fmt.Errorf("GET %s: %w", url, err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return answerOther, fmt.Errorf("GET %s: read the answer: %w", url, err)
	case resp.StatusCode != http.StatusOK:
		return answerOther, nil
	case resp.Header.Get("X-Fallback") != "":
		return answerFallback, nil
	}
	return answerBackend, nil
}

// newLoopClient is a closed loop's HTTP client: one kept-alive connection per worker, like wrk.
func newLoopClient(workers int) *http.Client {
	return &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConns: workers, MaxIdleConnsPerHost: workers,
		IdleConnTimeout: time.Minute}, Timeout: 10 * time.Second}
}

// serviceClosedLoop measures the closed-loop throughput of client-service, a bare
// httputil.ReverseProxy and HAProxy (when cfg.HAProxy is set) in front of the same fault proxy
// and backend: a warm-up each, then cfg.Rounds rounds of one slice per target in turn.
func serviceClosedLoop(ctx context.Context, cfg ServiceConfig, sv *serviceStack, dir string) ([]ClosedTarget, *CountCheck, error) {
	upstream, err := sv.proxyListen(ctx)
	if err != nil {
		return nil, nil, err
	}
	urls := []struct{ name, url string }{{TargetClient, sv.stack.ClientURL + "/api/data"}}
	rp, err := StartReverseProxy(upstream, cfg.Workers)
	if err != nil {
		return nil, nil, err
	}
	defer rp.Close()
	urls = append(urls, struct{ name, url string }{TargetReverseProxy, rp.URL + "/api/data"})
	if cfg.HAProxy != "" {
		hp, err := StartHAProxy(ctx, cfg.HAProxy, upstream, dir)
		if err != nil {
			return nil, nil, err
		}
		defer hp.Close()
		urls = append(urls, struct{ name, url string }{TargetHAProxy, hp.URL + "/api/data"})
	}
	base, err := sv.counters(ctx)
	if err != nil {
		return nil, nil, err
	}
	targets := make([]*closedTarget, len(urls))
	for i, u := range urls {
		targets[i] = &closedTarget{ClosedTarget: ClosedTarget{Name: u.name}, url: u.url, client: newLoopClient(cfg.Workers)}
		defer targets[i].client.CloseIdleConnections()
	}
	err = rounds(ctx, cfg, targets)
	out := make([]ClosedTarget, len(targets))
	var answers, uncertain int64
	for i, t := range targets {
		answers += t.total
		if t.Name != TargetClient { // client-service's failed calls are in its own counter
			uncertain += t.others
		}
		if len(t.Slices) > 0 {
			t.PerSecond = float64(t.Backend) / (time.Duration(len(t.Slices)) * cfg.Slice).Seconds()
		}
		out[i] = t.ClosedTarget
	}
	if err != nil {
		return out, nil, err
	}
	check, err := sv.settle(ctx, "closed loop, every target", base, answers, uncertain)
	return out, &check, err
}

// rounds warms each target up, then takes cfg.Rounds rounds of one slice per target.
func rounds(ctx context.Context, cfg ServiceConfig, targets []*closedTarget) error {
	for _, t := range targets {
		c, err := closedSlice(ctx, t.client, t.url, cfg.Workers, cfg.Warmup)
		t.total += c.backend + c.late
		t.others += c.fallback + c.errors + c.lateOther
		if err != nil {
			return fmt.Errorf("%s, warm-up: %w", t.Name, err)
		}
	}
	for r := range cfg.Rounds {
		for _, t := range targets {
			c, err := closedSlice(ctx, t.client, t.url, cfg.Workers, cfg.Slice)
			t.total += c.backend + c.late
			t.others += c.fallback + c.errors + c.lateOther
			t.Backend += c.backend
			t.Fallback += c.fallback
			t.Errors += c.errors
			t.Slices = append(t.Slices, c.backend)
			if err != nil {
				return fmt.Errorf("%s, round %d: %w", t.Name, r+1, err)
			}
			cfg.say("closed loop round %d/%d: %s %.0f answers/s", r+1, cfg.Rounds, t.Name, float64(c.backend)/cfg.Slice.Seconds())
		}
	}
	return nil
}
