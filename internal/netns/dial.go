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
// moves into the namespace and back (inNamespace).
func dialIn(ctx context.Context, ns, addr string, timeout time.Duration) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("netns: dial from %s: %q is not an ip:port: %w", ns, addr, err)
	}
	var conn net.Conn
	err = onLockedThread(ns, func() (err error) {
		d := net.Dialer{Timeout: timeout}
		conn, err = d.DialContext(ctx, "tcp", ap.String()) // the dial itself honours ctx
		return err
	})
	if err != nil {
		if conn != nil { // dialled, but the thread could not come back
			conn.Close()
		}
		return nil, fmt.Errorf("netns: dial %s from %s: %w", ap, ns, err)
	}
	return conn, nil
}

// ListenBackend opens a TCP listener inside the backend namespace on addr ("ip:port"). The lab
// serves its L7 fault injector there, in front of the backend, so the injector is in the data
// path the partition cuts. The listener stays in the namespace for its whole life.
func (t *Topology) ListenBackend(addr string) (net.Listener, error) {
	var ln net.Listener
	err := onLockedThread(t.BackendNS, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netns: listen on %s in %s: %w", addr, t.BackendNS, err)
	}
	return ln, nil
}

// onLockedThread runs f inside the namespace on a goroutine locked to its own OS thread, and
// waits for it. If the thread cannot go back to its namespace, the goroutine ends still locked
// and the runtime throws that thread away rather than let other goroutines run in the wrong
// namespace.
func onLockedThread(ns string, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		unlock, err := inNamespace(ns, f)
		if unlock {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
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
