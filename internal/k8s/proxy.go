package k8s

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// Proxy serves a Service of the cluster on a loopback address, through the API server's service
// proxy (/api/v1/namespaces/NS/services/NAME:PORT/proxy/...): the experiment's http probes and
// the load reach the service at URL as they reach the local stack. Unlike a port-forward, which
// follows one pod, it survives the pod being replaced (pod kill, --compare's rollout), and it
// needs no route into the cluster: only the API server, which every kubectl user reaches.
type Proxy struct {
	URL string
	srv *http.Server
	ln  net.Listener
}

// ServeService starts a Proxy to the Service name's port in the cluster's namespace. before, if
// not nil, is told of every request before it is sent on.
func (c *Cluster) ServeService(name, port string, logger *slog.Logger, before func(*http.Request)) (*Proxy, error) {
	transport, err := rest.TransportFor(c.Rest)
	if err != nil {
		return nil, fmt.Errorf("a transport to the API server: %w", err)
	}
	base, err := url.Parse(strings.TrimSuffix(c.Rest.Host, "/"))
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("API server address %q: %v", c.Rest.Host, err)
	}
	prefix := strings.TrimSuffix(base.Path, "/") + "/api/v1/namespaces/" + c.Namespace + "/services/" + name + ":" + port + "/proxy"
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			if before != nil {
				before(r.In)
			}
			r.Out.URL.Scheme, r.Out.URL.Host = base.Scheme, base.Host
			r.Out.URL.Path = prefix + r.In.URL.Path
			r.Out.URL.RawPath = ""
			r.Out.Host = base.Host
		},
		Transport: transport,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if logger != nil && !errors.Is(err, context.Canceled) {
				logger.Warn("service proxy", "service", name, "path", r.URL.Path, "error", err)
			}
			http.Error(w, "chaoslab: the API server's proxy to "+name+" failed: "+err.Error(), http.StatusBadGateway)
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for the %s proxy: %w", name, err)
	}
	p := &Proxy{URL: "http://" + ln.Addr().String(), ln: ln,
		srv: &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second}}
	go p.srv.Serve(ln)
	return p, nil
}

// Close stops the proxy.
func (p *Proxy) Close() error { return p.srv.Close() }
