package netns

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"chaoslab/internal/testutil"
)

func TestPartitionAndHeal(t *testing.T) {
	requireNetns(t)
	ctx := t.Context()
	topo := newTestTopology(t)
	backend := topo.BackendAddrPort(backendPort)
	startServer(t, topo, topo.BackendNS, backend)

	if err := topo.DialFromClient(ctx, backend, 5*time.Second); err != nil {
		t.Fatalf("before the partition, the client namespace cannot reach the backend: %v", err)
	}
	conn, err := topo.DialClient(ctx, backend)
	if err != nil {
		t.Fatalf("DialClient: %v", err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	if err := roundTrip(conn, br, time.Now().Add(5*time.Second)); err != nil {
		t.Fatalf("request over the established connection, before the partition: %v", err)
	}
	assertPartitioned(t, topo, false)

	if err := topo.Partition(ctx, backendPort); err != nil {
		t.Fatalf("Partition: %v", err)
	}
	assertPartitioned(t, topo, true)
	err = topo.DialFromClient(ctx, backend, 500*time.Millisecond)
	if err == nil || !isDropped(err) {
		t.Fatalf("fresh connect during the partition: got %v, want a timeout", err)
	}
	err = roundTrip(conn, br, time.Now().Add(time.Second))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("request over the established connection during the partition: got %v, want a read timeout", err)
	}
	if err := topo.Partition(ctx, backendPort); err != nil {
		t.Fatalf("second Partition: %v", err)
	}
	if n := countDropRules(t, topo); n != 1 {
		t.Errorf("after partitioning twice, %d DROP rules in %s, want 1", n, topo.ClientNS)
	}

	if err := topo.Heal(ctx); err != nil {
		t.Fatalf("Heal: %v", err)
	}
	assertPartitioned(t, topo, false)
	if err := topo.DialFromClient(ctx, backend, 5*time.Second); err != nil {
		t.Fatalf("after Heal, the client namespace cannot reach the backend: %v", err)
	}
	if err := topo.Heal(ctx); err != nil {
		t.Fatalf("Heal when not partitioned: %v", err)
	}
}

// The load runs in the root namespace and reaches the client service at ClientHostAddr.
func TestRootNamespaceReachesClient(t *testing.T) {
	requireNetns(t)
	topo := newTestTopology(t)
	addr := net.JoinHostPort(topo.ClientHostAddr, "8080")
	startServer(t, topo, topo.ClientNS, addr)

	client := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET from the root namespace: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET from the root namespace: status %d", resp.StatusCode)
	}
	// The backend namespace is reachable only through the client.
	err = topo.DialFromClient(t.Context(), net.JoinHostPort(topo.ClientHostAddr, "8080"), 5*time.Second)
	if err != nil {
		t.Fatalf("client namespace to its own root-facing address: %v", err)
	}
}

func TestPartitionNotEffective(t *testing.T) {
	requireNetns(t)
	for _, tc := range []struct {
		name      string
		listening bool // a server in the backend: connect succeeds; none: connect refused
	}{
		{"connect succeeds", true},
		{"connect refused", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topo := newTestTopology(t)
			if tc.listening {
				startServer(t, topo, topo.BackendNS, topo.BackendAddrPort(backendPort))
			}
			// An ACCEPT ahead of our appended DROP: the rule goes in but does nothing.
			out, err := exec.Command("ip", "netns", "exec", topo.ClientNS,
				"iptables", "-w", "-I", "OUTPUT", "1", "-d", topo.BackendAddr, "-j", "ACCEPT").CombinedOutput()
			if err != nil {
				t.Fatalf("insert ACCEPT rule: %v: %s", err, out)
			}
			err = topo.Partition(t.Context(), backendPort)
			if !errors.Is(err, ErrPartitionNotEffective) {
				t.Fatalf("Partition: got %v, want ErrPartitionNotEffective", err)
			}
			if !strings.Contains(err.Error(), "did not take effect") {
				t.Errorf("Partition error %q does not say the partition did not take effect", err)
			}
			assertPartitioned(t, topo, false)
		})
	}
}

func TestTwoTopologiesCoexist(t *testing.T) {
	requireNetns(t)
	a, b := newTestTopology(t), newTestTopology(t)
	pa := netip.PrefixFrom(netip.MustParseAddr(a.ClientAddr), 29).Masked()
	pb := netip.PrefixFrom(netip.MustParseAddr(b.ClientAddr), 29).Masked()
	if pa.Overlaps(pb) {
		t.Fatalf("address blocks overlap: %v and %v", pa, pb)
	}
	startServer(t, a, a.BackendNS, a.BackendAddrPort(backendPort))
	startServer(t, b, b.BackendNS, b.BackendAddrPort(backendPort))
	if err := a.Partition(t.Context(), backendPort); err != nil {
		t.Fatalf("Partition a: %v", err)
	}
	if err := b.DialFromClient(t.Context(), b.BackendAddrPort(backendPort), 5*time.Second); err != nil {
		t.Fatalf("partitioning a cut b off too: %v", err)
	}
}

func TestCloseWithCancelledContextTwice(t *testing.T) {
	requireNetns(t)
	topo, err := Create(t.Context(), NewID(), testLogger(t))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { _ = topo.Close(context.Background()) })
	srv := startServer(t, topo, topo.BackendNS, topo.BackendAddrPort(backendPort))
	if err := topo.Partition(t.Context(), backendPort); err != nil {
		t.Fatalf("Partition: %v", err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	// The server is still running in the backend namespace: Close must stop it, or the namespace
	// would outlive its name.
	if err := topo.Close(cancelled); err != nil {
		t.Fatalf("Close with a cancelled context: %v", err)
	}
	assertGone(t, topo.ID)
	if err := topo.Close(cancelled); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := topo.Heal(t.Context()); err != nil {
		t.Fatalf("Heal after Close: %v", err)
	}
	if _, err := topo.Partitioned(t.Context()); err == nil {
		t.Fatal("Partitioned after Close: no error")
	}
	if err := srv.Wait(); err == nil {
		t.Fatal("server left in the namespace exited cleanly; want it killed by Close")
	}
}

func TestCreateFailureRemovesWhatItMade(t *testing.T) {
	requireNetns(t)
	for _, tc := range []struct {
		name   string
		failOn func(id string, args []string) bool
	}{
		{"second namespace", func(id string, args []string) bool {
			return slices.Equal(args, []string{"netns", "add", backendNSName(id)})
		}},
		{"client-backend veth address", func(id string, args []string) bool {
			return slices.Contains(args, "addr") && slices.Contains(args, backendVeth(id))
		}},
		{"root veth address", func(id string, args []string) bool {
			return slices.Contains(args, "addr") && slices.Contains(args, hostVeth(id))
		}},
		{"last step", func(id string, args []string) bool {
			return slices.Contains(args, "set") && slices.Contains(args, clientHostVeth(id))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := NewID()
			s := newSys(testLogger(t))
			failed := false
			s.run = func(ctx context.Context, name string, args ...string) ([]byte, error) {
				if !failed && name == "ip" && tc.failOn(id, args) {
					failed = true
					return nil, errors.New("injected failure")
				}
				return execRun(ctx, name, args...)
			}
			topo, err := create(t.Context(), id, s)
			if err == nil {
				_ = topo.Close(context.Background())
				t.Fatal("create succeeded despite the injected failure")
			}
			if !failed || !strings.Contains(err.Error(), "injected failure") {
				t.Fatalf("create: %v; want the injected failure", err)
			}
			assertGone(t, id)
		})
	}
}

func TestCleanupLeftoversAfterKill(t *testing.T) {
	requireNetns(t)
	ctx := t.Context()
	live := newTestTopology(t) // another run, still alive: must survive the cleanup
	id := NewID()
	t.Cleanup(func() { // if the test fails half-way, leave nothing behind
		_, _ = newSys(nil).teardown(context.Background(), func(other string) bool { return other == id })
	})

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	child := exec.Command(exe, "-test.run=^$")
	child.Env = append(os.Environ(), envKilledRun+"="+id)
	child.Stderr = t.Output()
	// The orphaned server inherits the child's stderr; without a bound, Wait would wait for it.
	child.WaitDelay = time.Second
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	line := waitLine(t, stdout, "ready", 60*time.Second)
	serverPID, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "ready")))
	if err != nil {
		t.Fatalf("child said %q", line)
	}
	if n := countDropRules(t, &Topology{ClientNS: clientNSName(id)}); n != 1 {
		t.Fatalf("the killed run is not mid-partition: %d DROP rules", n)
	}

	// CleanupLeftovers is machine-wide: another `go test` of this package running at the same time
	// would remove our leftovers in its own run of this test (and we theirs). Take turns from the
	// kill to the last check.
	holdMachineLock(t, "/run/chaoslab/killed-run-test.lock")
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	if !nsExists(clientNSName(id)) {
		t.Fatal("no leftovers after kill -9: nothing to test")
	}

	removed, err := CleanupLeftovers(ctx, testLogger(t))
	if err != nil {
		t.Fatalf("CleanupLeftovers: %v", err)
	}
	for _, want := range []string{clientNSName(id), backendNSName(id), hostVeth(id)} {
		if !slices.Contains(removed, want) {
			t.Errorf("CleanupLeftovers removed %v; %s missing", removed, want)
		}
	}
	for _, name := range removed {
		if strings.Contains(name, live.ID) {
			t.Errorf("CleanupLeftovers removed %s of a live topology", name)
		}
	}
	assertGone(t, id)
	testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("orphaned server (pid %d) to be killed", serverPID), func() bool {
		return !processRunning(serverPID)
	})
	if err := live.DialFromClient(ctx, live.BackendAddrPort(backendPort), time.Second); err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("the live topology was damaged by the cleanup: %v", err)
	}
}

func TestPreflightPassesHere(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: not root; TestPreflightMessages covers the failures")
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("skipping: iptables not installed (apt-get install -y iptables)")
	}
	if err := Preflight(t.Context()); err != nil {
		t.Fatalf("Preflight as root with ip and iptables: %v", err)
	}
}

// roundTrip sends one GET /healthz on conn and reads the answer, both before deadline.
func roundTrip(conn net.Conn, br *bufio.Reader, deadline time.Time) error {
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: backend\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func assertPartitioned(t *testing.T, topo *Topology, want bool) {
	t.Helper()
	got, err := topo.Partitioned(t.Context())
	if err != nil {
		t.Fatalf("Partitioned: %v", err)
	}
	if got != want {
		t.Fatalf("Partitioned = %v, want %v", got, want)
	}
}

// countDropRules counts, with iptables itself, the DROP rules in the client namespace's OUTPUT.
func countDropRules(t *testing.T, topo *Topology) int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", topo.ClientNS, "iptables", "-w", "-S", "OUTPUT").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables -S: %v: %s", err, out)
	}
	return strings.Count(string(out), "-j DROP")
}

// processRunning reports whether pid exists and is not a zombie.
func processRunning(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// holdMachineLock takes an flock on path, shared by every test process on this machine, waiting
// for it up to a deadline, and holds it until the test ends.
func holdMachineLock(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() }) // closing drops the lock
	testutil.WaitFor(t, 2*time.Minute, "the machine-wide lock "+path, func() bool {
		return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil
	})
}
