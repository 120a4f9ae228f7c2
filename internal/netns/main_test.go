package netns

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// The test binary doubles as the helper processes the integration tests need; these variables
// tell TestMain which one to be.
const (
	// envServe: serve HTTP on this ip:port (inside whatever namespace we were started in), print
	// "serving" once listening, run until killed.
	envServe = "CHAOSLAB_NETNS_TEST_SERVE"
	// envKilledRun: play a chaoslab run that gets killed: create the topology with this id, start
	// a server in its backend namespace, partition, print "ready <server pid>", block until killed.
	envKilledRun = "CHAOSLAB_NETNS_TEST_KILLED_RUN"
)

const backendPort = 8081

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(envServe) != "":
		os.Exit(serveHelper(os.Getenv(envServe)))
	case os.Getenv(envKilledRun) != "":
		os.Exit(killedRunHelper(os.Getenv(envKilledRun)))
	}
	os.Exit(m.Run())
}

func serveHelper(addr string) int {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve helper:", err)
		return 1
	}
	fmt.Println("serving")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintln(os.Stderr, "serve helper:", srv.Serve(ln))
	return 1
}

func killedRunHelper(id string) int {
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	topo, err := Create(ctx, id, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, "killed-run helper:", err)
		return 1
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "killed-run helper:", err)
		return 1
	}
	srv := topo.Command(ctx, topo.BackendNS, exe, "-test.run=^$")
	srv.Env = append(os.Environ(), envKilledRun+"=", envServe+"="+topo.BackendAddrPort(backendPort))
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "killed-run helper:", err)
		return 1
	}
	if err := topo.Partition(ctx, backendPort); err != nil {
		fmt.Fprintln(os.Stderr, "killed-run helper:", err)
		return 1
	}
	fmt.Printf("ready %d\n", srv.Process.Pid)
	_, _ = io.Copy(io.Discard, os.Stdin) // the test kills us long before its end of the pipe closes
	return 1
}

// requireNetns skips the test unless this machine can build topologies.
func requireNetns(t *testing.T) {
	t.Helper()
	if err := Preflight(t.Context()); err != nil {
		t.Skipf("skipping: netns integration tests need root, ip and iptables: %v", err)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newTestTopology creates a topology with a fresh id and closes it when the test ends, checking
// that nothing of it is left.
func newTestTopology(t *testing.T) *Topology {
	t.Helper()
	topo, err := Create(t.Context(), NewID(), testLogger(t))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() {
		if err := topo.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
		assertGone(t, topo.ID)
	})
	return topo
}

// assertGone checks, with ip itself, that no namespace and no root link of id remains.
func assertGone(t *testing.T, id string) {
	t.Helper()
	for _, args := range [][]string{{"netns", "list"}, {"-o", "link", "show"}} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
		for _, name := range []string{clientNSName(id), backendNSName(id), LinkPrefix + id + "-"} {
			if bytes.Contains(out, []byte(name)) {
				t.Errorf("ip %s still shows %s:\n%s", strings.Join(args, " "), name, out)
			}
		}
	}
	if _, err := os.Stat(lockDir + "/" + id + ".lock"); err == nil {
		t.Errorf("lock file of %s still exists", id)
	}
}

// startServer runs the serve helper inside ns on addr, waits until it listens, and stops it when
// the test ends.
func startServer(t *testing.T, topo *Topology, ns, addr string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := topo.Command(context.Background(), ns, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envServe+"="+addr)
	cmd.Stderr = t.Output()
	cmd.WaitDelay = time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start server in %s: %v", ns, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	waitLine(t, stdout, "serving", 30*time.Second)
	return cmd
}

// waitLine reads r until a line starting with prefix arrives, and returns that line; it fails the
// test at the deadline or at EOF.
func waitLine(t *testing.T, r io.Reader, prefix string, timeout time.Duration) string {
	t.Helper()
	found := make(chan string, 1)
	var once sync.Once
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), prefix) {
				once.Do(func() { found <- sc.Text() })
			}
		}
		once.Do(func() { close(found) })
	}()
	select {
	case line, ok := <-found:
		if !ok {
			t.Fatalf("output ended before a line starting with %q", prefix)
		}
		return line
	case <-time.After(timeout):
		t.Fatalf("no line starting with %q within %v", prefix, timeout)
	}
	return ""
}
