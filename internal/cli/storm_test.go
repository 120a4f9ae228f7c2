package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"chaoslab/internal/netns"
	"chaoslab/internal/results"
)

// The interruption storm (issue 14): `chaoslab run` on the local stack and, as root when
// netns.Preflight passes, on the netns stack, interrupted by SIGINT, SIGTERM or SIGKILL at a
// random moment of a short run, over the catalogue. After each interruption nothing of the run may
// remain: no chaoslab or service process, no fault, no namespace, veth or rule once the next run
// (or netns.CleanupLeftovers) has cleaned up after a SIGKILL.
//
// The plan (stack, signal, target phase, delay, experiment of each trial) comes from a seed,
// printed at the start; CHAOSLAB_STORM_SEED=<seed> replays it (the timing of the runs themselves
// still varies).

const (
	envStormSeed  = "CHAOSLAB_STORM_SEED"
	envStormTrial = "CHAOSLAB_STORM_TRIAL" // marks every process of one trial: chaoslab and its services inherit it

	// Trials per lane. Two lanes run side by side (independent: separate --out, free ports, and
	// on netns their own topology): local and netns, or two local ones without netns.
	stormTrialsPerLane = 12

	// chaoslab's graceful stop, at most: the rollbacks, then Stack.Close SIGTERMs client-service and
	// gives it killGrace (10 s, the services' default SHUTDOWN_TIMEOUT too) before SIGKILL, then
	// the same for backend-service: 20 s for the services one after the other, plus the after
	// snapshot, the report and (netns) the teardown. In practice it takes well under 2 s: the
	// load's connections are idle when the services stop.
	stormGracefulExit = 45 * time.Second
	// After SIGKILL the kernel SIGKILLs the services at once (Pdeathsig, sysproc_linux.go); what
	// can outlive chaoslab briefly is a helper it ran (ip, iptables), which ends on its own.
	stormOrphansGone = 5 * time.Second
)

// stormArgs shorten every catalogue entry: a 2-3 s fault (flapping: two cycles of 1 s on, 1 s
// off), 500 ms of warm-up and 1 s of recovery.
func stormArgs(out, experiment string, rng *rand.Rand) []string {
	args := []string{"run", experiment, "--out", out, "--rps", "20", "--warmup", "500ms", "--recovery", "1s",
		"--var", "partition_duration:int=" + strconv.Itoa(2+rng.IntN(2)), "--var", "fault_duration:int=2",
		"--var", "restart_after:int=2", "--var", "on_seconds:int=1", "--var", "off_seconds:int=1", "--var", "cycles:int=2"}
	return append(args, fastPipeline...)
}

// A trial's target: where its delay is measured from, and the range of the delay.
type stormTarget struct {
	name     string
	maxDelay time.Duration // 0: the duration of the stack's start-up, as the lane last saw it
}

var stormTargets = []stormTarget{
	{"starting", 0},                      // from the "starting" phase, within the stack's start-up
	{"warmup", 500 * time.Millisecond},   // from the warm-up's start, within --warmup
	{"fault", 1800 * time.Millisecond},   // from the first fault "on", within the 2 s fault (flapping: its first cycle and the gap)
	{"recovery", 900 * time.Millisecond}, // from the recovery's start, within --recovery
}

// stormLane is a sequence of trials on one stack, run one after the other.
type stormLane struct {
	stack  string
	trials []stormTrial
	// startup is how long the stack took to start in the lane's last trial that got that far
	// (from the "starting" phase to the "warmup" one): the range of a "starting" trial's delay.
	startup time.Duration
	// pending holds the topology ids SIGKILLed netns runs may have left behind, until a later
	// run's start (CleanupLeftovers) or the lane's end removes them.
	pending []string
}

var stormSignals = []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL}

type stormTrial struct {
	n          int
	stack      string
	sig        syscall.Signal
	target     stormTarget
	frac       float64 // where in the target's range the signal comes: delay = frac * range
	experiment string
	args       []string // without --stack
}

func (tr stormTrial) String() string {
	return fmt.Sprintf("%02d-%s-%s-%s-%s", tr.n, tr.stack, sigName(tr.sig), tr.target.name, tr.experiment)
}

func sigName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGKILL:
		return "SIGKILL"
	}
	return s.String()
}

// stormPlan draws n trials on a stack. Signals and targets are dealt from shuffled decks so that
// every signal and every target comes up in each lane; the experiment is drawn among those the
// stack supports.
func stormPlan(rng *rand.Rand, stack string, first, n int, dir string) []stormTrial {
	experiments := []string{"network-partition", "http-errors", "backend-crash", "flapping-partition", "backend-latency"}
	if stack == "netns" {
		experiments = experiments[:4] // backend-latency needs Toxiproxy's latency toxic (tc netem on netns)
	}
	deal := func(k int) []int {
		var deck []int
		for len(deck) < n {
			deck = append(deck, rng.Perm(k)...)
		}
		return deck[:n]
	}
	sigs, targets := deal(len(stormSignals)), deal(len(stormTargets))
	var plan []stormTrial
	for i := range n {
		tr := stormTrial{n: first + i, stack: stack, sig: stormSignals[sigs[i]], target: stormTargets[targets[i]],
			experiment: experiments[rng.IntN(len(experiments))], frac: rng.Float64()}
		tr.args = stormArgs(filepath.Join(dir, tr.String()), tr.experiment, rng)
		plan = append(plan, tr)
	}
	return plan
}

// stormTally counts the interruptions by stack and signal, and by the phase they hit.
type stormTally struct {
	mu     sync.Mutex
	counts map[[3]string]int // stack, signal, phase hit
	exits  map[string][]time.Duration
}

func (st *stormTally) add(stack, sig, phase string, exit time.Duration) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.counts[[3]string{stack, sig, phase}]++
	st.exits[sig] = append(st.exits[sig], exit)
}

func (st *stormTally) table() string {
	phases := []string{"starting", "warmup", "experiment", "fault", "recovery", "done"}
	var b strings.Builder
	fmt.Fprintf(&b, "%-6s %-8s", "stack", "signal")
	for _, p := range phases {
		fmt.Fprintf(&b, " %10s", p)
	}
	fmt.Fprintf(&b, " %6s\n", "total")
	total := 0
	for _, stack := range []string{"local", "netns"} {
		for _, sig := range stormSignals {
			row, n := "", 0
			for _, p := range phases {
				c := st.counts[[3]string{stack, sigName(sig), p}]
				row += fmt.Sprintf(" %10d", c)
				n += c
			}
			if n > 0 {
				fmt.Fprintf(&b, "%-6s %-8s%s %6d\n", stack, sigName(sig), row, n)
				total += n
			}
		}
	}
	fmt.Fprintf(&b, "total interruptions: %d\n", total)
	for _, sig := range stormSignals {
		if d := st.exits[sigName(sig)]; len(d) > 0 {
			fmt.Fprintf(&b, "%s: chaoslab exited %v after the signal at most, %v on average\n",
				sigName(sig), slices.Max(d).Round(time.Millisecond), (sum(d) / time.Duration(len(d))).Round(time.Millisecond))
		}
	}
	return b.String()
}

func sum(ds []time.Duration) time.Duration {
	var s time.Duration
	for _, d := range ds {
		s += d
	}
	return s
}

func TestInterruptionStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("interrupts 24 lab runs (about 25 s, 50 s with -race)")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(envStormSeed); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", envStormSeed, s, err)
		}
	}
	t.Logf("interruption storm seed %d (replay with %s=%d)", seed, envStormSeed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	dir := t.TempDir()

	withNetns := netns.Preflight(context.Background()) == nil
	second := "local"
	if withNetns {
		second = "netns"
	} else {
		t.Log("netns.Preflight failed (not root, or no ip/iptables): both lanes on the local stack")
	}
	lanes := []*stormLane{
		{stack: "local", trials: stormPlan(rng, "local", 1, stormTrialsPerLane, dir)},
		{stack: second, trials: stormPlan(rng, second, stormTrialsPerLane+1, stormTrialsPerLane, dir)},
	}
	for _, l := range lanes {
		l.startup = map[string]time.Duration{"local": 30 * time.Millisecond, "netns": 300 * time.Millisecond}[l.stack] // until measured
	}
	tally := &stormTally{counts: map[[3]string]int{}, exits: map[string][]time.Duration{}}
	start := time.Now()
	t.Run("lanes", func(t *testing.T) {
		for i, lane := range lanes {
			t.Run(fmt.Sprintf("lane%d-%s", i+1, lane.stack), func(t *testing.T) {
				t.Parallel()
				for _, tr := range lane.trials {
					t.Run(tr.String(), func(t *testing.T) { runStormTrial(t, seed, tr, tally, lane) })
				}
				if lane.stack == "netns" {
					checkNetnsCleanup(t, seed, lane.pending)
				}
			})
		}
	})
	t.Logf("interruption storm, seed %d, %v:\n%s", seed, time.Since(start).Round(time.Second), tally.table())
	if left := stormProcs("storm-" + strconv.FormatUint(seed, 10) + "-"); len(left) > 0 {
		t.Errorf("processes of the storm still running at its end: %v", left)
	}
	if t.Failed() {
		t.Errorf("the interruption storm failed: replay it with %s=%d", envStormSeed, seed)
	}
}

// runStormTrial runs one interrupted run and checks what it left.
func runStormTrial(t *testing.T, seed uint64, tr stormTrial, tally *stormTally, lane *stormLane) {
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("[seed %d, trial %s] %s", seed, tr, fmt.Sprintf(format, args...))
	}
	out := tr.args[slices.Index(tr.args, "--out")+1]
	marker := fmt.Sprintf("storm-%d-%d", seed, tr.n)
	args := append([]string{tr.args[0], "--stack", tr.stack}, tr.args[1:]...)
	cmd, output, exited := startMarked(t, marker, args)
	defer killMarked(t, marker) // whatever a failed check left must not disturb the next trials

	// Wait for the moment, then the delay.
	span := tr.target.maxDelay
	if span == 0 {
		span = lane.startup
	}
	delay := time.Duration(tr.frac * float64(span))
	if err := waitStormAnchor(out, tr.target.name, exited); err != nil {
		fail("%v; output:\n%s", err, output.String())
		return
	}
	moment := time.Now().Add(delay)
	// The processes of the run before the signal: a process being killed stops showing its
	// environment (the marker) before it closes its files, so those must be followed by pid.
	seen := map[int]stormProc{}
	for _, p := range stormProcs(marker) {
		seen[p.pid] = p
	}
	select {
	case err := <-exited:
		fail("chaoslab exited (%v) %v into the %s phase, before the signal; output:\n%s", err, delay, tr.target.name, output.String())
		return
	case <-time.After(time.Until(moment)): // the random moment of the interruption
	}
	// Taken before the signal: chaoslab may handle it before this goroutine runs again, so an
	// event timed before sigAt surely came before the signal.
	sigAt := time.Now()
	if err := cmd.Process.Signal(tr.sig); err != nil {
		fail("signal: %v", err)
		return
	}

	bound := stormGracefulExit
	if tr.sig == syscall.SIGKILL {
		bound = stormOrphansGone
	}
	var err error
	select {
	case err = <-exited:
	case <-time.After(bound):
		fail("chaoslab did not exit within %v of %s; output:\n%s", bound, sigName(tr.sig), output.String())
		return
	}
	exitAfter := time.Since(sigAt)
	evs, _ := tryReadEvents(out)
	phase := stormPhaseAt(evs, sigAt)
	if d := stormStartup(evs); d > 0 {
		lane.startup = d
	}
	tally.add(tr.stack, sigName(tr.sig), phase, exitAfter)
	t.Logf("%s %v into %s: hit phase %s, chaoslab exited after %v (%v)", sigName(tr.sig), delay.Round(time.Millisecond), tr.target.name, phase, exitAfter.Round(time.Millisecond), err)

	// No process of the run remains: chaoslab has exited, and its services (found by the marker
	// they inherited) are gone. After SIGINT/SIGTERM chaoslab waited for them before exiting;
	// after SIGKILL the kernel kills them (Pdeathsig): give them stormOrphansGone.
	procsBound := time.Second
	if tr.sig == syscall.SIGKILL {
		procsBound = stormOrphansGone
	}
	if left := waitNoStormProcs(marker, seen, procsBound); len(left) > 0 {
		fail("%d processes of the run still running %v after chaoslab exited: %v", len(left), procsBound, left)
	}
	ids := stormTopologyIDs(output.String(), cmd.Process.Pid)
	if tr.stack == "netns" && strings.Contains(output.String(), "network namespaces ") {
		// This run made its topology, so its netns.CleanupLeftovers, which comes first, had
		// finished: the leftovers of the SIGKILLed runs before it are gone.
		if left := stormLeftovers(t, lane.pending); len(left) > 0 {
			fail("the leftovers of an earlier SIGKILLed run remain after this run's start: %v; output:\n%s", left, output.String())
		}
		lane.pending = nil
	}

	if tr.sig == syscall.SIGKILL {
		var ws syscall.WaitStatus
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			ws, _ = ee.Sys().(syscall.WaitStatus)
		}
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			fail("exit = %v, want killed by SIGKILL", err)
		}
		if tr.stack == "local" {
			// The fault API and Toxiproxy ran inside chaoslab, the services died with it: nothing
			// answers on the run's addresses any more.
			urls := stormURLs(output.String())
			for i, u := range urls {
				if c, err := net.DialTimeout("tcp", u, time.Second); err == nil {
					port := u[strings.LastIndexByte(u, ':')+1:]
					ss, _ := exec.Command("ss", "-tanpe", "( sport = :"+port+" or dport = :"+port+" )").CombinedOutput()
					ss = append(ss, fmt.Sprintf("dialled from %v\n", c.LocalAddr())...)
					c.Close()
					fail("the %s address %s still accepts connections after chaoslab was SIGKILLed (a port reused since?):\n%s",
						[]string{"client", "backend", "fault API"}[i], u, ss)
				}
			}
			return
		}
		if left := stormLeftovers(t, ids); len(left) > 0 {
			t.Logf("SIGKILL left %v (the next run removes it)", left)
		}
		lane.pending = append(lane.pending, ids...)
		return
	}

	// SIGINT or SIGTERM: exit status 1, the journal interrupted with its rollbacks done.
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	switch {
	case phase == "done" && (code == 0 || code == 1):
		// The run had ended when the signal came: it may pass (the interruption was too late to
		// count) or fail.
	case code != 1:
		fail("exit = %v (status %d), want status 1; output:\n%s", err, code, output.String())
	}
	stackUp := stormURLs(output.String()) != nil
	if stackUp {
		checkStormResults(t, fail, out, evs, sigAt, phase)
	}
	if tr.stack == "netns" {
		if left := stormLeftovers(t, ids); len(left) > 0 {
			fail("the run left %v behind after %s", left, sigName(tr.sig))
		}
	}
}

// checkStormResults checks the results of a run stopped by SIGINT or SIGTERM once its stack was up.
func checkStormResults(t *testing.T, fail func(string, ...any), out string, evs []results.Event, sigAt time.Time, phase string) {
	t.Helper()
	var info results.RunInfo
	if err := results.ReadJSONFile(filepath.Join(out, results.RunFile), &info); err != nil {
		fail("no run.json: %v", err)
		return
	}
	if !info.Interrupted && phase != "done" {
		fail("run.json does not say interrupted (problems %v)", info.Problems)
	}
	experimentStarted := false
	for _, e := range evs {
		if e.Kind == results.KindPhase && e.Phase == "experiment" && e.Time.Before(sigAt) {
			experimentStarted = true
		}
	}
	if experimentStarted {
		j := readJournal(t, out)
		ended := time.Time(j.End)
		if j.Status != "interrupted" && ended.After(sigAt) {
			fail("journal status %s (ended %v after the signal), want interrupted", j.Status, ended.Sub(sigAt))
		}
		for _, r := range j.Rollbacks {
			if r.Status != "succeeded" {
				fail("rollback %s: %s %v", r.Name(), r.Status, r.Exception)
			}
		}
		if _, on := lastFault(evs); on && j.Status == "interrupted" && len(j.Rollbacks) == 0 {
			fail("a fault was made but the interrupted journal has no rollback")
		}
	}
	if last, seen := lastFault(readEvents(t, out)); seen && last != "off" {
		fail("last fault event = %q, want off: the fault outlived the run", last)
	}
	// The pids the observations saw (the after snapshot is taken at every interruption, the
	// before one once the warm-up has passed) are gone.
	for _, name := range []string{results.BeforeSnapshot, results.AfterSnapshot} {
		var snap results.Snapshot
		if err := results.ReadJSONFile(filepath.Join(out, results.ObservationsDir, name), &snap); err != nil {
			if name == results.AfterSnapshot || !errors.Is(err, os.ErrNotExist) {
				fail("%v", err)
			}
			continue
		}
		for svc, s := range snap.Services {
			if s.PID != 0 && stormAlive(s.PID) {
				fail("%s (pid %d, %s) is still running after chaoslab exited", svc, s.PID, name)
			}
		}
	}
}

// checkNetnsCleanup: at the end of the netns lane, netns.CleanupLeftovers (what the next
// `chaoslab run --stack netns` calls first) removes whatever SIGKILLed runs left, lock files
// included.
func checkNetnsCleanup(t *testing.T, seed uint64, pending []string) {
	t.Helper()
	if len(pending) == 0 {
		return
	}
	removed, err := netns.CleanupLeftovers(context.Background(), nil)
	t.Logf("netns.CleanupLeftovers after the lane removed %v", removed)
	if err != nil {
		t.Errorf("[seed %d] netns.CleanupLeftovers: %v", seed, err)
	}
	if left := stormLeftovers(t, pending); len(left) > 0 {
		t.Errorf("[seed %d] after netns.CleanupLeftovers the SIGKILLed runs' %v remain", seed, left)
	}
}

// stormLeftovers lists the namespaces, veths and lock files of the given topology ids that exist.
func stormLeftovers(t *testing.T, ids []string) []string {
	t.Helper()
	var names []string
	for _, id := range ids {
		names = append(names, netns.NSPrefix+"client-"+id, netns.NSPrefix+"backend-"+id)
	}
	left := leftovers(t, names...)
	for _, id := range ids {
		if _, err := os.Stat(stormLockFile(id)); err == nil {
			left = append(left, "lock file of "+id)
		}
	}
	slices.Sort(left)
	return slices.Compact(left)
}

// stormLockDir is netns's lock directory (lockDir): a lock file holds its owner's pid.
const stormLockDir = "/run/chaoslab/netns"

func stormLockFile(id string) string { return filepath.Join(stormLockDir, id+".lock") }

// stormTopologyIDs are the topology ids a netns run made or was making: the one its output names
// and any whose lock file holds its pid (a run killed while creating its topology, before it
// printed the names, or while removing an earlier run's leftovers).
func stormTopologyIDs(output string, pid int) []string {
	var ids []string
	for _, m := range reNamespaces.FindAllStringSubmatch(output, -1) {
		ids = append(ids, m[1][strings.LastIndex(m[1], "-")+1:])
	}
	entries, _ := os.ReadDir(stormLockDir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(stormLockDir, e.Name()))
		if id, ok := strings.CutSuffix(e.Name(), ".lock"); ok && err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(pid) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

var reStackURLs = regexp.MustCompile(`client (http://\S+)  backend (http://\S+)  fault API (http://\S+)`)

// stormURLs are the host:port addresses a run printed once its stack was up (nil before).
func stormURLs(output string) []string {
	m := reStackURLs.FindStringSubmatch(output)
	if m == nil {
		return nil
	}
	var hosts []string
	for _, s := range m[1:] {
		if u, err := url.Parse(s); err == nil {
			hosts = append(hosts, u.Host)
		}
	}
	return hosts
}

// stormStartup is how long the stack took to start (0 if the run did not get that far).
func stormStartup(evs []results.Event) time.Duration {
	var starting, warmup time.Time
	for _, e := range evs {
		if e.Kind == results.KindPhase && e.Phase == "starting" {
			starting = e.Time
		}
		if e.Kind == results.KindPhase && e.Phase == "warmup" {
			warmup = e.Time
		}
	}
	if starting.IsZero() || warmup.IsZero() {
		return 0
	}
	return warmup.Sub(starting)
}

// stormPhaseAt says which phase of the run the signal hit, from the events' own times: the last
// phase entered before it, "fault" when a fault was on at that moment.
func stormPhaseAt(evs []results.Event, at time.Time) string {
	phase, fault := "starting", false
	for _, e := range evs {
		if e.Time.After(at) {
			continue
		}
		switch e.Kind {
		case results.KindPhase:
			phase = e.Phase
		case results.KindFault:
			fault = e.Action == "on"
		}
	}
	if phase == "experiment" && fault {
		return "fault"
	}
	return phase
}

// waitStormAnchor waits until the run writing dir reaches the target: the phase of that name,
// or the first fault "on" for "fault".
func waitStormAnchor(dir, target string, exited <-chan error) error {
	poll := 10 * time.Millisecond
	if target == "starting" {
		poll = time.Millisecond // the local stack starts in tens of milliseconds
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if evs, err := tryReadEvents(dir); err == nil {
			for _, e := range evs {
				if (target == "fault" && e.Kind == results.KindFault && e.Action == "on") ||
					(e.Kind == results.KindPhase && e.Phase == target) {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the run never reached %s within 60 s", target)
		}
		select {
		case err := <-exited:
			return fmt.Errorf("chaoslab exited (%v) before %s", err, target)
		case <-time.After(poll): // polling the events file
		}
	}
}

// startMarked runs the test binary as chaoslab with args, like startChaoslab, with
// envStormTrial=marker in its environment, which its services inherit.
func startMarked(t *testing.T, marker string, args []string) (*exec.Cmd, *syncBuffer, <-chan error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), envTestMain+"=1", envStormTrial+"="+marker)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited, waited := make(chan error, 1), make(chan struct{})
	go func() {
		exited <- cmd.Wait()
		close(waited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-waited
	})
	return cmd, out, exited
}

// stormProc is a live process of a trial.
type stormProc struct {
	pid     int
	cmdline string
}

func (p stormProc) String() string { return fmt.Sprintf("%d %q", p.pid, p.cmdline) }

// stormProcs lists the live processes (zombies excluded: they are dead, waiting for a parent to
// reap them) whose environment holds envStormTrial=marker, or a value starting with marker when
// it ends in "-". It reads /proc.
func stormProcs(marker string) []stormProc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := []byte("\x00" + envStormTrial + "=" + marker)
	var procs []stormProc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		environ, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		environ = append([]byte("\x00"), environ...)
		i := bytes.Index(environ, want)
		if i < 0 {
			continue
		}
		if rest := environ[i+len(want):]; !strings.HasSuffix(marker, "-") && len(rest) > 0 && rest[0] != 0 {
			continue // storm-1-1 is not storm-1-12
		}
		if !stormAlive(pid) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		procs = append(procs, stormProc{pid: pid, cmdline: strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))})
	}
	return procs
}

// waitNoStormProcs polls until no process of the trial runs, or bound passes; it returns those
// left. seen holds processes of the trial found earlier: they count until they are zombies or gone.
func waitNoStormProcs(marker string, seen map[int]stormProc, bound time.Duration) []stormProc {
	deadline := time.Now().Add(bound)
	for {
		for _, p := range stormProcs(marker) {
			seen[p.pid] = p
		}
		var left []stormProc
		for _, p := range seen {
			if stormAlive(p.pid) {
				left = append(left, p)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(20 * time.Millisecond) // polling /proc
	}
}

// stormAlive says whether a thread of pid still runs: the process exists and is not a zombie (a
// dead process nobody reaped yet). Every thread counts: a killed Go process's main thread may be a
// zombie while another thread is still exiting, holding the process's files (its listening socket).
func stormAlive(pid int) bool {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "task")
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(filepath.Join(dir, task.Name(), "stat"))
		if err != nil {
			continue
		}
		if f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])); len(f) > 0 && f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
}

// killMarked SIGKILLs whatever of a trial still runs (after a failed check), so that it does not
// disturb the trials after it.
func killMarked(t *testing.T, marker string) {
	for _, p := range stormProcs(marker) {
		t.Logf("killing %v, left by the trial", p)
		syscall.Kill(p.pid, syscall.SIGKILL)
	}
}
