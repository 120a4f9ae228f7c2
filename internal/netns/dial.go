package netns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// DialClient opens a TCP connection from inside the client namespace to addr, an "ip:port" (no host
// names: resolving would happen outside the namespace). The connection stays in the client
// namespace for its whole life and may be used from any goroutine.
func (t *Topology) DialClient(ctx context.Context, addr string) (net.Conn, error) {
	return dialIn(ctx, t.ClientNS, addr, 0)
}

// DialBackend opens a TCP connection from inside the backend namespace to addr ("ip:port"). The
// lab uses it to reach the backend from the root namespace (its health probes and snapshots)
// without crossing the partition, which only drops the client's packets.
func (t *Topology) DialBackend(ctx context.Context, addr string) (net.Conn, error) {
	return dialIn(ctx, t.BackendNS, addr, 0)
}

// DialFromClient makes a fresh TCP connection from inside the client namespace to addr ("ip:port"),
// then closes it: nil means the connect succeeded within timeout.
func (t *Topology) DialFromClient(ctx context.Context, addr string, timeout time.Duration) error {
	if timeout <= 0 {
		return fmt.Errorf("netns: dial %s from %s: timeout must be positive", addr, t.ClientNS)
	}
	conn, err := dialIn(ctx, t.ClientNS, addr, timeout)
	if err != nil {
		return err
	}
	return conn.Close()
}

// dialIn dials from inside the named namespace. A socket belongs to the namespace of the thread
// that created it, so the dial runs on a goroutine locked to its own OS thread, which setns(2)
// moves into the namespace and back. If it cannot go back, the goroutine ends still locked and the
// runtime throws that thread away rather than let other goroutines run in the wrong namespace.
func dialIn(ctx context.Context, ns, addr string, timeout time.Duration) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("netns: dial from %s: %q is not an ip:port: %w", ns, addr, err)
	}
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		conn, unlock, err := dialOnThisThread(ctx, ns, ap, timeout)
		if unlock {
			runtime.UnlockOSThread()
		}
		done <- result{conn, err}
	}()
	r := <-done // the dial itself honours ctx
	return r.conn, r.err
}

// dialOnThisThread must run on a locked thread. unlock reports whether the thread is back in its
// original namespace and may be given back to the scheduler.
func dialOnThisThread(ctx context.Context, ns string, ap netip.AddrPort, timeout time.Duration) (_ net.Conn, unlock bool, _ error) {
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, true, fmt.Errorf("netns: open own network namespace: %w", err)
	}
	defer unix.Close(orig)
	target, err := unix.Open(filepath.Join(netnsDir, ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, true, fmt.Errorf("netns: open namespace %s: %w", ns, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		return nil, true, fmt.Errorf("netns: enter namespace %s: %w", ns, err)
	}
	d := net.Dialer{Timeout: timeout}
	conn, dialErr := d.DialContext(ctx, "tcp", ap.String())
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		if conn != nil {
			_ = conn.Close()
		}
		return nil, false, fmt.Errorf("netns: return from namespace %s: %w", ns, err)
	}
	if dialErr != nil {
		return nil, true, fmt.Errorf("netns: dial %s from %s: %w", ap, ns, dialErr)
	}
	return conn, true, nil
}

// ListenBackend opens a TCP listener inside the backend namespace on addr ("ip:port"). The lab
// serves its L7 fault injector there, in front of the backend, so the injector is in the data
// path the partition cuts. The listener stays in the namespace for its whole life.
func (t *Topology) ListenBackend(addr string) (net.Listener, error) {
	type result struct {
		ln  net.Listener
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		var ln net.Listener
		unlock, err := inNamespace(t.BackendNS, func() (err error) {
			ln, err = net.Listen("tcp", addr)
			return err
		})
		if unlock {
			runtime.UnlockOSThread()
		}
		done <- result{ln, err}
	}()
	r := <-done
	if r.err != nil {
		return nil, fmt.Errorf("netns: listen on %s in %s: %w", addr, t.BackendNS, r.err)
	}
	return r.ln, nil
}

// inNamespace runs f on this (locked) thread inside the named namespace, then moves the thread
// back. unlock reports whether the thread is back in its original namespace.
func inNamespace(ns string, f func() error) (unlock bool, _ error) {
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return true, fmt.Errorf("open own network namespace: %w", err)
	}
	defer unix.Close(orig)
	target, err := unix.Open(filepath.Join(netnsDir, ns), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return true, fmt.Errorf("open namespace %s: %w", ns, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		return true, fmt.Errorf("enter namespace %s: %w", ns, err)
	}
	ferr := f()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		return false, fmt.Errorf("return from namespace %s: %w", ns, err)
	}
	return true, ferr
}
