package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/netns"
	"chaoslab/internal/results"
)

var reNamespaces = regexp.MustCompile(`network namespaces (chaoslab-client-[a-z0-9]+) \(client [0-9.]+\) and (chaoslab-backend-[a-z0-9]+)`)

// requireNetns skips unless this machine can make namespaces and iptables rules (root, ip,
// iptables); .ci/run installs iptables so these tests run in CI.
func requireNetns(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("netns end-to-end runs skipped with -short")
	}
	if err := netns.Preflight(context.Background()); err != nil {
		t.Skipf("network namespace tests need root, ip and iptables: %v", err)
	}
}

// leftovers lists which of the given namespaces and the run's veth still exist.
func leftovers(t *testing.T, names ...string) []string {
	t.Helper()
	nsList, err := exec.Command("ip", "netns", "list").CombinedOutput()
	if err != nil {
		t.Fatalf("ip netns list: %v: %s", err, nsList)
	}
	links, err := exec.Command("ip", "-o", "link", "show").CombinedOutput()
	if err != nil {
		t.Fatalf("ip link: %v: %s", err, links)
	}
	var left []string
	for _, n := range names {
		id := n[strings.LastIndex(n, "-")+1:]
		if strings.Contains(string(nsList), n) {
			left = append(left, n)
		}
		if strings.Contains(string(links), netns.LinkPrefix+id+"-") {
			left = append(left, "veth of "+id)
		}
	}
	return left
}

// A chaoslab run killed with SIGKILL in the middle of the partition leaves its namespaces (and
// the DROP rule inside them) behind; the next run removes them first and says so, then runs the
// whole experiment with a real kernel partition and leaves nothing of its own.
func TestNetnsKilledRunThenFullRun(t *testing.T) {
	requireNetns(t)
	first := filepath.Join(t.TempDir(), "first")
	cmd, firstOut, exited := startChaoslab(t, append([]string{"run", "--stack", "netns", "--out", first, "--warmup", "500ms",
		"--var", "partition_duration:int=60"}, fastPipeline...)...)
	waitFaultOn(t, first, firstOut, exited)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	m := reNamespaces.FindStringSubmatch(firstOut.String())
	if m == nil {
		t.Fatalf("the first run did not name its namespaces:\n%s", firstOut.String())
	}
	killed := m[1:]
	if left := leftovers(t, killed...); len(left) == 0 {
		t.Fatalf("SIGKILL left nothing behind (%v): the test proves nothing", killed)
	}
	t.Cleanup(func() { netns.CleanupLeftovers(context.Background(), nil) })

	// Start again: a whole run with short durations.
	second := filepath.Join(t.TempDir(), "second")
	t.Setenv(envTestMain, "1")
	var out, errb bytes.Buffer
	err := Run(context.Background(), append([]string{"run", "--stack", "netns", "--out", second, "--warmup", "1s",
		"--recovery", "4s", "--var", "partition_duration:int=3", "--objective", "p99_while_open_max_ms=1000"}, fastPipeline...), os.Getenv, &out, &errb)
	if err != nil {
		t.Fatalf("second run: %v\n%s\n%s", err, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "removed leftovers") || !strings.Contains(out.String(), killed[0]) {
		t.Errorf("the second run did not say it removed %v:\n%s", killed, out.String())
	}
	if left := leftovers(t, killed...); len(left) > 0 {
		t.Errorf("leftovers of the killed run remain: %v", left)
	}
	m = reNamespaces.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("the second run did not name its namespaces:\n%s", out.String())
	}
	if left := leftovers(t, m[1:]...); len(left) > 0 {
		t.Errorf("the second run left %v behind", left)
	}

	j := readJournal(t, second)
	if j.Status != "completed" || j.Deviated {
		t.Errorf("journal: %s deviated %t", j.Status, j.Deviated)
	}
	var retries, opened, closedAfter, healed bool
	for _, e := range readEvents(t, second) {
		switch {
		case e.Kind == results.KindRetry:
			retries = true
		case e.Kind == results.KindFault && e.Action == "off":
			healed = true
		case e.Kind == results.KindBreaker && e.To == results.BreakerOpen && e.From == results.BreakerClosed:
			opened = true
		case e.Kind == results.KindBreaker && e.To == results.BreakerClosed && healed:
			closedAfter = true
		}
	}
	if !retries || !opened || !closedAfter {
		t.Errorf("retries %t, CLOSED -> OPEN %t, CLOSED after the heal %t: want all", retries, opened, closedAfter)
	}
	fallbacks, total := countFallbacks(t, second)
	if fallbacks == 0 {
		t.Errorf("no fallbacks during the kernel partition among %d requests", total)
	}
}

// The suite on --stack netns: the entries the kernel stack supports run with the same evidence
// as on the local stack (the L7 injector in the backend's namespace, the kill and restart inside
// it, the flapping iptables partition); the others are listed as skipped with the reason, and
// nothing is left behind.
func TestNetnsSuite(t *testing.T) {
	requireNetns(t)
	t.Setenv(envTestMain, "1")
	out := filepath.Join(t.TempDir(), "suite")
	stdout, stderr, err := runCLI(t, append([]string{"run", "--suite", "--stack", "netns", "--out", out}, suiteFlags...)...)
	if err != nil && cmdutil.ExitCode(err) != cmdutil.ExitFailure { // a failed entry is judged below
		t.Fatalf("chaoslab run --suite --stack netns: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	index, err := os.ReadFile(filepath.Join(out, "index.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range mustCatalogue(t) {
		t.Run(en.Name, func(t *testing.T) {
			if ok, why := en.Supports("netns"); !ok {
				if !strings.Contains(string(index), "SKIPPED: not available with --stack netns: "+why) {
					t.Errorf("index.md does not say why %s was skipped", en.Name)
				}
				return
			}
			dir := filepath.Join(out, en.Name)
			if j := readJournal(t, dir); j.Status != "completed" || j.Deviated {
				t.Errorf("journal: status %s, deviated %t", j.Status, j.Deviated)
			}
			checkSuiteVerdict(t, dir)
			ev := newEvidence(t, dir)
			ev.faultCameAndWent(t)
			checks[en.Name](t, ev)
		})
	}
	for _, m := range reNamespaces.FindAllStringSubmatch(stdout, -1) {
		if left := leftovers(t, m[1:]...); len(left) > 0 {
			t.Errorf("the suite left %v behind", left)
		}
	}
}
