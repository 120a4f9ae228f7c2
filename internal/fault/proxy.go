package fault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// ProxyName is the name of the Toxiproxy proxy that sits between the client and the backend.
const ProxyName = "backend"

// flappingToxic prefixes the toxics a flapping partition makes on the local stack; the flapping
// schedule reports them itself (with its cycle), so Proxy.Injected leaves them out.
const flappingToxic = "chaoslab-flapping-"

// ProxyConfig configures the embedded Toxiproxy.
type ProxyConfig struct {
	Listen   string // where proxy "backend" listens, e.g. 127.0.0.1:0
	Upstream string // the backend's host:port (or the L7 injector's, which forwards to the backend)
}

// Proxy is the embedded Toxiproxy with the proxy "backend" and, in a call graph of tiers, one
// more proxy per hop (AddProxy). Its REST API (Handler) is Toxiproxy's own, so any Toxiproxy
// client (and the Chaos Toolkit's http provider) works with it. It is safe for concurrent use.
type Proxy struct {
	api   *toxiproxy.ApiServer
	proxy *toxiproxy.Proxy // "backend": the flapping partition's, and the one every catalogue experiment names

	mu   sync.Mutex
	hops []*toxiproxy.Proxy // the proxies AddProxy added, in order
}

// StartProxy starts proxy "backend". It returns once the proxy accepts connections.
func StartProxy(cfg ProxyConfig) (*Proxy, error) {
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := &Proxy{api: api}
	p.proxy = toxiproxy.NewProxy(api, ProxyName, cfg.Listen, cfg.Upstream)
	if err := api.Collection.Add(p.proxy, true); err != nil {
		return nil, fmt.Errorf("start proxy %q on %s: %w", ProxyName, cfg.Listen, err)
	}
	return p, nil
}

// AddProxy adds the proxy name on listen, forwarding to upstream, to the same Toxiproxy: a
// tier's hop in a call graph (proxy "mid" in front of tier mid), which Toxiproxy's API then
// addresses by its name (/proxies/mid/toxics). It returns the address the proxy listens on.
func (p *Proxy) AddProxy(name, listen, upstream string) (string, error) {
	hop := toxiproxy.NewProxy(p.api, name, listen, upstream)
	if err := p.api.Collection.Add(hop, true); err != nil {
		return "", fmt.Errorf("start proxy %q on %s: %w", name, listen, err)
	}
	p.mu.Lock()
	p.hops = append(p.hops, hop)
	p.mu.Unlock()
	return hop.Listen, nil
}

// all returns every proxy: "backend" first, then the hops.
func (p *Proxy) all() []*toxiproxy.Proxy {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*toxiproxy.Proxy{p.proxy}, p.hops...)
}

// Handler is Toxiproxy's REST API.
func (p *Proxy) Handler() http.Handler { return p.api.Routes() }

// ListenAddr is the address of proxy "backend": point the client's BACKEND_URL at it.
func (p *Proxy) ListenAddr() string { return p.proxy.Listen }

// Injected lists the toxics in effect (and the proxies disabled), each with its kind and
// parameters; those of a hop's proxy name it ("proxy mid: ...").
func (p *Proxy) Injected() []Injected {
	var in []Injected
	for _, px := range p.all() {
		prefix := ""
		if px != p.proxy {
			prefix = "proxy " + px.Name + ": "
		}
		for _, t := range px.Toxics.GetToxicArray() {
			if w, ok := t.(*toxics.ToxicWrapper); ok && !strings.HasPrefix(w.Name, flappingToxic) {
				i := describeToxic(w)
				i.Detail, i.Target = prefix+i.Detail, px.Name
				in = append(in, i)
			}
		}
		if !enabled(px) {
			in = append(in, Injected{Kind: KindRefuse, Detail: prefix + "proxy disabled: connections refused", Target: px.Name})
		}
	}
	return in
}

// describeToxic names a toxic's kind and parameters.
func describeToxic(w *toxics.ToxicWrapper) Injected {
	where := fmt.Sprintf("%s (toxic %s", w.Stream, w.Name)
	if w.Toxicity < 1 {
		where += fmt.Sprintf(", toxicity %g", w.Toxicity)
	}
	where += ")"
	switch t := w.Toxic.(type) {
	case *toxics.TimeoutToxic:
		if t.Timeout == 0 {
			return Injected{Kind: KindPartition, Detail: "blackhole, " + where}
		}
		return Injected{Kind: KindTimeout, Detail: fmt.Sprintf("data stops, connection closed after %d ms, %s", t.Timeout, where)}
	case *toxics.LatencyToxic:
		return Injected{Kind: KindLatency, Detail: fmt.Sprintf("latency %d ms ± %d ms, %s", t.Latency, t.Jitter, where)}
	case *toxics.BandwidthToxic:
		return Injected{Kind: KindBandwidth, Detail: fmt.Sprintf("bandwidth %d KB/s, %s", t.Rate, where)}
	case *toxics.ResetToxic:
		return Injected{Kind: KindReset, Detail: fmt.Sprintf("connections reset by peer after %d ms, %s", t.Timeout, where)}
	}
	return Injected{Kind: KindToxic, Detail: w.Type + ", " + where}
}

func enabled(px *toxiproxy.Proxy) bool {
	px.Lock()
	defer px.Unlock()
	return px.Enabled
}

// Partition blackholes both streams of proxy "backend" (the flapping partition on the local
// stack).
func (p *Proxy) Partition(ctx context.Context) error { return hopPartition{p.proxy}.Partition(ctx) }

// Heal removes the flapping partition's toxics; it is idempotent.
func (p *Proxy) Heal(ctx context.Context) error { return hopPartition{p.proxy}.Heal(ctx) }

// Hop returns the flapping partition of the proxy name ("backend" or a hop AddProxy added).
func (p *Proxy) Hop(name string) (Partitioner, bool) {
	for _, px := range p.all() {
		if px.Name == name {
			return hopPartition{px}, true
		}
	}
	return nil, false
}

// hopPartition is the flapping partition of one proxy: a blackhole on both of its streams, made
// by toxics the schedule reports itself (flappingToxic).
type hopPartition struct{ px *toxiproxy.Proxy }

func (h hopPartition) Partition(context.Context) error {
	for _, s := range []string{"downstream", "upstream"} {
		body := fmt.Sprintf(`{"name":%q,"type":"timeout","stream":%q,"toxicity":1,"attributes":{"timeout":0}}`, flappingToxic+s, s)
		if _, err := h.px.Toxics.AddToxicJson(strings.NewReader(body)); err != nil && !errors.Is(err, toxiproxy.ErrToxicAlreadyExists) {
			return fmt.Errorf("partition proxy %s: %w", h.px.Name, err)
		}
	}
	return nil
}

func (h hopPartition) Heal(ctx context.Context) error {
	for _, s := range []string{"downstream", "upstream"} {
		if err := h.px.Toxics.RemoveToxic(ctx, flappingToxic+s); err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
			return fmt.Errorf("heal proxy %s: %w", h.px.Name, err)
		}
	}
	return nil
}

// Reset removes every toxic and enables every proxy again: no fault remains.
func (p *Proxy) Reset(ctx context.Context) error {
	var errs []error
	for _, px := range p.all() {
		px.Toxics.ResetToxics(ctx)
		if !enabled(px) {
			if err := px.Start(); err != nil && !errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
				errs = append(errs, fmt.Errorf("re-enable proxy %q: %w", px.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Close removes every fault and stops the proxies, closing their connections.
func (p *Proxy) Close(ctx context.Context) error {
	err := p.Reset(ctx)
	for _, px := range p.all() {
		px.Stop()
	}
	return err
}
