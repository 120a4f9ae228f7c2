package netns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNotClean says that namespaces or links of ours were still there after they were deleted.
var ErrNotClean = errors.New("netns: cleanup left resources behind")

// CleanupLeftovers removes every namespace named chaoslab-* and every root-namespace link named
// clb-* whose topology is not owned by a live process: the leftovers of runs that were killed
// before they could clean up. Processes still running inside such namespaces (services orphaned by
// the killed run) are killed. It returns the names it removed, and logs them at warning level so
// that the run says so. Topologies of live processes, this one included, are left alone.
func CleanupLeftovers(ctx context.Context, logger *slog.Logger) ([]string, error) {
	return newSys(logger).cleanupLeftovers(ctx)
}

func (s sys) cleanupLeftovers(ctx context.Context) ([]string, error) {
	nss, err := s.listNS(ctx)
	if err != nil {
		return nil, err
	}
	links, err := s.listRootLinks(ctx)
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, n := range nss {
		ids[idOfNS(n)] = true
	}
	for _, l := range links {
		ids[idOfLink(l)] = true
	}
	var removed []string
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		r, err := s.removeIfOrphaned(ctx, id)
		removed = append(removed, r...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	s.removeStaleLocks()
	if len(removed) > 0 {
		s.logger.Warn("removed leftovers of an earlier chaoslab run", "removed", removed)
	}
	return removed, errors.Join(errs...)
}

// removeIfOrphaned tears down everything of id unless a live process holds its lock. Names of ours
// that carry no valid id ("" here) have no owner and always go.
func (s sys) removeIfOrphaned(ctx context.Context, id string) ([]string, error) {
	if id != "" {
		lock, err := acquireLock(id)
		if errors.Is(err, errInUse) {
			s.logger.Debug("topology in use by a live process, kept", "id", id)
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		defer lock.release()
	}
	return s.teardown(ctx, func(other string) bool { return other == id })
}

// removeStaleLocks deletes lock files that nobody holds (their owner died and left nothing else).
func (s sys) removeStaleLocks() {
	entries, err := os.ReadDir(lockDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".lock")
		if !ok || ValidateID(id) != nil {
			continue
		}
		if lock, err := acquireLock(id); err == nil {
			lock.release()
		}
	}
}

// teardown kills the processes inside, and deletes, every namespace and root-namespace link of ours
// whose id satisfies match, then waits until `ip netns list` and `ip link` show none of them.
// It returns the names it found and removed.
func (s sys) teardown(ctx context.Context, match func(id string) bool) ([]string, error) {
	nss, links, err := s.matching(ctx, match)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, ns := range nss {
		s.killInside(ctx, ns)
	}
	// Deleting one end of a veth deletes its peer at once; deleting a namespace only drops a
	// reference, and its links go when the kernel gets round to it. So links first, explicitly.
	for _, l := range links {
		if _, err := s.ip(ctx, "link", "del", l); err != nil {
			errs = append(errs, err)
		}
	}
	for _, ns := range nss {
		if _, err := s.ip(ctx, "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	left, err := s.waitGone(ctx, match)
	if err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	if len(left) > 0 {
		return nil, fmt.Errorf("%w: %v still present: %w", ErrNotClean, left, errors.Join(errs...))
	}
	// Deletion errors with a clean result are races with another cleanup: nothing to report.
	for _, err := range errs {
		s.logger.Debug("delete failed, but the resource is gone", "err", err)
	}
	return append(nss, links...), nil
}

// waitGone polls until nothing matching remains or ctx ends; it returns what is left.
func (s sys) waitGone(ctx context.Context, match func(id string) bool) ([]string, error) {
	delay := 10 * time.Millisecond
	for {
		nss, links, err := s.matching(ctx, match)
		if err != nil {
			return nil, err
		}
		left := append(nss, links...)
		if len(left) == 0 {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return left, nil
		case <-time.After(delay):
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// ownedBy lists the namespaces and root links that carry id.
func (s sys) ownedBy(ctx context.Context, id string) ([]string, error) {
	nss, links, err := s.matching(ctx, func(other string) bool { return other == id })
	return append(nss, links...), err
}

func (s sys) matching(ctx context.Context, match func(id string) bool) (nss, links []string, err error) {
	all, err := s.listNS(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range all {
		if match(idOfNS(n)) {
			nss = append(nss, n)
		}
	}
	all, err = s.listRootLinks(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, l := range all {
		if match(idOfLink(l)) {
			links = append(links, l)
		}
	}
	return nss, links, nil
}

// listNS returns the named namespaces whose name starts with NSPrefix.
func (s sys) listNS(ctx context.Context) ([]string, error) {
	out, err := s.ip(ctx, "netns", "list")
	if err != nil {
		return nil, err
	}
	return parseNSList(string(out)), nil
}

// parseNSList reads `ip netns list` ("name" or "name (id: 3)" per line), keeping ours.
func parseNSList(out string) []string {
	var names []string
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], NSPrefix) {
			names = append(names, f[0])
		}
	}
	return names
}

// listRootLinks returns the root namespace's links whose name starts with LinkPrefix.
func (s sys) listRootLinks(ctx context.Context) ([]string, error) {
	out, err := s.ip(ctx, "-o", "link", "show")
	if err != nil {
		return nil, err
	}
	return parseLinkList(string(out)), nil
}

// parseLinkList reads `ip -o link show` ("7: clb-ab12-h@if2: <BROADCAST,...> ..."), keeping ours.
func parseLinkList(out string) []string {
	var names []string
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if strings.HasPrefix(name, LinkPrefix) {
			names = append(names, name)
		}
	}
	return names
}

// killInside SIGKILLs every process whose network namespace is ns, except this process (one of
// its threads may be visiting ns in DialClient).
func (s sys) killInside(ctx context.Context, ns string) {
	out, err := s.ip(ctx, "netns", "pids", ns)
	if err != nil {
		s.logger.Debug("list processes in namespace", "ns", ns, "err", err)
		return
	}
	for line := range strings.Lines(string(out)) {
		pid, err := strconv.Atoi(strings.TrimSpace(line))
		if err != nil || pid <= 1 || pid == os.Getpid() {
			continue
		}
		s.logger.Warn("killing process still running in namespace", "ns", ns, "pid", pid, "cmdline", cmdline(pid))
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			s.logger.Debug("kill", "pid", pid, "err", err)
		}
	}
}

// cmdline returns a process's command line for log messages, or "".
func cmdline(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}
