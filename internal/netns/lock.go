package netns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// lockDir holds one lock file per live topology. It is on tmpfs, like the namespaces themselves, so
// a reboot clears both.
const lockDir = "/run/chaoslab/netns"

// errInUse says that a live process owns the topology id.
var errInUse = errors.New("in use by a live process")

// ownerLock is an flock on lockDir/<id>.lock. The kernel releases it when the holding process dies
// for any reason, SIGKILL included, which is how leftovers of a killed run are told apart from a
// topology another process is still using. Files are opened close-on-exec, so services started by
// the owner do not keep it held after the owner is gone.
type ownerLock struct {
	f    *os.File
	path string
}

// acquireLock takes the lock of id without waiting; errInUse when another open file holds it (in
// this process or another).
func acquireLock(id string) (*ownerLock, error) {
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		return nil, fmt.Errorf("netns: lock directory: %w", err)
	}
	path := filepath.Join(lockDir, id+".lock")
	// Whoever releases a lock unlinks its file while holding it; a file locked after it was unlinked
	// protects nothing, so check that the locked file is still the one at path, and retry if not.
	for range 16 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("netns: lock %s: %w", path, err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			_ = f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, fmt.Errorf("netns: topology %s: %w", id, errInUse)
			}
			return nil, fmt.Errorf("netns: lock %s: %w", path, err)
		}
		var held, atPath unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) == nil && unix.Stat(path, &atPath) == nil &&
			held.Dev == atPath.Dev && held.Ino == atPath.Ino {
			_ = f.Truncate(0)
			_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0) // for people, not for the logic
			return &ownerLock{f: f, path: path}, nil
		}
		_ = f.Close()
	}
	return nil, fmt.Errorf("netns: lock %s: kept changing under us", path)
}

// release unlinks the lock file and drops the lock. Safe on a nil lock.
func (l *ownerLock) release() {
	if l == nil {
		return
	}
	_ = os.Remove(l.path)
	_ = l.f.Close()
}
