package netns

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"chaoslab/internal/cmdutil"
)

// Preflight checks, before anything is started, that this process can build topologies: it runs
// as root, `ip` and `iptables` are on PATH, and both work (a scratch namespace is made, listed with
// `iptables -L` and deleted). The error names every missing thing and how to get it, and satisfies
// errors.Is(err, cmdutil.ErrUsage) so that the command exits 2.
func Preflight(ctx context.Context) error {
	s := newSys(nil)
	return preflight(ctx, preflightEnv{
		geteuid:  os.Geteuid,
		lookPath: exec.LookPath,
		scratch:  s.scratchCheck,
	})
}

// preflightEnv is what Preflight asks of the system; tests replace it.
type preflightEnv struct {
	geteuid  func() int
	lookPath func(file string) (string, error)
	scratch  func(ctx context.Context) error // builds and removes a scratch namespace with iptables in it
}

func preflight(ctx context.Context, env preflightEnv) error {
	var problems []string
	root := env.geteuid() == 0
	if !root {
		problems = append(problems, "not running as root: network namespaces and iptables need it; run with sudo, or use --stack local, which needs neither")
	}
	_, ipErr := env.lookPath("ip")
	if ipErr != nil {
		problems = append(problems, "`ip` not found on PATH: install iproute2 (apt-get install -y iproute2)")
	}
	_, iptErr := env.lookPath("iptables")
	if iptErr != nil {
		problems = append(problems, "`iptables` not found on PATH: install it (apt-get install -y iptables)")
	}
	if len(problems) == 0 {
		if err := env.scratch(ctx); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("netns preflight: %w", err)
			}
			problems = append(problems, strings.ReplaceAll(err.Error(), "\n", "; "))
		}
	}
	if len(problems) > 0 {
		return cmdutil.Usagef("the netns stack cannot run: %s", strings.Join(problems, "; "))
	}
	return nil
}

// scratchCheck makes a throw-away namespace (chaoslab-preflight-<id>, owned like a topology so a
// concurrent CleanupLeftovers leaves it alone), runs `iptables -L` inside it and deletes it.
func (s sys) scratchCheck(ctx context.Context) error {
	id := NewID()
	lock, err := acquireLock(id)
	if err != nil {
		return fmt.Errorf("cannot create the lock directory %s: %w", lockDir, err)
	}
	defer lock.release()
	ns := NSPrefix + "preflight-" + id
	var errs []error
	if _, err := s.ip(ctx, "netns", "add", ns); err != nil {
		errs = append(errs, fmt.Errorf("cannot create a network namespace (is this a container without CAP_SYS_ADMIN?): %w", err))
	} else if _, err := s.iptables(ctx, ns, "-L", "OUTPUT", "-n"); err != nil {
		errs = append(errs, fmt.Errorf("iptables does not work in a network namespace (missing kernel support for nf_tables or ip_tables?): %w", err))
	}
	cleanCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	if _, err := s.teardown(cleanCtx, func(other string) bool { return other == id }); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
