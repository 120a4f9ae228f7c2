package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Proxy is a proxy the closed loop measures beside client-service, in front of the same backend.
type Proxy struct {
	URL   string // its base URL on loopback
	close func() error
}

// Close stops the proxy.
func (p *Proxy) Close() error { return p.close() }

// StartReverseProxy serves a bare httputil.ReverseProxy to upstream (host:port) on a free
// loopback port, in this process, with as many kept-alive upstream connections as workers.
func StartReverseProxy(upstream string, workers int) (*Proxy, error) {
	target, err := url.Parse("http://" + upstream)
	if err != nil {
		return nil, fmt.Errorf("reverse proxy to %q: %w", upstream, err)
	}
	tr := &http.Transport{Proxy: nil, MaxIdleConns: workers, MaxIdleConnsPerHost: workers, IdleConnTimeout: time.Minute}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) }, Transport: tr}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("reverse proxy: listen on loopback: %w", err)
	}
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	stop := func() error {
		err := srv.Close()
		tr.CloseIdleConnections()
		return err
	}
	return &Proxy{URL: "http://" + ln.Addr().String(), close: stop}, nil
}

// HAProxyConfig is the minimal configuration the bench gives HAProxy: HTTP mode, keep-alive on
// both sides, no health checks (they would add backend requests the count checks do not
// expect), no logs; it listens on the socket it inherits as file descriptor 3.
func HAProxyConfig(upstream string) string {
	return fmt.Sprintf(`global
    maxconn 4096

defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend bench
    bind fd@3
    default_backend backend

backend backend
    server backend %s
`, upstream)
}

// StartHAProxy runs the haproxy binary at path in front of upstream, with HAProxyConfig written
// to dir/haproxy.cfg and its output to dir/haproxy.log, on a loopback socket the bench opens
// and hands over (so there is no window in which another process could take the port). It
// returns once HAProxy has answered one request, or with an error saying why it did not.
func StartHAProxy(ctx context.Context, path, upstream, dir string) (*Proxy, error) {
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(HAProxyConfig(upstream)), 0o644); err != nil {
		return nil, fmt.Errorf("haproxy: write its configuration: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("haproxy: listen on loopback: %w", err)
	}
	f, err := ln.(*net.TCPListener).File()
	addr := ln.Addr().String()
	ln.Close()
	if err != nil {
		return nil, fmt.Errorf("haproxy: hand over the socket: %w", err)
	}
	logFile, err := os.Create(filepath.Join(dir, "haproxy.log"))
	if err != nil {
		return nil, fmt.Errorf("haproxy: create its log: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(path, "-f", cfgPath, "-db")
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	err = cmd.Start()
	f.Close() // haproxy has its own copy now; ours would keep accepting connections it never serves
	if err != nil {
		return nil, fmt.Errorf("haproxy: start %s: %w", path, err)
	}
	exited := make(chan struct{}) // closed once it has exited
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := func() error {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		return nil
	}
	p := &Proxy{URL: "http://" + addr, close: stop}
	if err := waitAnswer(ctx, p.URL+"/healthz", exited); err != nil {
		stop()
		if waitErr != nil {
			err = fmt.Errorf("%w (%v)", err, waitErr)
		}
		b, _ := os.ReadFile(logFile.Name())
		return nil, fmt.Errorf("haproxy (%s): %w; its output: %s", cfgPath, err, bytes.TrimSpace(b))
	}
	return p, nil
}

// waitAnswer waits until url answers 200, for at most 10 s, or until exited says the process is
// gone.
func waitAnswer(ctx context.Context, url string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		_, _, err := do(ctx, http.MethodGet, url, "", http.StatusOK)
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return errors.New("it exited before it answered")
		case <-ctx.Done():
			return fmt.Errorf("no answer within 10 s: %w", err)
		case <-tick.C:
		}
	}
}
