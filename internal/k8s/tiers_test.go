package k8s

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"chaoslab/internal/results"
	"chaoslab/internal/topology"
)

func chain3(t *testing.T) *topology.Topology {
	t.Helper()
	topo, err := topology.Load("chain-3")
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// clientDeployment is a Deployment running client-service reading the ConfigMap, as
// deploy/overlays/chain-3's tiers: tier "" for the base's client-service.
func clientDeployment(name, app, tier string, env ...corev1.EnvVar) *appsv1.Deployment {
	d := deployment(name, 1, 1, 1)
	d.Status.UpdatedReplicas, d.Status.Replicas = 1, 1
	d.Spec.Template.Labels = map[string]string{"app": app}
	if tier != "" {
		d.Labels[TierLabel] = tier
		d.Spec.Template.Labels[TierLabel] = tier
	}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: TierContainer, Env: env,
		EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName}}}}}}
	return d
}

func labService(name, app, tier string) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "lab", Labels: map[string]string{"app": app}},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": app}, Ports: []corev1.ServicePort{{Name: ServicePort, Port: 8080}}}}
	if tier != "" {
		s.Labels[TierLabel] = tier
	}
	return s
}

func env(kv ...string) []corev1.EnvVar {
	var out []corev1.EnvVar
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, corev1.EnvVar{Name: kv[i], Value: kv[i+1]})
	}
	return out
}

// chain3Lab is a namespace that runs chain-3 as deploy/overlays/chain-3 deploys it: the base
// (client-service as the tier client, the backend with capacity) and the tiers edge and mid.
func chain3Lab() []runtime.Object {
	backend := deployment(BackendDeployment, 1, 1, 1)
	backend.Spec.Template.Labels = map[string]string{"app": BackendDeployment}
	backend.Spec.Template.Spec.Containers = []corev1.Container{{Name: results.BackendService,
		Env: env("PAYLOAD_BYTES", "2048", "BACKEND_WORKERS", "8", "BACKEND_QUEUE", "32", "BACKEND_SERVICE_TIME", "exp:2ms")}}
	backendSvc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: BackendSvcName, Namespace: "lab"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": BackendDeployment}, Ports: []corev1.ServicePort{{Name: ServicePort, Port: 8081}}}}
	return []runtime.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "lab"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: "lab"},
			Data: map[string]string{"BACKEND_URL": "http://backend-service:8081", "RESILIENCE": "on", "CB_WAIT_DURATION": "10s"}},
		backend, backendSvc,
		clientDeployment(ClientDeployment, ClientDeployment, "client", env("TIER", "client")...),
		labService(ClientServiceName, ClientDeployment, "client"),
		clientDeployment("edge", "edge", "edge", env("TIER", "edge", "BACKEND_URL", "http://mid:8080")...),
		labService("edge", "edge", "edge"),
		clientDeployment("mid", "mid", "mid", env("TIER", "mid", "BACKEND_URL", "http://client-service:8080")...),
		labService("mid", "mid", "mid"),
	}
}

// split sorts a lab's objects as WireTopology takes them.
func split(objs []runtime.Object) ([]appsv1.Deployment, []corev1.Service, map[string]map[string]string) {
	var deps []appsv1.Deployment
	var svcs []corev1.Service
	cms := map[string]map[string]string{}
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.Deployment:
			deps = append(deps, *o)
		case *corev1.Service:
			svcs = append(svcs, *o)
		case *corev1.ConfigMap:
			cms[o.Name] = o.Data
		}
	}
	return deps, svcs, cms
}

// TestWireTopology: chain-3 as the overlay deploys it is found tier by tier (Deployments,
// Services, apps, the entry), and recorded with the variables the cluster runs.
func TestWireTopology(t *testing.T) {
	topo := chain3(t)
	deps, svcs, cms := split(chain3Lab())
	w, problems := WireTopology(topo, deps, svcs, cms)
	if len(problems) > 0 {
		t.Fatalf("problems with a namespace that runs chain-3:\n%s", strings.Join(problems, "\n"))
	}
	want := []Tier{
		{Name: "edge", Calls: "mid", Entry: true, Deployment: "edge", App: "edge", Service: "edge", Env: map[string]string{}},
		{Name: "mid", Calls: "client", Deployment: "mid", App: "mid", Service: "mid", Env: map[string]string{}},
		{Name: "client", Calls: results.BackendNode, Deployment: ClientDeployment, App: ClientDeployment, Service: ClientServiceName, Env: map[string]string{}},
	}
	if !reflect.DeepEqual(w.Tiers, want) {
		t.Errorf("tiers\n%+v\nwant\n%+v", w.Tiers, want)
	}
	if got := w.Apps(); !slices.Equal(got, []string{"backend-service", "client-service", "edge", "mid"}) {
		t.Errorf("apps followed %v", got)
	}
	if got := w.Callers(results.BackendNode); len(got) != 1 || got[0].Name != "client" {
		t.Errorf("callers of the backend %+v, want the tier client", got)
	}
	rec := w.Record(topo)
	if rec.Name != "chain-3" || !slices.Equal(rec.Entries, []string{"edge"}) || len(rec.Layers) != 4 ||
		rec.BackendEnv["BACKEND_WORKERS"] != "8" || rec.BackendEnv["BACKEND_SERVICE_TIME"] != "exp:2ms" {
		t.Errorf("record %+v: want chain-3, entry edge, 4 layers, the cluster's backend capacity", rec)
	}
	for _, tr := range rec.Tiers {
		if tr.Env != nil {
			t.Errorf("tier %s recorded with variables %v: the overlay sets none but TIER and BACKEND_URL", tr.Name, tr.Env)
		}
	}
	cm := map[string]string{"RESILIENCE": "retry", "CB_WAIT_DURATION": "10s"}
	if got := w.EntryEnv(cm); !maps.Equal(got, cm) {
		t.Errorf("entry env %v, want the ConfigMap's %v", got, cm)
	}
}

// TestWireTopologyProblems: each way a namespace can fail to run the topology is named, with
// what to set.
func TestWireTopologyProblems(t *testing.T) {
	topo := chain3(t)
	find := func(objs []runtime.Object, kind, name string) runtime.Object {
		for _, o := range objs {
			m := o.(metav1.Object)
			if m.GetName() == name && reflect.TypeOf(o).Elem().Name() == kind {
				return o
			}
		}
		t.Fatalf("no %s %s", kind, name)
		return nil
	}
	cases := []struct {
		name   string
		topo   string // a topology file instead of chain-3
		change func(objs []runtime.Object) []runtime.Object
		want   []string
	}{
		{name: "a tier not deployed", change: func(objs []runtime.Object) []runtime.Object {
			return slices.DeleteFunc(objs, func(o runtime.Object) bool { d, ok := o.(*appsv1.Deployment); return ok && d.Name == "mid" })
		}, want: []string{"no Deployment of tier mid (label chaoslab.io/tier=mid)"}},
		{name: "two Deployments of a tier", change: func(objs []runtime.Object) []runtime.Object {
			return append(objs, clientDeployment("mid-2", "mid", "mid", env("TIER", "mid")...))
		}, want: []string{"2 Deployments of tier mid (label chaoslab.io/tier=mid): mid, mid-2; keep one"}},
		{name: "a wrong TIER", change: func(objs []runtime.Object) []runtime.Object {
			find(objs, "Deployment", "edge").(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Env[0].Value = "front"
			return objs
		}, want: []string{`Deployment edge (tier edge) runs with TIER="front": set TIER=edge`}},
		{name: "a tier calling the wrong Service", change: func(objs []runtime.Object) []runtime.Object {
			find(objs, "Deployment", "edge").(*appsv1.Deployment).Spec.Template.Spec.Containers[0].Env[1].Value = "http://client-service:8080"
			return objs
		}, want: []string{`Deployment edge (tier edge) calls mid, but its BACKEND_URL is "http://client-service:8080": set it to http://mid:8080`}},
		{name: "the ConfigMap's BACKEND_URL not the backend", change: func(objs []runtime.Object) []runtime.Object {
			find(objs, "ConfigMap", ConfigMapName).(*corev1.ConfigMap).Data["BACKEND_URL"] = "http://backend-service:9999"
			return objs
		}, want: []string{`Deployment client-service (tier client) calls backend, but its BACKEND_URL is "http://backend-service:9999": set it to http://backend-service:8081`}},
		{name: "a Service selecting other pods", change: func(objs []runtime.Object) []runtime.Object {
			find(objs, "Service", "mid").(*corev1.Service).Spec.Selector = map[string]string{"app": "edge"}
			return objs
		}, want: []string{"Service mid (tier mid) does not select the pods of Deployment mid"}},
		{name: "no Service of a tier", change: func(objs []runtime.Object) []runtime.Object {
			delete(find(objs, "Service", "edge").(*corev1.Service).Labels, TierLabel)
			return objs
		}, want: []string{"no Service of tier edge (label chaoslab.io/tier=edge)"}},
		{name: "the topology's variables not deployed", topo: "tiers:\n  - {name: edge, env: {RESILIENCE: retry}}\n  - {name: mid}\n  - {name: client}\nbackend: {env: {BACKEND_WORKERS: \"16\"}}\n",
			want: []string{`the topology sets RESILIENCE=retry for tier edge, Deployment edge runs with "on": set it there (kubectl -n lab set env deployment/edge RESILIENCE=retry)`,
				`the topology sets BACKEND_WORKERS=16 for the backend, Deployment backend-service runs with "8"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			topo := topo
			if tc.topo != "" {
				var err error
				if topo, err = topology.Parse([]byte(tc.topo), "test.yaml", "test"); err != nil {
					t.Fatal(err)
				}
			}
			objs := chain3Lab()
			if tc.change != nil {
				objs = tc.change(objs)
			}
			deps, svcs, cms := split(objs)
			_, problems := WireTopology(topo, deps, svcs, cms)
			all := strings.Join(problems, "\n")
			for _, want := range tc.want {
				if !strings.Contains(all, want) {
					t.Errorf("problems lack %q:\n%s", want, all)
				}
			}
			if len(problems) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%s", len(problems), len(tc.want), all)
			}
		})
	}
}

// TestPreflightTopology: on the cluster, a namespace that runs chain-3 passes; the base alone
// is told how to deploy the overlay and where; a tier not available is named with its pods.
func TestPreflightTopology(t *testing.T) {
	ctx := context.Background()
	topo := chain3(t)
	t.Run("deployed", func(t *testing.T) {
		c, _ := labCluster(chain3Lab()...)
		w, err := c.PreflightTopology(ctx, topo)
		if err != nil || len(w.Tiers) != 3 {
			t.Fatalf("PreflightTopology = %+v, %v", w, err)
		}
	})
	t.Run("only the base", func(t *testing.T) {
		c, _ := labCluster(healthyLab()...)
		_, err := c.PreflightTopology(ctx, topo)
		for _, want := range []string{"namespace lab does not run the topology chain-3 (built-in chain-3):", "no Deployment of tier edge",
			"deploy it: kubectl apply -k deploy/overlays/chain-3, then run with --namespace chaoslab-chain3"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err = %v, want it to contain %q", err, want)
			}
		}
	})
	t.Run("a tier not available", func(t *testing.T) {
		objs := chain3Lab()
		for _, o := range objs {
			if d, ok := o.(*appsv1.Deployment); ok && d.Name == "mid" {
				d.Status.AvailableReplicas = 0
			}
		}
		c, _ := labCluster(objs...)
		_, err := c.PreflightTopology(ctx, topo)
		if err == nil || !strings.Contains(err.Error(), "Deployment mid (tier mid) has 0 of 1 replicas available: kubectl -n lab get pods -l app=mid") {
			t.Errorf("err = %v, want the tier named with its pods", err)
		}
	})
}

// TestStackPrepareTopology: with a topology, Prepare finds it on the cluster and the runner is
// given its record and the entry tier's variables; without one, nothing of it (today's run).
func TestStackPrepareTopology(t *testing.T) {
	ctx := context.Background()
	c, cs := labCluster(chain3Lab()...)
	allow(cs)
	s := &Stack{Cluster: c, Topology: chain3(t)}
	env, err := s.Prepare(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, entry := s.Graph(env)
	if rec == nil || rec.Entry() != "edge" || entry["RESILIENCE"] != "on" || entry["BACKEND_URL"] != "" {
		t.Errorf("Graph = %+v, %v; want chain-3 entered at edge and the ConfigMap's variables", rec, entry)
	}

	plain := &Stack{Cluster: c}
	env, err = plain.Prepare(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec, entry := plain.Graph(env); rec != nil || !maps.Equal(entry, env) {
		t.Errorf("without a topology Graph = %+v, %v; want none and the client's variables", rec, entry)
	}

	onlyBase, cs := labCluster(healthyLab()...)
	allow(cs)
	cs.CoreV1().ConfigMaps("lab").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ConfigMapName, Namespace: "lab"}}, metav1.CreateOptions{})
	if _, err := (&Stack{Cluster: onlyBase, Topology: chain3(t)}).Prepare(ctx, nil); err == nil || !strings.Contains(err.Error(), "kubectl apply -k deploy/overlays/chain-3") {
		t.Errorf("Prepare on the base with chain-3: %v, want how to deploy the overlay", err)
	}
}

// TestRestartEveryTier: a compare's RESILIENCE reaches every Deployment that reads the
// ConfigMap (the tiers too), and only those.
func TestRestartEveryTier(t *testing.T) {
	ctx := context.Background()
	c, cs := labCluster(chain3Lab()...)
	var said []string
	if err := c.SetResilience(ctx, "run-cmp", "retry", func(s string) { said = append(said, s) }); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"edge", "mid", ClientDeployment, BackendDeployment} {
		d, err := cs.AppsV1().Deployments("lab").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		restarted := d.Spec.Template.Annotations[restartedAtAnnotation] != ""
		if restarted != (name != BackendDeployment) {
			t.Errorf("Deployment %s restarted: %t", name, restarted)
		}
	}
	if len(said) != 1 || !strings.Contains(said[0], "restarting Deployments client-service, edge, mid") {
		t.Errorf("said %q", said)
	}
}

func tierPod(name, app, tier string) *corev1.Pod {
	p := runningPod(name, app, true, 0)
	p.Status.ContainerStatuses[0].Name = TierContainer
	if tier != "" {
		p.Labels[TierLabel] = tier
	}
	return p
}

// TestObserverFollowsTiers: with a topology the observer follows every tier's pods (and no
// other app's), writes each tier's log to its own file, answers Running for a tier by name,
// tags every record of a tier's pod with its tier, and shows the entry tier's breaker only.
func TestObserverFollowsTiers(t *testing.T) {
	c, _ := labCluster(tierPod("edge-a", "edge", "edge"), tierPod("client-a", ClientDeployment, "client"),
		runningPod("backend-a", results.BackendService, true, 0), tierPod("other-a", "other", "other"))
	events := results.NewEventLog(nil)
	logs := map[string]*syncWriter{"edge": {}, "client": {}, results.ClientService: {}}
	obs := NewObserver(c, events, map[string]io.Writer{"edge": logs["edge"], "client": logs["client"], results.ClientService: logs[results.ClientService]},
		slog.New(slog.DiscardHandler), nil)
	obs.FollowTiers([]string{results.BackendService, ClientDeployment, "edge"}, "edge")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); obs.Run(ctx) }()
	defer func() { cancel(); <-done }()
	streamed := func(w *syncWriter) bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return strings.Contains(w.b.String(), "fake logs") // the fake clientset's log body
	}
	deadline := time.Now().Add(10 * time.Second)
	for !streamed(logs["edge"]) || !streamed(logs["client"]) {
		if time.Now().After(deadline) {
			t.Fatal("the tiers' logs were not streamed into their files within 10s")
		}
		time.Sleep(10 * time.Millisecond) // polling the observer's output
	}
	if streamed(logs[results.ClientService]) {
		t.Error("a tier's log went to client-service.log")
	}
	for name, want := range map[string]bool{"edge": true, "client": true, results.BackendService: true, "other": false, "mid": false} {
		if got, _ := obs.Running(name); got != want {
			t.Errorf("Running(%s) = %t, want %t", name, got, want)
		}
	}

	at := time.Now().Add(time.Second).UTC().Format(time.RFC3339Nano)
	obs.line(results.ClientService, "client", "client", []byte("time="+at+` level=WARN msg="CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN" event=breaker from=CLOSED to=OPEN`))
	if b := obs.Breaker(); b != "" {
		t.Errorf("breaker %q after the tier client's transition: the status line shows the entry's", b)
	}
	obs.line(results.ClientService, "edge", "edge", []byte(`{"time":"`+at+`","level":"WARN","msg":"x","event":"breaker","from":"CLOSED","to":"OPEN"}`))
	obs.line(results.ClientService, "edge", "edge", []byte("time="+at+` level=DEBUG msg="backend call" event=attempt attempt=1 outcome=failure duration_ms=1 request_id=7 tier=mid`))
	if b := obs.Breaker(); b != results.BreakerOpen {
		t.Errorf("breaker %q after the entry's transition, want OPEN", b)
	}
	var tiers []string
	for _, e := range events.Events() {
		if e.Kind != results.KindProcess {
			tiers = append(tiers, string(e.Kind)+"@"+e.Tier)
		}
	}
	if want := []string{"breaker@client", "breaker@edge", "attempt@mid"}; !slices.Equal(tiers, want) {
		t.Errorf("events by tier %q, want %q (a record's own tier kept)", tiers, want)
	}
}

// tieredRunner is a running chain-3 whose tiers answer /api/diagnostics/backend: the tier client
// (the backend's caller) with unreachable, the others (their next tier) with reachable.
func tieredRunner(t *testing.T) *verifyRun {
	t.Helper()
	v, _ := verifyRunner(t, -1) // the plain client: never asked with a topology
	deps, svcs, cms := split(chain3Lab())
	w, problems := WireTopology(chain3(t), deps, svcs, cms)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	v.wiring, v.tiers = w, map[string]*Proxy{}
	for _, tr := range w.Tiers {
		reachable := tr.Calls != results.BackendNode
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Content-Type", "application/json")
			json.NewEncoder(rw).Encode(map[string]any{"reachable": reachable, "error": "connect: connection refused"})
		}))
		t.Cleanup(srv.Close)
		v.tiers[tr.Name] = &Proxy{URL: srv.URL}
	}
	v.client = v.tiers["edge"]
	v.backend, v.faults = &Proxy{URL: "http://backend.invalid"}, &Proxy{URL: "http://faults.invalid"}
	return v
}

// TestTieredRunVerifiesAtTheBackendsCaller: with chain-3 the partition at the backend is proven
// by the tier that calls it (client), not by the entry (edge still reaches mid).
func TestTieredRunVerifiesAtTheBackendsCaller(t *testing.T) {
	r := tieredRunner(t)
	r.created("NetworkPolicy", "lab", "p")
	r.verifyWG.Wait()
	if r.inconclusive() || len(r.problems) != 0 {
		t.Errorf("inconclusive %t problems %q, want the partition proven through the tier client", r.inconclusive(), r.problems)
	}
	verified := slices.ContainsFunc(r.events.Events(), func(e results.Event) bool {
		return e.Kind == results.KindFault && e.Action == "verified" && strings.Contains(e.Message, "tier client: connect: connection refused")
	})
	if !verified {
		t.Errorf("no verified event naming the tier client: %+v", r.events.Events())
	}
}

// TestTieredRunEndpoints: the load and the experiment reach the entry tier; the line at the start
// names every tier and what it calls.
func TestTieredRunEndpoints(t *testing.T) {
	r := tieredRunner(t)
	ep := r.Endpoints()
	if ep.Client != r.tiers["edge"].URL || len(ep.Entries) != 1 || ep.Entries[0].Tier != "edge" || ep.Entries[0].URL != ep.Client {
		t.Errorf("endpoints %+v: want the load and the probes at edge", ep)
	}
	for _, want := range []string{"edge " + r.tiers["edge"].URL + " (entry, calls mid)", "mid " + r.tiers["mid"].URL + " (calls client)",
		"client " + r.tiers["client"].URL + " (calls backend)"} {
		if !strings.Contains(ep.Detail, want) {
			t.Errorf("detail %q lacks %q", ep.Detail, want)
		}
	}
	if got := len(r.clients()); got != 3 {
		t.Errorf("%d clients whose attempt records the run turns on, want every tier", got)
	}
}

// TestTieredRunRefusesATierFault: a change to a fault proxy other than the backend's (a fault
// at a tier, as on the local stack) fails the run with what to do; the backend's does not, nor
// does reading.
func TestTieredRunRefusesATierFault(t *testing.T) {
	r := tieredRunner(t)
	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodPost, "/proxies/backend/toxics", nil),
		httptest.NewRequest(http.MethodGet, "/proxies/mid", nil),
		httptest.NewRequest(http.MethodPost, "/faults/http", nil),
		httptest.NewRequest(http.MethodDelete, "/faults/http/x?target=backend", nil),
		httptest.NewRequest(http.MethodPost, "/processes/backend-service/kill", nil),
		httptest.NewRequest(http.MethodPost, "/reset", nil),
	} {
		r.tierFault(req)
	}
	if len(r.problems) != 0 {
		t.Fatalf("problems %q for the backend's faults", r.problems)
	}
	for _, tc := range []struct{ method, path, want string }{
		{http.MethodPost, "/proxies/mid/toxics", "POST /proxies/mid/toxics: a fault at mid: on --stack k8s faults are at the backend only"},
		{http.MethodPost, "/processes/edge/kill", "POST /processes/edge/kill: a fault at edge"},
		{http.MethodDelete, "/faults/http/x?target=client", "DELETE /faults/http/x: a fault at client"},
	} {
		r.problems = nil
		r.tierFault(httptest.NewRequest(tc.method, tc.path, nil))
		if len(r.problems) != 1 || !strings.Contains(r.problems[0], tc.want) {
			t.Errorf("%s %s: problems %q, want %q", tc.method, tc.path, r.problems, tc.want)
		}
	}
}
