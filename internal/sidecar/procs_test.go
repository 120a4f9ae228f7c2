package sidecar

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeRoot is a proc filesystem in a test directory: one directory per process with its
// cmdline and stat, as the kernel shows them.
type fakeRoot struct {
	t   *testing.T
	dir string
}

func newFakeRoot(t *testing.T) *fakeRoot { return &fakeRoot{t: t, dir: t.TempDir()} }

// add makes process pid with the command line args (NUL-separated), state and start time.
func (r *fakeRoot) add(pid int, state string, start uint64, args ...string) {
	r.t.Helper()
	d := filepath.Join(r.dir, strconv.Itoa(pid))
	if err := os.MkdirAll(d, 0o755); err != nil {
		r.t.Fatal(err)
	}
	cmdline := ""
	for _, a := range args {
		cmdline += a + "\x00"
	}
	comm := "x"
	if len(args) > 0 {
		comm = filepath.Base(args[0])
	}
	// Fields 3..22 of /proc/PID/stat: state, ppid, ..., starttime; comm may hold ") (".
	stat := fmt.Sprintf("%d (%s) %s 1 1 1 0 -1 4194560 100 0 0 0 1 1 0 0 20 0 1 0 %d 1000 100\n", pid, comm+") (odd", state, start)
	for name, data := range map[string]string{"cmdline": cmdline, "stat": stat} {
		if err := os.WriteFile(filepath.Join(d, name), []byte(data), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *fakeRoot) remove(pid int) {
	r.t.Helper()
	if err := os.RemoveAll(filepath.Join(r.dir, strconv.Itoa(pid))); err != nil {
		r.t.Fatal(err)
	}
}

// pod is the processes of a backend pod with a shared process namespace, as the sidecar sees them.
func (r *fakeRoot) pod() {
	r.add(1, "S", 10, "/pause")
	r.add(7, "S", 500, "/usr/local/bin/backend-service")
	r.add(9, "S", 600, "/usr/local/bin/chaoslab", "serve", "fault-proxy")
	r.add(12, "S", 700, "/bin/sh", "-c", "backend-service")   // mentions it, is not it
	r.add(13, "S", 710, "/usr/local/bin/backend-service-old") // another command
	r.add(14, "Z", 720)                                       // a zombie: no command line
	r.add(15, "S", 730, "backend-service", "--flag")          // argv[0] without a path
	// Entries that are no process: a directory, /proc/self, a file.
	err := errors.Join(os.MkdirAll(filepath.Join(r.dir, "net"), 0o755), os.Symlink("9", filepath.Join(r.dir, "self")),
		os.WriteFile(filepath.Join(r.dir, "uptime"), []byte("1 1"), 0o644))
	if err != nil {
		r.t.Fatal(err)
	}
}

// fakeProcesses is Processes over root, signalling through sig (nil = recording only).
func fakeProcesses(r *fakeRoot, sig func(pid int, s syscall.Signal) error) (*Processes, *[]string) {
	p := NewProcesses(ProcessesConfig{Root: r.dir, Name: "backend-service", RestartWait: 2 * time.Second})
	p.self = 9
	var mu sync.Mutex
	var sent []string
	p.signal = func(pid int, s syscall.Signal) error {
		mu.Lock()
		sent = append(sent, fmt.Sprintf("%d %v", pid, s))
		mu.Unlock()
		if sig != nil {
			return sig(pid, s)
		}
		return nil
	}
	return p, &sent
}

func TestFindByCommandName(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(r *fakeRoot)
		want  []int
	}{
		{"a pod", func(r *fakeRoot) { r.pod() }, []int{7, 15}},
		{"no backend", func(r *fakeRoot) { r.add(1, "S", 1, "/pause") }, nil},
		{"the backend a zombie", func(r *fakeRoot) { r.add(7, "Z", 5, "/usr/local/bin/backend-service") }, nil},
		{"a process without stat", func(r *fakeRoot) {
			r.add(7, "S", 5, "/usr/local/bin/backend-service")
			os.Remove(filepath.Join(r.dir, "7", "stat"))
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newFakeRoot(t)
			tc.setup(r)
			p, _ := fakeProcesses(r, nil)
			procs, err := p.find()
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, pr := range procs {
				got = append(got, pr.pid)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("find = %v, want %v", got, tc.want)
			}
		})
	}
	p := NewProcesses(ProcessesConfig{Root: filepath.Join(t.TempDir(), "none"), Name: "backend-service"})
	if _, err := p.find(); err == nil || !strings.Contains(err.Error(), "list the processes in") {
		t.Errorf("find in a missing root = %v, want an error naming it", err)
	}
}

func TestExited(t *testing.T) {
	r := newFakeRoot(t)
	p, _ := fakeProcesses(r, nil)
	for _, tc := range []struct {
		name  string
		setup func()
		want  bool
	}{
		{"running", func() { r.add(7, "S", 500, "backend-service") }, false},
		{"a zombie", func() { r.add(7, "Z", 500) }, true},
		{"the pid reused", func() { r.add(7, "S", 900, "backend-service") }, true},
		{"gone", func() { r.remove(7) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			if got := p.exited(proc{pid: 7, start: 500}); got != tc.want {
				t.Errorf("exited = %t, want %t", got, tc.want)
			}
		})
	}
}

func TestKillSignalsTheBackendAndWaitsForItsExit(t *testing.T) {
	r := newFakeRoot(t)
	r.pod()
	signalled := make(chan int, 2)
	p, sent := fakeProcesses(r, func(pid int, _ syscall.Signal) error { signalled <- pid; return nil })
	done := make(chan error, 1)
	var pid int
	go func() {
		var err error
		pid, err = p.Kill(context.Background(), "backend-service", syscall.SIGTERM)
		done <- err
	}()
	<-signalled
	<-signalled
	select {
	case err := <-done:
		t.Fatalf("Kill returned (%v) while its processes still run", err)
	default:
	}
	r.add(7, "Z", 500)  // exited, not yet reaped
	r.add(15, "S", 999) // its pid taken by a new process
	if err := <-done; err != nil || pid != 7 {
		t.Fatalf("Kill = %d, %v; want 7", pid, err)
	}
	if want := []string{"7 terminated", "15 terminated"}; !slices.Equal(*sent, want) {
		t.Errorf("signals = %v, want %v (never pid 1, 9 itself, 12, 13)", *sent, want)
	}
}

func TestKillRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(r *fakeRoot)
		service string
		signal  error
		want    string
	}{
		{"not running", func(r *fakeRoot) { r.add(1, "S", 1, "/pause") }, "backend-service", nil, "backend-service is not running: no process in "},
		{"another service", func(r *fakeRoot) { r.pod() }, "client-service", nil, `unknown service "client-service": this fault proxy controls backend-service`},
		{"not permitted", func(r *fakeRoot) { r.pod() }, "backend-service", syscall.EPERM, "the fault proxy must run as the backend's UID"},
		{"does not exit", func(r *fakeRoot) { r.pod() }, "backend-service", nil, "did not exit within 50ms of the signal (killed)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newFakeRoot(t)
			tc.setup(r)
			p, _ := fakeProcesses(r, func(int, syscall.Signal) error { return tc.signal })
			p.killWait = 50 * time.Millisecond
			if _, err := p.Kill(context.Background(), tc.service, syscall.SIGKILL); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Kill = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestStartWaitsForTheKubelet(t *testing.T) {
	r := newFakeRoot(t)
	r.add(1, "S", 1, "/pause")
	p, _ := fakeProcesses(r, nil)
	missed := make(chan struct{}, 1)
	p.missed = func() {
		select {
		case missed <- struct{}{}:
		default:
		}
	}
	type result struct {
		pid     int
		started bool
		err     error
	}
	done := make(chan result, 1)
	go func() {
		pid, started, err := p.Start(context.Background(), "backend-service")
		done <- result{pid, started, err}
	}()
	<-missed                                              // Start saw it down
	r.add(21, "S", 800, "/usr/local/bin/backend-service") // the kubelet's restart
	if got := <-done; got.err != nil || got.pid != 21 || !got.started {
		t.Fatalf("Start = %+v, want pid 21, started", got)
	}
	pid, started, err := p.Start(context.Background(), "backend-service")
	if err != nil || pid != 21 || started {
		t.Errorf("Start while it runs = %d, %t, %v; want 21, not started", pid, started, err)
	}
	if st := p.Status("backend-service"); !st.Running || st.PID != 21 || st.Restarts != 1 {
		t.Errorf("Status = %+v, want running pid 21, 1 restart", st)
	}
}

func TestStartGivesUp(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close() // a port nothing listens on
	for _, tc := range []struct {
		name     string
		upstream string
		remove   bool
		want     string
	}{
		{"no process", "", true, "backend-service is not back after 30ms (the kubelet restarts the container"},
		{"running, not listening", closed.Addr().String(), false, "POST /processes/backend-service/start again to wait longer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newFakeRoot(t)
			r.pod()
			p, _ := fakeProcesses(r, nil)
			p.cfg.RestartWait, p.cfg.Upstream = 30*time.Millisecond, tc.upstream
			if tc.remove {
				r.remove(7)
				r.remove(15)
			}
			_, _, err := p.Start(context.Background(), "backend-service")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Start = %v, want a deadline error containing %q", err, tc.want)
			}
		})
	}
}

// TestRealProcess runs the real path against /proc: a child process whose command name is
// unique to this test (never backend-service: another process on a shared machine could have
// that name, and this test kills what it finds) is found, signalled and seen to exit.
func TestRealProcess(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command")
	}
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("no /proc")
	}
	cmd, name := startNamed(t, sleep)
	p := NewProcesses(ProcessesConfig{Root: "/proc", Name: name, RestartWait: time.Second})
	if st := p.Status(name); !st.Running || st.PID != cmd.Process.Pid {
		t.Fatalf("Status = %+v, want running as pid %d", st, cmd.Process.Pid)
	}
	pid, err := p.Kill(context.Background(), name, syscall.SIGKILL)
	if err != nil || pid != cmd.Process.Pid {
		t.Fatalf("Kill = %d, %v; want %d", pid, err, cmd.Process.Pid)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("the child ended with %v, want killed by SIGKILL", err)
	}
	if st := p.Status(name); st.Running {
		t.Errorf("Status after the kill = %+v, want not running", st)
	}
}

// startNamed starts path (sleep) under a command name unique to the test (startAs).
func startNamed(t *testing.T, path string) (*exec.Cmd, string) {
	t.Helper()
	name := fmt.Sprintf("chaoslab-sidecar-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	return startAs(t, path, name), name
}

// startAs starts path (sleep 60) through a symlink called name, so that its argv[0] has that
// base name; it is killed at the end of the test if still running.
func startAs(t *testing.T, path, name string) *exec.Cmd {
	t.Helper()
	link := filepath.Join(t.TempDir(), name)
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(link, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd
}
