package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"chaoslab/internal/cmdutil"
)

// serveFaultProxy starts this test binary as `chaoslab serve fault-proxy` with env added.
func serveFaultProxy(t *testing.T, env ...string) (*exec.Cmd, io.Reader, *strings.Builder) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "serve", "fault-proxy")
	cmd.Env = append(append(os.Environ(), envTestMain+"=1"), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, stdout, &stderr
}

// TestServeFaultProxyBadVariable: a bad variable stops the fault proxy with exit status 2 and
// one line naming the variable, the value and what is allowed.
func TestServeFaultProxyBadVariable(t *testing.T) {
	cmd, stdout, stderr := serveFaultProxy(t, "UPSTREAM=backend")
	io.Copy(io.Discard, stdout)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != cmdutil.ExitUsage {
		t.Fatalf("exit = %v, want status %d", err, cmdutil.ExitUsage)
	}
	want := `chaoslab: UPSTREAM="backend": must be host:port with a port from 1 to 65535, such as 127.0.0.1:8081` + "\n"
	if stderr.String() != want {
		t.Errorf("stderr = %q, want exactly %q", stderr.String(), want)
	}
}

// TestServeFaultProxySIGTERM: SIGTERM stops the fault proxy gracefully: it logs its shutdown
// and exits 0.
func TestServeFaultProxySIGTERM(t *testing.T) {
	cmd, stdout, stderr := serveFaultProxy(t, "LISTEN_ADDR=127.0.0.1:0", "FAULT_API_ADDR=127.0.0.1:0", "UPSTREAM=127.0.0.1:1", "LOG_FORMAT=json")
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var msgs []string
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				err := cmd.Wait()
				if err != nil || !slices.Contains(msgs, "stopped") {
					t.Errorf("exit = %v, records %q; want exit 0 after a \"stopped\" record (stderr %q)", err, msgs, stderr.String())
				}
				return
			}
			var rec struct{ Msg, Component string }
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("a record is not JSON: %s", line)
			}
			msgs = append(msgs, rec.Msg)
			if rec.Msg == "listening" && rec.Component == "" {
				if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			}
		case <-timeout:
			t.Fatalf("no exit within 10s; records %q, stderr %q", msgs, stderr.String())
		}
	}
}

func TestServeUnknownService(t *testing.T) {
	_, _, err := runCLI(t, "serve", "database")
	if cmdutil.ExitCode(err) != cmdutil.ExitUsage || !strings.Contains(err.Error(), "the services are backend, client and fault-proxy") {
		t.Errorf("serve database = %v, want a usage error listing fault-proxy", err)
	}
}
