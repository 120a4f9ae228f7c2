package soak

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fakeProc writes a /proc/PID with this status text and n open files under a new root.
func fakeProc(t *testing.T, pid, status string, fds int) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, pid)
	if err := os.MkdirAll(filepath.Join(dir, "fd"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range fds {
		if err := os.WriteFile(filepath.Join(dir, "fd", string(rune('0'+i))), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestSoakReadProc(t *testing.T) {
	tests := []struct {
		name, status string
		want         ProcStats
		err          string
	}{
		{"status", "Name:\tbackend\nVmPeak:\t  9000 kB\nVmRSS:\t   20480 kB\nThreads:\t7\n", ProcStats{RSS: 20480 * 1024, Threads: 7, FDs: 3}, ""},
		{"zombie", "Name:\tbackend\nState:\tZ (zombie)\nThreads:\t1\n", ProcStats{}, "no VmRSS or Threads line"},
		{"bad unit", "VmRSS:\t20 MB\nThreads:\t7\n", ProcStats{}, `VmRSS "20 MB": want a number of kB`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadProc(fakeProc(t, "42", tt.status, 3), 42)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ReadProc = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	if _, err := ReadProc(t.TempDir(), 42); err == nil || !strings.Contains(err.Error(), "process 42") {
		t.Errorf("a process that is gone: err = %v, want one naming process 42", err)
	}
}

// The real /proc of this very process reads.
func TestSoakReadProcSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	st, err := ReadProc(ProcRoot, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.RSS <= 0 || st.Threads <= 0 || st.FDs <= 0 {
		t.Errorf("ReadProc(self) = %+v: want every number > 0", st)
	}
}
