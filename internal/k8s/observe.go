package k8s

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"chaoslab/internal/results"
)

// podSelector selects the pods a run observes.
const podSelector = "app in (client-service,backend-service)"

// Observer follows the services' pods during a run: their phases, readiness, restarts and
// deletions become events (results.KindProcess: "kill" when a pod is deleted or its container
// restarts, "start" when a new pod or container is Ready again, "phase" when the phase changes),
// and every pod's log is streamed into the service's log file; the client's log lines become
// breaker, retry, fallback and attempt events through DecodeLogLine.
type Observer struct {
	cluster *Cluster
	events  *results.EventLog
	logs    map[string]io.Writer // app -> its log file
	since   time.Time
	logger  *slog.Logger
	problem func(format string, args ...any)

	selector string // the pods followed: podSelector, or a topology's apps (FollowTiers)
	tiered   bool   // a topology: pods are tagged by their TierLabel
	entry    string // with a topology: the tier whose breaker Breaker reports

	mu       sync.Mutex
	pods     map[string]*podState // by UID
	expected map[string]int       // app -> how many coming restarts of its container are the experiment's
	breaker  string
	streamWG sync.WaitGroup
}

type podState struct {
	name, app string
	tier      string // its TierLabel, with a topology
	phase     corev1.PodPhase
	ready     bool
	restarts  int32
	deleted   bool
	streamed  map[string]bool // container/restart count -> its log streamed
	killedAt  time.Time
}

// NewObserver makes an observer; logs maps each app (results.ClientService, BackendService) to
// where its pods' lines go. problem is told of what should fail the run (a container restart).
func NewObserver(c *Cluster, events *results.EventLog, logs map[string]io.Writer, logger *slog.Logger, problem func(string, ...any)) *Observer {
	return &Observer{cluster: c, events: events, logs: logs, since: time.Now(), logger: logger, problem: problem, pods: map[string]*podState{},
		selector: podSelector}
}

// FollowTiers makes the observer follow a topology's pods, before Run: those of apps (the
// backend's and every tier's app label). A tier's pod is known by its TierLabel: its
// client-service log goes to logs[<tier>], every record of it carries the tier (Event.Tier,
// when the record does not say it already), Running answers for the tier's name, and Breaker
// is entry's breaker.
func (o *Observer) FollowTiers(apps []string, entry string) {
	o.selector = "app in (" + strings.Join(apps, ",") + ")"
	o.tiered, o.entry = true, entry
}

// ExpectRestart says that the next restart of app's container is the experiment's doing (a
// kill through the fault sidecar): it is recorded, not a problem. It is not bounded in time: after
// a few kills the kubelet's back-off (10 s, 20 s, 40 s ... up to 5 min) delays the restart.
func (o *Observer) ExpectRestart(app string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.expected == nil {
		o.expected = map[string]int{}
	}
	o.expected[app]++
}

// Breaker is the client's (with a topology: the entry tier's) breaker state as its log last
// said ("" before any transition).
func (o *Observer) Breaker() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.breaker
}

// Run watches the pods until ctx ends, then waits for the log streams to drain.
func (o *Observer) Run(ctx context.Context) {
	defer o.streamWG.Wait()
	pods := o.cluster.Client.CoreV1().Pods(o.cluster.Namespace)
	for ctx.Err() == nil {
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: o.selector})
		if err != nil {
			if ctx.Err() == nil {
				o.logger.Warn("list pods", "error", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		for i := range list.Items {
			o.update(ctx, &list.Items[i], false)
		}
		w, err := pods.Watch(ctx, metav1.ListOptions{LabelSelector: o.selector, ResourceVersion: list.ResourceVersion})
		if err != nil {
			if ctx.Err() == nil {
				o.logger.Warn("watch pods", "error", err)
				sleep(ctx, time.Second)
			}
			continue
		}
		o.drain(ctx, w)
		w.Stop()
	}
}

func (o *Observer) drain(ctx context.Context, w watch.Interface) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, open := <-w.ResultChan():
			if !open {
				return
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			o.update(ctx, p, ev.Type == watch.Deleted)
		}
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podRestarts(p *corev1.Pod) (n int32, reason string) {
	for _, c := range p.Status.ContainerStatuses {
		n += c.RestartCount
		if t := c.LastTerminationState.Terminated; t != nil {
			reason = fmt.Sprintf("%s, exit code %d", t.Reason, t.ExitCode)
		}
	}
	return n, reason
}

// update records what changed in a pod since it was last seen. The first sight of a pod at
// start (initial) records nothing but its state.
func (o *Observer) update(ctx context.Context, p *corev1.Pod, deleted bool) {
	app := p.Labels["app"]
	now := time.Now()
	restarts, reason := podRestarts(p)
	ready := podReady(p)
	o.mu.Lock()
	st, seen := o.pods[string(p.UID)]
	if !seen {
		st = &podState{name: p.Name, app: app, phase: p.Status.Phase, ready: ready, restarts: restarts, streamed: map[string]bool{}}
		if o.tiered {
			st.tier = p.Labels[TierLabel]
		}
		o.pods[string(p.UID)] = st
	}
	var evs []results.Event
	add := func(action, msg string) {
		evs = append(evs, results.Event{Time: now, Kind: results.KindProcess, Action: action, Service: app, Message: msg})
	}
	if seen && p.Status.Phase != st.phase {
		add("phase", fmt.Sprintf("pod %s: phase %s -> %s", p.Name, st.phase, p.Status.Phase))
		st.phase = p.Status.Phase
	}
	if !seen && p.DeletionTimestamp != nil {
		st.deleted = true // already on its way out when the run began (a rollout's old pod): not the run's kill
	}
	if !st.deleted && (deleted || p.DeletionTimestamp != nil) {
		st.deleted, st.killedAt = true, now
		add("kill", fmt.Sprintf("pod %s deleted", p.Name))
	}
	if seen && restarts > st.restarts {
		st.killedAt = now
		switch {
		case o.expected[app] > 0:
			o.expected[app]--
			add("kill", fmt.Sprintf("pod %s: container killed by the experiment, restarted by the kubelet (%d restarts; last: %s)", p.Name, restarts, reason))
		default:
			add("kill", fmt.Sprintf("pod %s: container restarted (%d restarts; last: %s)", p.Name, restarts, reason))
			if o.problem != nil {
				o.problem("pod %s (%s) restarted during the run (%s): pods should remain running", p.Name, app, reason)
			}
		}
	}
	st.restarts = restarts
	if ready && !st.ready && !st.deleted {
		ev := results.Event{Time: now, Kind: results.KindProcess, Action: "start", Service: app, Message: fmt.Sprintf("pod %s ready", p.Name)}
		if !st.killedAt.IsZero() {
			ev.DurationMS = float64(now.Sub(st.killedAt)) / float64(time.Millisecond)
		} else if k := o.lastKill(app); !k.IsZero() {
			ev.DurationMS = float64(now.Sub(k)) / float64(time.Millisecond)
		}
		evs = append(evs, ev)
	}
	st.ready = ready && !st.deleted
	var streams []string
	for _, c := range p.Status.ContainerStatuses {
		key := fmt.Sprintf("%s/%d", c.Name, c.RestartCount)
		if !st.deleted && c.State.Running != nil && !st.streamed[key] {
			st.streamed[key] = true
			streams = append(streams, c.Name)
		}
	}
	tier := st.tier
	o.mu.Unlock()
	for _, e := range evs {
		o.events.Add(e)
	}
	for _, c := range streams {
		o.streamWG.Add(1)
		go func() {
			defer o.streamWG.Done()
			o.stream(ctx, p.Name, c, tier)
		}()
	}
}

// lastKill is the time of the last kill of any pod of app (a replacement pod is a new pod).
// o.mu must be held.
func (o *Observer) lastKill(app string) time.Time {
	var t time.Time
	for _, st := range o.pods {
		if st.app == app && st.killedAt.After(t) {
			t = st.killedAt
		}
	}
	return t
}

// stream follows one container's log: every line goes to its log file (from the container's
// start, as the local stack's files hold a service's whole life); the client's lines since the
// start of the run become events. The containers are named after their service in deploy/k8s
// (client-service, backend-service, and the backend's sidecar fault-proxy). tier is the pod's
// tier of a topology (""  without one): its client's lines go to that tier's log and their
// events carry it.
func (o *Observer) stream(ctx context.Context, pod, container, tier string) {
	app := container
	dest := app
	if tier != "" && app == results.ClientService {
		dest = tier
	}
	req := o.cluster.Client.CoreV1().Pods(o.cluster.Namespace).GetLogs(pod, &corev1.PodLogOptions{Follow: true, Container: container})
	rc, err := req.Stream(ctx)
	if err != nil {
		if ctx.Err() == nil {
			o.logger.Warn("stream pod log", "pod", pod, "error", err)
		}
		return
	}
	defer rc.Close()
	go func() { // a follow stream ends with the pod; end it with the run too
		<-ctx.Done()
		rc.Close()
	}()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		o.line(app, tier, dest, sc.Bytes())
	}
}

// line takes one line of a container's log: to the log file dest, and for the client's lines
// (of tier, with a topology) and the sidecar's fault records, into the events.
func (o *Observer) line(app, tier, dest string, line []byte) {
	o.write(dest, line)
	if app == FaultProxyContainer {
		// the sidecar's fault windows; its process records are not taken: the pod's
		// status says when the container was killed and when it was Ready again
		if e, ok := results.DecodeFaultLine(line); ok && e.Kind == results.KindFault && !e.Time.Before(o.since) {
			o.events.Add(e)
		}
		return
	}
	if app != results.ClientService {
		return
	}
	if e, ok := DecodeLogLine(line); ok && !e.Time.Before(o.since) {
		if e.Tier == "" {
			e.Tier = tier
		}
		if e.Kind == results.KindBreaker && (!o.tiered || e.Tier == o.entry) {
			o.mu.Lock()
			o.breaker = e.To
			o.mu.Unlock()
		}
		o.events.Add(e)
	}
}

func (o *Observer) write(app string, line []byte) {
	w := o.logs[app]
	if w == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(w, "%s\n", line)
}

// Running reports, per app (with a topology: per app or tier), whether a pod is Ready, and the
// restarts of its current pods.
func (o *Observer) Running(app string) (ready bool, restarts int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, st := range o.pods {
		if (st.app == app || (st.tier != "" && st.tier == app)) && !st.deleted {
			ready = ready || st.ready
			restarts += int(st.restarts)
		}
	}
	return ready, restarts
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
