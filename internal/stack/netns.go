package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"chaoslab/internal/fault"
	"chaoslab/internal/netns"
	"chaoslab/internal/results"
)

// Ports inside the namespaces (each namespace has its own ports). The client calls the backend
// on netnsBackendPort, where the L7 fault injector listens in the backend's namespace and
// forwards to the backend itself on netnsServicePort.
const (
	netnsBackendPort = 8081
	netnsServicePort = 8082
	netnsClientPort  = 8080
)

// startNetns builds the namespaces, starts each service inside its own, and serves the
// Toxiproxy-shaped partition API backed by iptables. Leftovers of an earlier killed run are
// removed first, and said so.
func (s *Stack) startNetns(ctx context.Context, cfg Config) error {
	logger := cfg.Logger.With("component", "netns")
	removed, err := netns.CleanupLeftovers(ctx, logger)
	if err != nil {
		return fmt.Errorf("remove leftovers of an earlier run: %w", err)
	}
	if len(removed) > 0 {
		cfg.notify(fmt.Sprintf("removed leftovers of an earlier chaoslab run that did not clean up: %v", removed))
	}
	topo, err := netns.Create(ctx, netns.NewID(), logger)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, topo.Close)
	cfg.notify(fmt.Sprintf("network namespaces %s (client %s) and %s (backend %s)", topo.ClientNS, topo.ClientAddr, topo.BackendNS, topo.BackendAddr))

	backendAddr := topo.BackendAddrPort(netnsBackendPort) // the injector, as the client sees the backend
	serviceAddr := topo.BackendAddrPort(netnsServicePort) // the backend itself
	inNS := func(ns string) wrapCommand {
		return func(path string, args []string) (string, []string) {
			return "ip", append([]string{"netns", "exec", ns, path}, args...)
		}
	}
	if _, err := s.startService(ctx, cfg, results.BackendService, inNS(topo.BackendNS), map[string]string{"LISTEN_ADDR": serviceAddr}); err != nil {
		return err
	}
	dialBackend := func(ctx context.Context, _, addr string) (net.Conn, error) { return topo.DialBackend(ctx, addr) }
	if _, err := s.serveInjector(fault.HTTPFaultsConfig{Upstream: serviceAddr, Dial: dialBackend}, func() (net.Listener, error) { return topo.ListenBackend(backendAddr) }); err != nil {
		return err
	}
	env := map[string]string{"LISTEN_ADDR": "0.0.0.0:" + strconv.Itoa(netnsClientPort), "BACKEND_URL": "http://" + backendAddr}
	for k, v := range cfg.ClientEnv {
		env[k] = v
	}
	if _, err := s.startService(ctx, cfg, results.ClientService, inNS(topo.ClientNS), env); err != nil {
		return err
	}
	fwd, err := startForwarder(func(ctx context.Context) (net.Conn, error) { return topo.DialBackend(ctx, serviceAddr) })
	if err != nil {
		return err
	}
	s.closers = append(s.closers, fwd.close)
	tcp := fault.NewPartitionAPI(fault.PartitionAPIConfig{Partitioner: partitioner{topo}, Listen: backendAddr, Upstream: serviceAddr})
	if err := s.startFaultAPI(cfg, tcp, "http://"+fwd.addr()); err != nil {
		return err
	}
	s.ClientURL = "http://" + net.JoinHostPort(topo.ClientHostAddr, strconv.Itoa(netnsClientPort))
	s.BackendURL = "http://" + fwd.addr()
	s.faultAPI.SetClients(s.ClientURL)
	return s.waitReady(ctx, cfg.StartupWait)
}

// partitioner makes the partition with iptables in the client's namespace.
type partitioner struct{ t *netns.Topology }

func (p partitioner) Partition(ctx context.Context) error {
	return p.t.Partition(ctx, netnsBackendPort)
}
func (p partitioner) Heal(ctx context.Context) error { return p.t.Heal(ctx) }

// forwarder relays TCP connections from a loopback port in the root namespace into the
// backend's namespace, so the lab's probes and snapshots reach the backend itself without
// crossing the partition.
type forwarder struct {
	ln     net.Listener
	dial   func(context.Context) (net.Conn, error)
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

func startForwarder(dial func(context.Context) (net.Conn, error)) (*forwarder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("forwarder to the backend namespace: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &forwarder{ln: ln, dial: dial, ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.accept()
	return f, nil
}

func (f *forwarder) addr() string { return f.ln.Addr().String() }

func (f *forwarder) accept() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Add(1)
		go f.relay(c)
	}
}

func (f *forwarder) track(cs ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ctx.Err() != nil {
		return false
	}
	for _, c := range cs {
		f.conns[c] = struct{}{}
	}
	return true
}

func (f *forwarder) relay(c net.Conn) {
	defer f.wg.Done()
	defer c.Close()
	ctx, cancel := context.WithTimeout(f.ctx, 5*time.Second)
	up, err := f.dial(ctx)
	cancel()
	if err != nil {
		return
	}
	defer up.Close()
	if !f.track(c, up) {
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
	f.mu.Lock()
	delete(f.conns, c)
	delete(f.conns, up)
	f.mu.Unlock()
}

func (f *forwarder) close(context.Context) error {
	f.cancel()
	err := f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
