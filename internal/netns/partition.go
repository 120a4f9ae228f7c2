package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"
)

// ErrPartitionNotEffective says that a fresh TCP connect from the client namespace still reached
// the backend after the DROP rule went in (or that this could not be checked).
var ErrPartitionNotEffective = errors.New("netns: the partition did not take effect")

// verifyTimeout is how long Partition's verifying connect may take before it counts as dropped.
const verifyTimeout = time.Second

// maxHealRounds bounds Heal's loop; the rule can be in the chain only a few times at most.
const maxHealRounds = 16

// rule is the partition rule, as arguments after the iptables verb.
func (t *Topology) rule() []string {
	return []string{"OUTPUT", "-d", t.BackendAddr, "-j", "DROP"}
}

// Partition cuts the client off from the backend, as the seed guide does, inside the client
// namespace:
//
//	iptables -A OUTPUT -d <BackendAddr> -j DROP
//
// then verifies it: a fresh TCP connect from the client namespace to BackendAddr:port must fail
// within a second. If it connects (or is refused, which means the backend answered), the rule is
// removed again and the error wraps ErrPartitionNotEffective. Already-established connections go
// silent too: every packet the client sends to the backend is dropped. Partitioning twice adds
// the rule once.
func (t *Topology) Partition(ctx context.Context, port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("netns: partition: port %d is not in 1..65535", port)
	}
	on, err := t.Partitioned(ctx)
	if err != nil {
		return err
	}
	if !on {
		if _, err := t.sys.iptables(ctx, t.ClientNS, append([]string{"-A"}, t.rule()...)...); err != nil {
			return fmt.Errorf("netns: partition: %w", err)
		}
	}
	target := t.BackendAddrPort(port)
	if err := t.verifyDropped(ctx, target); err != nil {
		// Never leave a rule behind that the caller believes is not there.
		healCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		defer cancel()
		return errors.Join(err, t.Heal(healCtx))
	}
	t.sys.logger.Info("partition injected and verified", "ns", t.ClientNS,
		"rule", "iptables -A OUTPUT -d "+t.BackendAddr+" -j DROP", "verified_with", target)
	return nil
}

// verifyDropped returns nil when a fresh connect to target times out (or is refused locally by
// the firewall), the error otherwise.
func (t *Topology) verifyDropped(ctx context.Context, target string) error {
	err := t.DialFromClient(ctx, target, verifyTimeout)
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("netns: partition: %w", context.Cause(ctx))
	case err == nil:
		return fmt.Errorf("%w: a fresh TCP connect from %s to %s succeeded; the rule was removed",
			ErrPartitionNotEffective, t.ClientNS, target)
	case isDropped(err):
		return nil
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w: a fresh TCP connect from %s to %s was refused by the backend, so packets still get through; the rule was removed",
			ErrPartitionNotEffective, t.ClientNS, target)
	default:
		return fmt.Errorf("%w: could not verify it, the rule was removed: %w", ErrPartitionNotEffective, err)
	}
}

// isDropped reports whether a connect error is what a DROP rule causes: a timeout, or EPERM when
// the kernel reports the local drop to the sender.
func isDropped(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.EPERM)
}

// Heal removes the partition rule: the matching `iptables -D`, repeated until `iptables -C` finds
// no such rule. Healing an unpartitioned or already-closed topology is not an error.
func (t *Topology) Heal(ctx context.Context) error {
	if !nsExists(t.ClientNS) {
		return nil
	}
	for range maxHealRounds {
		on, err := t.Partitioned(ctx)
		if err != nil || !on {
			return err
		}
		if _, err := t.sys.iptables(ctx, t.ClientNS, append([]string{"-D"}, t.rule()...)...); err != nil {
			return fmt.Errorf("netns: heal: %w", err)
		}
		t.sys.logger.Info("partition healed", "ns", t.ClientNS, "rule", "iptables -D OUTPUT -d "+t.BackendAddr+" -j DROP")
	}
	return fmt.Errorf("netns: heal: the rule is still in %s after %d deletions", t.ClientNS, maxHealRounds)
}

// Partitioned reads the rule back from the client namespace (`iptables -C`).
func (t *Topology) Partitioned(ctx context.Context) (bool, error) {
	if !nsExists(t.ClientNS) {
		return false, fmt.Errorf("netns: namespace %s does not exist", t.ClientNS)
	}
	_, err := t.sys.iptables(ctx, t.ClientNS, append([]string{"-C"}, t.rule()...)...)
	switch {
	case err == nil:
		return true, nil
	case exitCode(err) == 1 && ctx.Err() == nil: // iptables: "Bad rule (does a matching rule exist in that chain?)"
		return false, nil
	default:
		return false, fmt.Errorf("netns: read partition rule: %w", err)
	}
}

// BackendAddrPort returns BackendAddr with the given port, as "ip:port".
func (t *Topology) BackendAddrPort(port int) string {
	return net.JoinHostPort(t.BackendAddr, strconv.Itoa(port))
}
