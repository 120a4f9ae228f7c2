package chaos_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"chaoslab/chaos"
	"chaoslab/internal/experiment"
	"chaoslab/internal/k8s"
	"chaoslab/internal/netpolicy"
	"chaoslab/internal/report"
)

// k8sFiles lists chaos/k8s/*.json on disk.
func k8sFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("k8s", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no experiments in chaos/k8s (%v)", err)
	}
	return files
}

// k8sConfig is every configuration entry a Kubernetes file may share: the partition's namespace
// and client URL, and the backend and fault API URLs of the port-forwards its description names.
var k8sConfig = map[string]map[string]any{
	"namespace":     {"type": "env", "key": "CHAOSLAB_NAMESPACE", "default": "chaoslab"},
	"client_url":    {"type": "env", "key": "CHAOSLAB_CLIENT_URL", "default": "http://localhost:8080"},
	"backend_url":   {"type": "env", "key": "CHAOSLAB_BACKEND_URL", "default": "http://localhost:8081"},
	"toxiproxy_url": {"type": "env", "key": "CHAOSLAB_TOXIPROXY_URL", "default": "http://127.0.0.1:8474"},
}

// portForwards is what a description must say for each URL it uses; with a topology, client_url
// is its entry tier's Service (entryServices).
var portForwards = map[string]string{
	"client_url":    "port-forward svc/client-service 8080:8080",
	"backend_url":   "port-forward svc/backend-service 8081:8081",
	"toxiproxy_url": "port-forward svc/backend-faults 8474",
}

// entryServices is the Service of each overlay's first entry tier (deploy/overlays), which
// client_url reaches.
var entryServices = map[string]string{"chain-3": "edge", "single": "client-service"}

// k8sTopology is the topology a Kubernetes file's chaoslab extension names ("" = none).
func k8sTopology(doc map[string]any) string {
	exts, _ := doc["extensions"].([]any)
	for _, e := range exts {
		if ext, _ := e.(map[string]any); ext["name"] == "chaoslab" {
			topo, _ := ext["topology"].(string)
			return topo
		}
	}
	return ""
}

// TestKubernetesFilesValidate: every file of chaos/k8s validates with chaoslab's validator, uses
// only http providers and chaosk8s functions that --stack k8s runs natively, has the partition's
// steady state, its configuration's URLs from the environment with port-forward defaults (named
// in the description), every ${var} defined and used, numeric pauses and timeouts, and objectives
// the report knows.
func TestKubernetesFilesValidate(t *testing.T) {
	seed := readDoc(t, k8sExperiment)
	for _, path := range k8sFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			exp, err := experiment.Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if _, err := experiment.Validate(exp, experiment.Options{LookupEnv: noEnv}); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if err := experiment.CheckRunnableWith(exp, &k8s.Activities{}); err != nil {
				t.Errorf("CheckRunnableWith the native chaosk8s functions: %v", err)
			}
			doc := readDoc(t, path)
			if !reflect.DeepEqual(doc["steady-state-hypothesis"], seed["steady-state-hypothesis"]) {
				t.Errorf("steady-state-hypothesis differs from %s's", k8sExperiment)
			}
			checkK8sConfig(t, path, doc)
			checkPauses(t, doc, doc["configuration"].(map[string]any))
			checkK8sProviders(t, doc)
			if tags, _ := doc["tags"].([]any); !slices.Contains(tags, any("kubernetes")) || !slices.Contains(tags, any("chaoslab")) {
				t.Errorf("tags = %v, want kubernetes and chaoslab among them", doc["tags"])
			}
			if d, _ := doc["description"].(string); len(d) < 300 {
				t.Errorf("description too short to say what the fault does, what to look for and how to reach the cluster: %q", d)
			}
			checkObjectives(t, doc)
		})
	}
}

// checkK8sConfig: shared entries are exactly k8sConfig's; every ${var} is defined and every entry
// used; the description names the port-forward of every URL.
func checkK8sConfig(t *testing.T, path string, doc map[string]any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	conf, _ := doc["configuration"].(map[string]any)
	used := map[string]bool{}
	for _, m := range varRef.FindAllStringSubmatch(string(data), -1) {
		used[m[1]] = true
		if _, ok := conf[m[1]]; !ok {
			t.Errorf("${%s} is not in the configuration", m[1])
		}
	}
	desc, _ := doc["description"].(string)
	if topo := k8sTopology(doc); topo != "" {
		o, ok := k8s.Overlays()[topo]
		if !ok || !strings.Contains(desc, "CHAOSLAB_NAMESPACE="+o.Namespace) || !strings.Contains(desc, "kubectl apply -k "+o.Path) {
			t.Errorf("topology %q: the description must name its overlay (kubectl apply -k %s) and its namespace (CHAOSLAB_NAMESPACE=%s)", topo, o.Path, o.Namespace)
		}
	}
	for k, v := range conf {
		if !used[k] {
			t.Errorf("configuration %s is never used", k)
		}
		want, shared := k8sConfig[k]
		if _, isNumber := v.(float64); !shared && !isNumber {
			t.Errorf("configuration %s = %v: want a number, or one of %v", k, v, slices.Sorted(maps.Keys(k8sConfig)))
		}
		if shared && !reflect.DeepEqual(v, any(want)) {
			t.Errorf("configuration %s = %v, want %v", k, v, want)
		}
		pf, ok := portForwards[k]
		if topo := k8sTopology(doc); topo != "" && k == "client_url" {
			pf = "port-forward svc/" + entryServices[topo] + " 8080:8080"
		}
		if ok && !strings.Contains(desc, pf) {
			t.Errorf("the description does not say %q for %s", pf, k)
		}
		if shared && k != "namespace" && !strings.Contains(desc, want["key"].(string)) {
			t.Errorf("the description does not name %s, which overrides %s", want["key"], k)
		}
	}
}

// checkK8sProviders: http providers go to the three URLs with a numeric timeout and write only
// to the fault API; python providers are chaosk8s functions --stack k8s runs natively.
func checkK8sProviders(t *testing.T, doc map[string]any) {
	t.Helper()
	native := &k8s.Activities{}
	for _, key := range []string{"steady-state-hypothesis", "method", "rollbacks"} {
		for _, a := range activities(doc, key) {
			p := provider(a)
			switch p["type"] {
			case "http":
				url, _ := p["url"].(string)
				if !strings.HasPrefix(url, "${toxiproxy_url}/") && !strings.HasPrefix(url, "${client_url}/") && !strings.HasPrefix(url, "${backend_url}/") {
					t.Errorf("%s %v: url %q is none of the lab's URLs", key, a["name"], url)
				}
				if !strings.HasPrefix(url, "${toxiproxy_url}/") && httpMethod(p) != "GET" {
					t.Errorf("%s %v: %s %s: only the fault API may be written to", key, a["name"], httpMethod(p), url)
				}
				if _, ok := p["timeout"].(float64); !ok {
					t.Errorf("%s %v: no numeric timeout", key, a["name"])
				}
			case "python":
				module, _ := p["module"].(string)
				fn, _ := p["func"].(string)
				if !strings.HasPrefix(module, "chaosk8s.") || !native.Supports(module, fn) {
					t.Errorf("%s %v: %s.%s is not a chaosk8s function chaoslab runs natively", key, a["name"], module, fn)
				}
				if args, _ := p["arguments"].(map[string]any); args["ns"] != "${namespace}" {
					t.Errorf("%s %v: ns = %v, want ${namespace}", key, a["name"], args["ns"])
				}
			default:
				t.Errorf("%s %v: provider type %v, want http or python (chaosk8s)", key, a["name"], p["type"])
			}
		}
	}
}

// checkObjectives: the chaoslab extension's objectives are ones the report judges.
func checkObjectives(t *testing.T, doc map[string]any) {
	t.Helper()
	exts, _ := doc["extensions"].([]any)
	for _, e := range exts {
		ext, _ := e.(map[string]any)
		if ext["name"] != "chaoslab" {
			continue
		}
		obj, ok := ext["objectives"].(map[string]any)
		if !ok || len(obj) == 0 {
			t.Errorf("extension chaoslab has no objectives")
			return
		}
		if _, err := report.ParseObjectives(obj); err != nil {
			t.Errorf("objectives: %v", err)
		}
		return
	}
	t.Error("no extension named chaoslab")
}

// TestKubernetesEntries: every catalogue name has its Kubernetes file, embedded as on disk, for
// the k8s stack only, naming the local entry's topology (found on the cluster in its overlay's
// namespace); the local entry lists k8s; nothing else is in chaos/k8s.
func TestKubernetesEntries(t *testing.T) {
	var onDisk []string
	for _, f := range k8sFiles(t) {
		name, ok := strings.CutSuffix(filepath.Base(f), "-experiment.json")
		if !ok {
			t.Errorf("%s: not named <name>-experiment.json", f)
		}
		onDisk = append(onDisk, name)
	}
	if want := slices.Sorted(slices.Values(chaos.Names())); !slices.Equal(onDisk, want) {
		t.Errorf("chaos/k8s holds %v, want one file per catalogue name %v", onDisk, want)
	}
	for _, name := range chaos.Names() {
		t.Run(name, func(t *testing.T) {
			e, ok := chaos.KubernetesEntry(name)
			if !ok {
				t.Fatalf("KubernetesEntry(%q) found nothing", name)
			}
			if want := "chaos/k8s/" + name + "-experiment.json"; e.Path != want || e.Name != name {
				t.Errorf("Path, Name = %q, %q; want %q, %q", e.Path, e.Name, want, name)
			}
			if !slices.Equal(e.Stacks, []string{"k8s"}) || e.Title == "" || e.Fault == "" || e.Defaults == "" {
				t.Errorf("entry %+v: want stacks [k8s] and a title, fault and defaults", e)
			}
			disk, err := os.ReadFile(filepath.Join("..", e.Path))
			if err != nil || !bytes.Equal(disk, e.Data) {
				t.Errorf("Data differs from %s on disk (%v): the embedded copy is stale", e.Path, err)
			}
			local, _ := chaos.Lookup(name)
			if !slices.Contains(local.Stacks, "k8s") {
				t.Errorf("the local entry's stacks %v lack k8s", local.Stacks)
			}
			if e.Topology != local.Topology || e.Topology != rowOf(t, name).topology {
				t.Errorf("topology %q, the local entry's %q", e.Topology, local.Topology)
			}
			if _, ok := k8s.Overlays()[e.Topology]; e.Topology != "" && !ok {
				t.Errorf("topology %q has no overlay in deploy/overlays (k8s.Overlays)", e.Topology)
			}
		})
	}
	if _, ok := chaos.KubernetesEntry("no-such-fault"); ok {
		t.Error("KubernetesEntry(no-such-fault) found something")
	}
}

// TestKubernetesNetworkPartitionIsTheSeed: chaos/k8s/network-partition-experiment.json is the
// seed's chaos/network-partition-experiment.json, byte for byte, with the chaoslab extension
// appended: the guide's file stays where it is, and the copy cannot drift from it.
func TestKubernetesNetworkPartitionIsTheSeed(t *testing.T) {
	seed, err := os.ReadFile(k8sExperiment)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := chaos.KubernetesEntry("network-partition")
	head := strings.TrimSuffix(strings.TrimRight(string(seed), "\n"), "}")
	if !strings.HasPrefix(string(e.Data), strings.TrimRight(head, "\n")) {
		t.Fatal("the copy does not start with the seed's text")
	}
	var copied, orig map[string]any
	if err := errors.Join(json.Unmarshal(e.Data, &copied), json.Unmarshal(seed, &orig)); err != nil {
		t.Fatal(err)
	}
	if _, ok := copied["extensions"]; !ok {
		t.Error("the copy has no extensions")
	}
	delete(copied, "extensions")
	if !reflect.DeepEqual(copied, orig) {
		t.Error("the copy without its extension differs from the seed")
	}
}

// TestKubernetesPartitionPolicies: every NetworkPolicy a Kubernetes file creates is the shipped
// partition policy, exactly (DESIGN.md §5: it must select the backend pods for Ingress).
func TestKubernetesPartitionPolicies(t *testing.T) {
	manifest, err := netpolicy.Parse(mustRead(t, filepath.Join("manifests", "partition-networkpolicy.yaml")))
	if err != nil || len(manifest) != 1 {
		t.Fatalf("the shipped policy: %v (%d policies)", err, len(manifest))
	}
	creates := 0
	for _, path := range k8sFiles(t) {
		for _, a := range activities(readDoc(t, path), "method") {
			if p := provider(a); p["func"] == "create_network_policy" {
				creates++
				raw, err := json.Marshal(p["arguments"].(map[string]any)["spec"])
				if err != nil {
					t.Fatal(err)
				}
				var inline networkingv1.NetworkPolicy
				if err := netpolicy.DecodeStrict(raw, &inline); err != nil {
					t.Fatalf("%s %v: %v", path, a["name"], err)
				}
				if !reflect.DeepEqual(inline, manifest[0]) {
					t.Errorf("%s %v: the policy differs from chaos/manifests/partition-networkpolicy.yaml", path, a["name"])
				}
			}
		}
	}
	if creates != 5 { // network-partition and retry-storm once each, flapping-partition three times
		t.Errorf("%d policies created, want 5", creates)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// k8sUndo is what a Kubernetes file's method leaves in place, as the rollbacks must undo it.
type k8sUndo struct {
	sidecar  map[string]string // "METHOD url" of the rollback that undoes a fault of the sidecar -> the activity
	policies map[string]string // NetworkPolicy name in place -> the activity that created it
	writes   bool              // the method writes to the sidecar's fault API
}

// k8sInjections walks the method in order. Anything it does not know is an error: a new kind
// of fault must teach this test its undo.
func k8sInjections(t *testing.T, doc map[string]any) k8sUndo {
	t.Helper()
	u := k8sUndo{sidecar: map[string]string{}, policies: map[string]string{}}
	killed := map[string]bool{}
	for _, a := range activities(doc, "method") {
		p := provider(a)
		name, _ := a["name"].(string)
		args, _ := p["arguments"].(map[string]any)
		if p["type"] == "python" {
			switch p["func"] {
			case "create_network_policy":
				meta, _ := args["spec"].(map[string]any)["metadata"].(map[string]any)
				u.policies[meta["name"].(string)] = name
			case "remove_network_policy":
				if _, ok := u.policies[args["name"].(string)]; !ok {
					t.Errorf("method %q removes policy %v, which is not in place", name, args["name"])
				}
				delete(u.policies, args["name"].(string))
			}
			continue
		}
		method, url := httpMethod(p), p["url"].(string)
		if method == "GET" {
			continue
		}
		u.writes = true
		path, _ := strings.CutPrefix(url, "${toxiproxy_url}")
		service := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(path, "/processes/"), "/kill"), "/start")
		switch {
		case method == "POST" && (path == "/proxies/backend/toxics" || path == "/faults/http" || path == "/faults/capacity" || path == "/faults/spike"):
			u.sidecar["DELETE "+url+"/"+args["name"].(string)] = name
		case method == "POST" && strings.HasPrefix(path, "/processes/") && strings.HasSuffix(path, "/kill"):
			if _, ok := args["restart_after"]; ok {
				t.Errorf("method %q: restart_after, which the sidecar refuses: the kubelet restarts the container", name)
			}
			killed[service] = true
			u.sidecar["POST "+strings.TrimSuffix(url, "/kill")+"/start"] = name
		case method == "POST" && strings.HasPrefix(path, "/processes/") && strings.HasSuffix(path, "/start"):
			if !killed[service] { // a wait for the kubelet's restart: it starts nothing
				t.Errorf("method %q waits for %s, which the method did not kill", name, service)
			}
		case method == "DELETE" && u.sidecar[method+" "+url] != "":
			// the method ends a fault itself (metastable's trigger); the rollback still must,
			// for a method stopped before it
		default:
			t.Errorf("method %q: %s %s is not a fault this test knows how to undo", name, method, url)
		}
	}
	return u
}

// TestKubernetesRollbacksUndo: the rollbacks undo each fault of the sidecar the method made,
// remove every NetworkPolicy the method left in place, end with POST /reset on the fault API
// whenever the method wrote to it, and do nothing else.
func TestKubernetesRollbacksUndo(t *testing.T) {
	for _, path := range k8sFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			doc := readDoc(t, path)
			u := k8sInjections(t, doc)
			if len(u.sidecar) == 0 && len(u.policies) == 0 {
				t.Fatal("the method leaves no fault to undo")
			}
			rollbacks := activities(doc, "rollbacks")
			seen := map[string]bool{}
			for i, a := range rollbacks {
				p := provider(a)
				if a["type"] != "action" {
					t.Errorf("rollback %v should be an action", a["name"])
				}
				if p["type"] == "python" {
					args, _ := p["arguments"].(map[string]any)
					if p["func"] != "remove_network_policy" || u.policies[args["name"].(string)] == "" {
						t.Errorf("rollback %v undoes nothing the method left in place", a["name"])
					}
					seen["policy "+args["name"].(string)] = true
					continue
				}
				call := httpMethod(p) + " " + p["url"].(string)
				if call == "POST ${toxiproxy_url}/reset" {
					if i != len(rollbacks)-1 {
						t.Errorf("POST /reset is rollback %d, want it last", i)
					}
				} else if u.sidecar[call] == "" {
					t.Errorf("rollback %s undoes nothing the method did", call)
				}
				seen[call] = true
			}
			for undo, act := range u.sidecar {
				if !seen[undo] {
					t.Errorf("method %q is not undone: want a rollback %s", act, undo)
				}
			}
			for policy, act := range u.policies {
				if !seen["policy "+policy] {
					t.Errorf("method %q leaves NetworkPolicy %s in place: want a rollback remove_network_policy", act, policy)
				}
			}
			if u.writes && !seen["POST ${toxiproxy_url}/reset"] {
				t.Error("the method writes to the fault API, but no rollback POSTs /reset")
			}
		})
	}
}
