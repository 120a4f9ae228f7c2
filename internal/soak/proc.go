package soak

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ProcRoot is where Linux mounts the process file system.
const ProcRoot = "/proc"

// ProcStats is what the process file system says about one process.
type ProcStats struct {
	RSS     int64 // resident memory in bytes (VmRSS of /proc/PID/status)
	Threads int   // OS threads (Threads of /proc/PID/status)
	FDs     int   // open file descriptors (entries of /proc/PID/fd)
}

// ReadProc reads the stats of process pid under root (ProcRoot outside tests).
func ReadProc(root string, pid int) (ProcStats, error) {
	dir := filepath.Join(root, strconv.Itoa(pid))
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return ProcStats{}, fmt.Errorf("read the status of process %d: %w", pid, err)
	}
	st, err := parseStatus(status)
	if err != nil {
		return ProcStats{}, fmt.Errorf("process %d: %w", pid, err)
	}
	fds, err := os.ReadDir(filepath.Join(dir, "fd"))
	if err != nil {
		return ProcStats{}, fmt.Errorf("list the open files of process %d: %w", pid, err)
	}
	st.FDs = len(fds)
	return st, nil
}

// parseStatus reads VmRSS (in kB) and Threads from the text of /proc/PID/status.
func parseStatus(b []byte) (ProcStats, error) {
	var st ProcStats
	var rss, threads bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) == 0 {
			continue
		}
		n, err := strconv.ParseInt(fields[0], 10, 64)
		switch key {
		case "VmRSS":
			if err != nil || len(fields) != 2 || fields[1] != "kB" {
				return st, fmt.Errorf("VmRSS %q: want a number of kB", strings.TrimSpace(val))
			}
			st.RSS, rss = n*1024, true
		case "Threads":
			if err != nil {
				return st, fmt.Errorf("threads %q: want a number", strings.TrimSpace(val))
			}
			st.Threads, threads = int(n), true
		}
	}
	if !rss || !threads {
		return st, fmt.Errorf("no VmRSS or Threads line in its status (a zombie, or not Linux?)")
	}
	return st, nil
}
