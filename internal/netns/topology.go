package netns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// netnsDir is where `ip netns` keeps its named namespaces.
const netnsDir = "/var/run/netns"

// closeTimeout bounds Close and the cleanup of a failed Create, whatever the caller's context.
const closeTimeout = 30 * time.Second

// Topology is one client namespace and one backend namespace joined by a veth pair, with a second
// veth pair from the root namespace to the client namespace. Make it with Create and always Close
// it. Its methods are safe for concurrent use; the exported fields must not be changed.
type Topology struct {
	ID        string // the id every name below ends in
	ClientNS  string // "chaoslab-client-<id>"
	BackendNS string // "chaoslab-backend-<id>"

	ClientAddr  string // the client's address on the client<->backend veth (198.18.x.y)
	BackendAddr string // the backend's address on the client<->backend veth: the one to partition

	HostAddr       string // the root-namespace end of the root<->client veth
	ClientHostAddr string // the client-namespace end of the root<->client veth: load and probes go here

	ClientVeth     string // clb-<id>-c, in ClientNS, carries ClientAddr
	BackendVeth    string // clb-<id>-b, in BackendNS, carries BackendAddr
	HostVeth       string // clb-<id>-h, in the root namespace, carries HostAddr
	ClientHostVeth string // clb-<id>-r, in ClientNS, carries ClientHostAddr
	PrefixLen      int    // prefix length of every address above (30)

	sys sys

	mu   sync.Mutex
	lock *ownerLock // held from Create to Close; nil once released
}

// Create builds the topology with the given id (see NewID): both namespaces with lo up, both veth
// pairs addressed and up. Addresses come from a /29 of 198.18.0.0/15 that no other topology and
// no root-namespace address or route uses. On any error it removes what it made. The logger may be
// nil.
func Create(ctx context.Context, id string, logger *slog.Logger) (*Topology, error) {
	return create(ctx, id, newSys(logger))
}

func create(ctx context.Context, id string, s sys) (*Topology, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	lock, err := acquireLock(id)
	if err != nil {
		return nil, err
	}
	t := newTopology(id, s)
	t.lock = lock
	if err := t.build(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("netns: create topology %s: %w", id, err), t.Close(ctx))
	}
	t.sys.logger.Info("network namespaces created", "id", id, "client_ns", t.ClientNS, "backend_ns", t.BackendNS,
		"client_addr", t.ClientAddr, "backend_addr", t.BackendAddr, "client_host_addr", t.ClientHostAddr)
	return t, nil
}

func newTopology(id string, s sys) *Topology {
	return &Topology{
		ID: id, ClientNS: clientNSName(id), BackendNS: backendNSName(id),
		ClientVeth: clientVeth(id), BackendVeth: backendVeth(id),
		HostVeth: hostVeth(id), ClientHostVeth: clientHostVeth(id),
		PrefixLen: prefixLen,
		sys:       s.with("id", id),
	}
}

func (s sys) with(args ...any) sys { s.logger = s.logger.With(args...); return s }

// build makes the namespaces and links; it assumes it holds the id's lock.
func (t *Topology) build(ctx context.Context) error {
	ours, err := t.sys.ownedBy(ctx, t.ID)
	if err != nil {
		return err
	}
	if len(ours) > 0 {
		return fmt.Errorf("%v already exist: run CleanupLeftovers first", ours)
	}
	used, err := t.sys.usedPrefixes(ctx)
	if err != nil {
		return err
	}
	plan, err := allocate(t.ID, used)
	if err != nil {
		return err
	}
	t.ClientAddr, t.BackendAddr = plan.client.String(), plan.backend.String()
	t.HostAddr, t.ClientHostAddr = plan.host.String(), plan.clientHost.String()
	cidr := func(a string) string { return a + "/" + strconv.Itoa(prefixLen) }
	c, b := t.ClientNS, t.BackendNS
	steps := [][]string{
		{"netns", "add", c},
		{"netns", "add", b},
		{"-n", c, "link", "set", "lo", "up"},
		{"-n", b, "link", "set", "lo", "up"},
		// client <-> backend, made directly in the namespaces: nothing of it ever sits in the root ns
		{"link", "add", t.ClientVeth, "netns", c, "type", "veth", "peer", "name", t.BackendVeth, "netns", b},
		{"-n", c, "addr", "add", cidr(t.ClientAddr), "dev", t.ClientVeth},
		{"-n", b, "addr", "add", cidr(t.BackendAddr), "dev", t.BackendVeth},
		{"-n", c, "link", "set", t.ClientVeth, "up"},
		{"-n", b, "link", "set", t.BackendVeth, "up"},
		// root <-> client
		{"link", "add", t.HostVeth, "type", "veth", "peer", "name", t.ClientHostVeth, "netns", c},
		{"addr", "add", cidr(t.HostAddr), "dev", t.HostVeth},
		{"-n", c, "addr", "add", cidr(t.ClientHostAddr), "dev", t.ClientHostVeth},
		{"link", "set", t.HostVeth, "up"},
		{"-n", c, "link", "set", t.ClientHostVeth, "up"},
	}
	for _, args := range steps {
		if _, err := t.sys.ip(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// Command returns `ip netns exec <ns> name args...` as a command bound to ctx. ip execs the program
// in place, so the returned Cmd's process is the program itself: signalling or killing it reaches
// the service, not a wrapper. ns is normally t.ClientNS or t.BackendNS.
func (t *Topology) Command(ctx context.Context, ns string, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// Close heals the partition, stops any process still running in the namespaces (SIGKILL: stop
// services gracefully before), deletes the namespaces and veths, and verifies that nothing named
// after this id remains in `ip netns list` or in the root namespace's links. It works with an
// already-cancelled ctx (its own work is bounded by 30s) and is safe to call more than once.
func (t *Topology) Close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	healErr := t.Heal(ctx)
	removed, err := t.sys.teardown(ctx, func(id string) bool { return id == t.ID })
	t.mu.Lock()
	if t.lock != nil {
		t.lock.release()
		t.lock = nil
	}
	t.mu.Unlock()
	if err == nil && len(removed) > 0 {
		t.sys.logger.Info("network namespaces removed", "removed", removed)
	}
	if err != nil {
		return fmt.Errorf("netns: close topology %s: %w", t.ID, errors.Join(healErr, err))
	}
	// The rule dies with its namespace, so a failed heal of an existing namespace matters only when
	// the namespace could not be removed; by now it is gone.
	if healErr != nil {
		t.sys.logger.Warn("heal before close failed; the namespace is gone anyway", "err", healErr)
	}
	return nil
}

// nsExists reports whether a named namespace exists.
func nsExists(name string) bool {
	_, err := os.Stat(filepath.Join(netnsDir, name))
	return err == nil
}
