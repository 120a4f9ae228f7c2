package fault

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// ProxyName is the name of the Toxiproxy proxy that sits between the client and the backend.
const ProxyName = "backend"

// ProxyConfig configures the embedded Toxiproxy.
type ProxyConfig struct {
	APIAddr  string       // where the REST API listens, e.g. 127.0.0.1:8474 (port 0 picks one)
	Listen   string       // where proxy "backend" listens, e.g. 127.0.0.1:0
	Upstream string       // the backend's host:port
	OnChange func(Change) // called on every fault on/off transition; may be nil
}

// Proxy is a running embedded Toxiproxy server with the proxy "backend". Its REST API is
// Toxiproxy's own, so any Toxiproxy client (and the Chaos Toolkit's http provider) works with it.
type Proxy struct {
	api   *toxiproxy.ApiServer
	proxy *toxiproxy.Proxy
	srv   *http.Server
	ln    net.Listener
	done  chan error
}

// StartProxy starts the API and the proxy. It returns once both accept connections.
func StartProxy(cfg ProxyConfig) (*Proxy, error) {
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	p := &Proxy{api: api, done: make(chan error, 1)}
	p.proxy = toxiproxy.NewProxy(api, ProxyName, cfg.Listen, cfg.Upstream)
	if err := api.Collection.Add(p.proxy, true); err != nil {
		return nil, fmt.Errorf("start proxy %q on %s: %w", ProxyName, cfg.Listen, err)
	}
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		p.proxy.Stop()
		return nil, fmt.Errorf("Toxiproxy API on %s: %w (is another Toxiproxy or `chaoslab up` running? choose another address)", cfg.APIAddr, err)
	}
	p.ln = ln
	p.srv = &http.Server{
		Handler:           watch(api.Routes(), p.Active, cfg.OnChange),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	go func() { p.done <- p.srv.Serve(ln) }()
	return p, nil
}

// APIURL is the base URL of the Toxiproxy REST API.
func (p *Proxy) APIURL() string { return "http://" + p.ln.Addr().String() }

// ListenAddr is the address of proxy "backend": point the client's BACKEND_URL at it.
func (p *Proxy) ListenAddr() string { return p.proxy.Listen }

// Active says whether a fault is in effect and which.
func (p *Proxy) Active() (bool, string) {
	var names []string
	for _, t := range p.proxy.Toxics.GetToxicArray() {
		if w, ok := t.(*toxics.ToxicWrapper); ok {
			names = append(names, fmt.Sprintf("%s (%s, %s)", w.Name, w.Type, w.Stream))
		}
	}
	if !p.enabled() {
		names = append(names, "proxy disabled")
	}
	return len(names) > 0, joinNames(names)
}

func (p *Proxy) enabled() bool {
	p.proxy.Lock()
	defer p.proxy.Unlock()
	return p.proxy.Enabled
}

// Reset removes every toxic and enables the proxy again: no fault remains.
func (p *Proxy) Reset(ctx context.Context) error {
	p.proxy.Toxics.ResetToxics(ctx)
	if !p.enabled() {
		if err := p.proxy.Start(); err != nil && !errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
			return fmt.Errorf("re-enable proxy %q: %w", ProxyName, err)
		}
	}
	return nil
}

// Close removes every fault, stops the API and the proxy, and closes their connections.
func (p *Proxy) Close(ctx context.Context) error {
	err := p.Reset(ctx)
	if serr := p.srv.Shutdown(ctx); serr != nil {
		p.srv.Close()
	}
	p.proxy.Stop()
	return err
}
