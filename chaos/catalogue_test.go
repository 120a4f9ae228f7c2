package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"chaoslab/chaos"
	"chaoslab/internal/experiment"
	"chaoslab/internal/topology"
)

// catalogueRow is one row of the catalogue's table (issue 10): what each entry must say, and its
// parameters with their defaults.
type catalogueRow struct {
	name     string
	defaults string
	netns    bool           // runs on --stack netns
	params   map[string]any // configuration variables and their default values (numbers, or fault_target's name)
	topology string         // the topology its chaoslab extension names ("" = none): local, and k8s in its overlay's namespace
}

// target is the fault_target parameter of every entry whose fault is a Toxiproxy toxic, the
// partition or an HTTP fault: the hop the fault is put on, the backend's by default. A process
// fault's is the process it kills, processTarget by default.
const (
	target        = "backend"
	processTarget = "backend-service"
)

var catalogueTable = []catalogueRow{
	{"network-partition", "30 s", true, map[string]any{"partition_duration": 30.0, "fault_target": target}, ""},
	{"backend-latency", "1500 ms ± 200 ms for 30 s", false, map[string]any{"latency_ms": 1500.0, "jitter_ms": 200.0, "fault_duration": 30.0, "fault_target": target}, ""},
	{"backend-latency-within-timeout", "300 ms for 30 s", false, map[string]any{"latency_ms": 300.0, "jitter_ms": 0.0, "fault_duration": 30.0, "fault_target": target}, ""},
	{"http-errors", "30 % for 30 s", true, map[string]any{"error_percentage": 30.0, "error_status": 503.0, "fault_duration": 30.0, "fault_target": target}, ""},
	{"backend-crash", "restart after 15 s", true, map[string]any{"restart_after": 15.0, "fault_target": processTarget}, ""},
	{"flapping-partition", "3 s on, 3 s off, 5 cycles", true, map[string]any{"on_seconds": 3.0, "off_seconds": 3.0, "cycles": 5.0, "fault_target": target}, ""},
	{"slow-body", "1 KB/s for 30 s", false, map[string]any{"rate_kbps": 1.0, "fault_duration": 30.0, "fault_target": target}, ""},
	{"connection-reset", "30 s", false, map[string]any{"fault_duration": 30.0, "fault_target": target}, ""},
	{"retry-storm", "10 s outage, chain-3", false, map[string]any{"partition_duration": 10.0, "fault_target": target}, "chain-3"},
	{"capacity-drop", "4 times slower for 30 s, single", false, map[string]any{"service_time_factor": 4.0, "fault_duration": 30.0}, "single"},
	{"load-spike", "100 requests/s for 10 s, single", false, map[string]any{"spike_rate": 100.0, "fault_duration": 10.0}, "single"},
	{"metastable", "4 times slower for 10 s, then 30 s of watch, single", false, map[string]any{"service_time_factor": 4.0, "fault_duration": 10.0, "watch_duration": 30.0}, "single"},
}

// rowOf is the table's row of an entry.
func rowOf(t *testing.T, name string) catalogueRow {
	t.Helper()
	for _, r := range catalogueTable {
		if r.name == name {
			return r
		}
	}
	t.Fatalf("%s is not in the catalogue's table", name)
	return catalogueRow{}
}

// urlKeys are the configuration entries every experiment shares with the partition.
var urlKeys = map[string]string{
	"client_url":    "CHAOSLAB_CLIENT_URL",
	"backend_url":   "CHAOSLAB_BACKEND_URL",
	"toxiproxy_url": "CHAOSLAB_TOXIPROXY_URL",
}

// localFiles lists chaos/local/*.json on disk.
func localFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("local", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no experiments in chaos/local (%v)", err)
	}
	return files
}

// readDoc decodes an experiment generically (numbers as float64).
func readDoc(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}

func activities(doc map[string]any, key string) []map[string]any {
	var list []any
	if key == "steady-state-hypothesis" {
		h, _ := doc[key].(map[string]any)
		list, _ = h["probes"].([]any)
	} else {
		list, _ = doc[key].([]any)
	}
	var out []map[string]any
	for _, a := range list {
		if m, ok := a.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func provider(a map[string]any) map[string]any {
	p, _ := a["provider"].(map[string]any)
	return p
}

func httpMethod(p map[string]any) string {
	m, _ := p["method"].(string)
	if m == "" {
		return "GET"
	}
	return strings.ToUpper(m)
}

func TestCatalogueFilesValidate(t *testing.T) {
	partition := readDoc(t, filepath.Join("local", "network-partition-experiment.json"))
	for _, path := range localFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			exp, err := experiment.Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			notes, err := experiment.Validate(exp, experiment.Options{LookupEnv: noEnv})
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if len(notes) > 0 {
				t.Errorf("Validate notes (a pause that is text after substitution, or a python provider): %q", notes)
			}
			if err := experiment.CheckRunnable(exp); err != nil {
				t.Errorf("CheckRunnable: %v", err)
			}

			doc := readDoc(t, path)
			if d, _ := doc["description"].(string); len(strings.TrimSpace(d)) < 100 {
				t.Errorf("description is missing or too short to say what the fault does, what the patterns should do and what to look for: %q", d)
			}
			if tags, _ := doc["tags"].([]any); len(tags) == 0 || !slices.Contains(tags, any("chaoslab")) {
				t.Errorf("tags = %v, want some, including chaoslab", doc["tags"])
			}
			conf, _ := doc["configuration"].(map[string]any)
			pconf, _ := partition["configuration"].(map[string]any)
			for k, env := range urlKeys {
				entry, _ := conf[k].(map[string]any)
				if entry["type"] != "env" || entry["key"] != env {
					t.Errorf("configuration.%s = %v, want an env entry with key %s", k, conf[k], env)
				}
				if !reflect.DeepEqual(conf[k], pconf[k]) {
					t.Errorf("configuration.%s = %v, want the partition's %v", k, conf[k], pconf[k])
				}
			}
			if !reflect.DeepEqual(doc["steady-state-hypothesis"], partition["steady-state-hypothesis"]) {
				t.Errorf("steady-state-hypothesis differs from the partition's")
			}
			probes := activities(doc, "steady-state-hypothesis")
			if len(probes) == 0 {
				t.Errorf("no steady-state hypothesis probes")
			}
			for _, p := range probes {
				if _, ok := p["tolerance"]; !ok {
					t.Errorf("hypothesis probe %v has no tolerance", p["name"])
				}
			}
			if len(activities(doc, "method")) == 0 {
				t.Errorf("no method")
			}
			if len(activities(doc, "rollbacks")) == 0 {
				t.Errorf("no rollbacks")
			}
			checkPauses(t, doc, conf)
			checkURLs(t, doc)
			checkObjectives(t, doc)
		})
	}
}

// chaoslabExtension is an experiment's extension named chaoslab (nil without one).
func chaoslabExtension(doc map[string]any) map[string]any {
	exts, _ := doc["extensions"].([]any)
	for _, e := range exts {
		if ext, _ := e.(map[string]any); ext["name"] == "chaoslab" {
			return ext
		}
	}
	return nil
}

// writesTo says whether the method writes to the fault API path (after ${toxiproxy_url}).
func writesTo(doc map[string]any, path string) bool {
	for _, a := range activities(doc, "method") {
		p := provider(a)
		if httpMethod(p) != "GET" && p["url"] == "${toxiproxy_url}"+path {
			return true
		}
	}
	return false
}

// Every entry whose fault is a Toxiproxy toxic, the partition, an HTTP fault or a process
// fault takes fault_target (default backend, or backend-service for a process) and addresses its
// proxy, its injector or its process only through it, so --var fault_target=mid moves the fault
// to a tier (its hop, or its process) under a topology; the others say in their description why
// they have none.
func TestFaultTarget(t *testing.T) {
	for _, row := range catalogueTable {
		t.Run(row.name, func(t *testing.T) {
			path := filepath.Join("local", row.name+"-experiment.json")
			doc := readDoc(t, path)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(data), "/proxies/backend") {
				t.Error("a URL names proxy backend: use /proxies/${fault_target}")
			}
			if strings.Contains(string(data), "/processes/backend") {
				t.Error("a URL names process backend-service: use /processes/${fault_target}")
			}
			checkHTTPFaultTarget(t, doc)
			toxic := writesTo(doc, "/proxies/${fault_target}/toxics") || writesTo(doc, "/faults/flapping") || writesTo(doc, "/faults/http") ||
				writesTo(doc, "/processes/${fault_target}/kill")
			_, has := row.params["fault_target"]
			desc, _ := doc["description"].(string)
			switch {
			case toxic != has:
				t.Errorf("a fault at a hop or a process: %t; fault_target: %t; want both or neither", toxic, has)
			case has && !strings.Contains(desc, "--var fault_target=NAME"):
				t.Errorf("the description does not say how to target a tier (--var fault_target=NAME)")
			case !has && !strings.Contains(desc, "no fault_target"):
				t.Errorf("the description does not say that the fault cannot target a tier (no fault_target)")
			}
		})
	}
}

// checkHTTPFaultTarget checks that every call of the L7 injector's routes names its target:
// "target": "${fault_target}" in a fault it makes, ?target=${fault_target} on the others.
func checkHTTPFaultTarget(t *testing.T, doc map[string]any) {
	t.Helper()
	for _, key := range []string{"steady-state-hypothesis", "method", "rollbacks"} {
		for _, a := range activities(doc, key) {
			p := provider(a)
			url, _ := p["url"].(string)
			path, ok := strings.CutPrefix(url, "${toxiproxy_url}/faults/http")
			switch {
			case !ok:
			case httpMethod(p) == "POST":
				if args, _ := p["arguments"].(map[string]any); args["target"] != "${fault_target}" {
					t.Errorf("%s %v: an HTTP fault without \"target\": \"${fault_target}\"", key, a["name"])
				}
			case !strings.HasSuffix(path, "?target=${fault_target}"):
				t.Errorf("%s %v: %s %s does not name its target (?target=${fault_target})", key, a["name"], httpMethod(p), url)
			}
		}
	}
}

// An entry's topology (extensions[chaoslab].topology) is the table's and a built-in; the
// triggers of overload (a capacity fault, a load spike) run on a backend of finite capacity.
func TestCatalogueTopologies(t *testing.T) {
	for _, row := range catalogueTable {
		t.Run(row.name, func(t *testing.T) {
			doc := readDoc(t, filepath.Join("local", row.name+"-experiment.json"))
			got, _ := chaoslabExtension(doc)["topology"].(string)
			if got != row.topology {
				t.Fatalf("extensions[chaoslab].topology = %q, want %q", got, row.topology)
			}
			if got == "" {
				return
			}
			topo, err := topology.Load(got)
			if err != nil {
				t.Fatal(err)
			}
			if topo.Source != "built-in "+got {
				t.Errorf("topology %s comes from %s, want a built-in", got, topo.Source)
			}
			overload := writesTo(doc, "/faults/capacity") || writesTo(doc, "/faults/spike")
			if _, finite := topo.Backend["BACKEND_WORKERS"]; overload && !finite {
				t.Errorf("a capacity fault or a spike on topology %s, whose backend has no BACKEND_WORKERS", got)
			}
		})
	}
}

// checkPauses: a pause is a number, or a whole-string "${var}" naming a numeric configuration
// value (so its type survives substitution and --var name:int=N overrides it).
func checkPauses(t *testing.T, doc, conf map[string]any) {
	t.Helper()
	for _, key := range []string{"method", "rollbacks"} {
		for _, a := range activities(doc, key) {
			pauses, _ := a["pauses"].(map[string]any)
			for when, v := range pauses {
				switch v := v.(type) {
				case float64:
				case string:
					name, ok := strings.CutPrefix(v, "${")
					name, ok2 := strings.CutSuffix(name, "}")
					if _, isNum := conf[name].(float64); !ok || !ok2 || !isNum {
						t.Errorf("%s %v: pauses.%s = %q, want a number or \"${var}\" of a numeric configuration value", key, a["name"], when, v)
					}
				default:
					t.Errorf("%s %v: pauses.%s = %v, want a number", key, a["name"], when, v)
				}
			}
		}
	}
}

// checkURLs: every activity is an http provider to one of the three services, and anything but
// the fault API is only read.
func checkURLs(t *testing.T, doc map[string]any) {
	t.Helper()
	for _, key := range []string{"steady-state-hypothesis", "method", "rollbacks"} {
		for _, a := range activities(doc, key) {
			p := provider(a)
			url, _ := p["url"].(string)
			if p["type"] != "http" {
				t.Errorf("%s %v: provider type %v, want http (faults come only from the fault API)", key, a["name"], p["type"])
				continue
			}
			if !strings.HasPrefix(url, "${toxiproxy_url}/") && httpMethod(p) != "GET" {
				t.Errorf("%s %v: %s %s: only the fault API may be written to", key, a["name"], httpMethod(p), url)
			}
			if !strings.HasPrefix(url, "${toxiproxy_url}/") && !strings.HasPrefix(url, "${client_url}/") && !strings.HasPrefix(url, "${backend_url}/") {
				t.Errorf("%s %v: url %q is none of the lab's services", key, a["name"], url)
			}
			if _, ok := p["timeout"].(float64); !ok {
				t.Errorf("%s %v: provider has no numeric timeout", key, a["name"])
			}
		}
	}
}

func TestCatalogue(t *testing.T) {
	entries, err := chaos.Catalogue()
	if err != nil {
		t.Fatalf("Catalogue: %v", err)
	}
	var names []string
	for _, r := range catalogueTable {
		names = append(names, r.name)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name)
	}
	if !slices.Equal(got, names) {
		t.Fatalf("Catalogue names = %v, want %v", got, names)
	}
	if !slices.Equal(chaos.Names(), names) {
		t.Errorf("Names() = %v, want %v", chaos.Names(), names)
	}

	// Every file on disk is in the catalogue, and every entry has its file.
	var onDisk []string
	for _, f := range localFiles(t) {
		name, ok := strings.CutSuffix(filepath.Base(f), "-experiment.json")
		if !ok {
			t.Errorf("%s: not named <name>-experiment.json", f)
		}
		onDisk = append(onDisk, name)
	}
	slices.Sort(onDisk)
	sorted := slices.Sorted(slices.Values(names))
	if !slices.Equal(onDisk, sorted) {
		t.Errorf("files in chaos/local = %v, catalogue = %v: add the file to the order in chaos/embed.go, or the file for the name", onDisk, sorted)
	}

	const reason = "--stack netns has no Toxiproxy"
	const topoReason = "needs a topology"
	for i, e := range entries {
		row := catalogueTable[i]
		t.Run(e.Name, func(t *testing.T) {
			if want := "chaos/local/" + e.Name + "-experiment.json"; e.Path != want {
				t.Errorf("Path = %q, want %q", e.Path, want)
			}
			if e.Title == "" || e.Fault == "" || len(e.Data) == 0 || e.Unavailable == nil {
				t.Errorf("an empty field: %+v", e)
			}
			if e.Defaults != row.defaults {
				t.Errorf("Defaults = %q, want %q", e.Defaults, row.defaults)
			}
			wantStacks := []string{"local"}
			if row.netns {
				wantStacks = append(wantStacks, "netns")
			}
			wantStacks = append(wantStacks, "k8s") // every entry has its chaos/k8s file (a topology's: its overlay's namespace)
			if ok, why := e.Supports("k8s"); !ok || why != "" {
				t.Errorf("Supports(k8s) = %t, %q", ok, why)
			}
			if !slices.Equal(e.Stacks, wantStacks) {
				t.Errorf("Stacks = %v, want %v", e.Stacks, wantStacks)
			}
			switch {
			case row.netns && len(e.Unavailable) != 0:
				t.Errorf("Unavailable = %v, want none", e.Unavailable)
			case row.topology != "" && (len(e.Unavailable) != 1 || !strings.Contains(e.Unavailable["netns"], topoReason)):
				t.Errorf("Unavailable = %v, want only netns, saying %q", e.Unavailable, topoReason)
			case !row.netns && row.topology == "" && (len(e.Unavailable) != 1 || !strings.Contains(e.Unavailable["netns"], reason)):
				t.Errorf("Unavailable = %v, want only netns, saying %q", e.Unavailable, reason)
			}
			if ok, why := e.Supports("local"); !ok || why != "" {
				t.Errorf("Supports(local) = %t, %q", ok, why)
			}
			if ok, why := e.Supports("netns"); ok != row.netns || (ok == (why != "")) {
				t.Errorf("Supports(netns) = %t, %q; want %t and a reason only when false", ok, why, row.netns)
			}
			if ok, why := e.Supports("mars"); ok || !strings.Contains(why, "mars") {
				t.Errorf("Supports(mars) = %t, %q; want false, naming the stack", ok, why)
			}
			disk, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(e.Path)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(e.Data, disk) {
				t.Errorf("Data differs from %s on disk: the embedded copy is stale", e.Path)
			}
			if doc := readDoc(t, filepath.Join("..", e.Path)); doc["title"] != e.Title {
				t.Errorf("Title = %q, want the experiment's %q", e.Title, doc["title"])
			}
			l, ok := chaos.Lookup(e.Name)
			if !ok || !reflect.DeepEqual(l, e) {
				t.Errorf("Lookup(%q) = %+v, %t; want the catalogue's entry", e.Name, l, ok)
			}
		})
	}
	if _, ok := chaos.Lookup("no-such-fault"); ok {
		t.Errorf("Lookup(no-such-fault) found something")
	}
	// `chaoslab run` without an experiment runs the built-in partition: it must be the entry.
	if string(entries[0].Data) != chaos.LocalPartitionExperiment || entries[0].Path != chaos.LocalPartitionExperimentPath {
		t.Errorf("the built-in experiment is not the catalogue's network-partition entry")
	}
	// Entries share nothing: editing one does not change the next call's.
	entries[0].Stacks[0] = "changed"
	entries[0].Data[0] = 'X'
	again, err := chaos.Catalogue()
	if err != nil || again[0].Stacks[0] != "local" || again[0].Data[0] != '{' {
		t.Errorf("Catalogue returned shared slices")
	}
}

// injection is what a method activity put in place, and the rollback that removes it.
type injection struct {
	activity string
	undo     string // "METHOD url" of the rollback that removes it
}

// injections classifies every write to the fault API in the method. Anything it does not know
// is an error: a new kind of fault must teach this test its rollback. A method may end a fault
// it made itself (metastable ends its trigger, then watches): a rollback must still undo it.
func injections(t *testing.T, doc map[string]any) []injection {
	t.Helper()
	var out []injection
	made := map[string]bool{} // the undos of the faults the method made so far
	for _, a := range activities(doc, "method") {
		p := provider(a)
		method := httpMethod(p)
		if method == "GET" {
			continue
		}
		name, url := a["name"].(string), p["url"].(string)
		if a["type"] != "action" {
			t.Errorf("method %q: %s %s is a write, so it should be an action", name, method, url)
		}
		if h, _ := p["headers"].(map[string]any); p["arguments"] != nil && h["Content-Type"] != "application/json" {
			t.Errorf("method %q: no Content-Type: application/json header, so the arguments would be sent as a form", name)
		}
		args, _ := p["arguments"].(map[string]any)
		argName, _ := args["name"].(string)
		path, _ := strings.CutPrefix(url, "${toxiproxy_url}")
		var undo string
		switch {
		case method == "POST" && (path == "/proxies/${fault_target}/toxics" || path == "/faults/http" || path == "/faults/flapping" ||
			path == "/faults/capacity" || path == "/faults/spike"):
			if argName == "" {
				t.Errorf("method %q: POST %s without a name", name, url)
			}
			undo = "DELETE " + url + "/" + argName
			if target, ok := args["target"].(string); ok {
				undo += "?target=" + target
			}
		case method == "POST" && strings.HasPrefix(path, "/processes/") && strings.HasSuffix(path, "/kill"):
			undo = "POST " + strings.TrimSuffix(url, "/kill") + "/start"
		case made[method+" "+url]:
			continue // the method ends a fault of its own; its rollback is checked with the fault
		default:
			t.Errorf("method %q: %s %s is not a fault this test knows how to undo", name, method, url)
			continue
		}
		made[undo] = true
		out = append(out, injection{name, undo})
	}
	return out
}

func TestRollbacksUndoInjections(t *testing.T) {
	for _, path := range localFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			doc := readDoc(t, path)
			undos := map[string]bool{}
			for _, a := range activities(doc, "rollbacks") {
				p := provider(a)
				if a["type"] != "action" {
					t.Errorf("rollback %v should be an action", a["name"])
				}
				undos[httpMethod(p)+" "+p["url"].(string)] = true
			}
			inj := injections(t, doc)
			if len(inj) == 0 {
				t.Fatalf("the method injects no fault")
			}
			needed := map[string]bool{}
			for _, i := range inj {
				needed[i.undo] = true
				if !undos[i.undo] {
					t.Errorf("method %q is not undone: want a rollback %s", i.activity, i.undo)
				}
			}
			for u := range undos {
				if !needed[u] {
					t.Errorf("rollback %s undoes nothing the method did", u)
				}
			}
		})
	}
}

func TestCatalogueParameters(t *testing.T) {
	for _, row := range catalogueTable {
		t.Run(row.name, func(t *testing.T) {
			doc := readDoc(t, filepath.Join("local", row.name+"-experiment.json"))
			conf, _ := doc["configuration"].(map[string]any)
			for k, want := range row.params {
				if got := conf[k]; got != want {
					t.Errorf("configuration.%s = %v, want the plain value %v", k, got, want)
				}
			}
			for k := range conf {
				if _, isURL := urlKeys[k]; !isURL {
					if _, ok := row.params[k]; !ok {
						t.Errorf("configuration.%s is not a parameter of the table", k)
					}
				}
			}
			// Each number is used whole ("${name}", so its type survives), in a provider's
			// arguments or a pause; fault_target names a proxy or a process in the fault's URLs
			// (or the flapping partition's and the HTTP fault's arguments).
			data, _ := json.Marshal(map[string]any{"method": doc["method"]})
			for k, v := range row.params {
				ref := `"${` + k + `}"`
				if _, text := v.(string); text {
					ref = `${` + k + `}`
				}
				if !bytes.Contains(data, []byte(ref)) {
					t.Errorf("parameter %s is never used as %s in the method", k, ref)
				}
			}
		})
	}
}

// recorder is the three services at once: it answers everything 200 and records what the
// experiment sent to the fault API.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, path string
	body         any
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	data, _ := io.ReadAll(req.Body)
	var body any
	if len(data) > 0 {
		if err := json.Unmarshal(data, &body); err != nil {
			body = "not JSON: " + string(data)
		}
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, recorded{req.Method, req.URL.Path, body})
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{}`))
}

// substituteWhole replaces whole-string "${name}" values, as the Chaos Toolkit does (keeping the
// value's type), through v.
func substituteWhole(v any, vars map[string]any) any {
	switch v := v.(type) {
	case string:
		if name, ok := strings.CutPrefix(v, "${"); ok {
			if name, ok := strings.CutSuffix(name, "}"); ok {
				if val, ok := vars[name]; ok {
					return val
				}
			}
		}
		return v
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			out[k] = substituteWhole(e, vars)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = substituteWhole(e, vars)
		}
		return out
	}
	return v
}

// TestVarsReachProviders runs every experiment with experiment.Run (as `chaoslab run --stack
// none` and `chaos run` do) against a recorder standing in for the three services, every
// parameter overridden as --var would: the fault API must receive the overridden values, as
// numbers, and the pauses must take the overridden (zero) durations. (experiment.Validate does
// not expose the substituted document, so the run itself is the witness.)
func TestVarsReachProviders(t *testing.T) {
	overrides := map[string]any{
		"partition_duration": int64(0), "fault_duration": int64(0), "restart_after": int64(0),
		"latency_ms": int64(1234), "jitter_ms": int64(56), "error_percentage": int64(50),
		"error_status": int64(500), "on_seconds": int64(7), "off_seconds": int64(2),
		"cycles": int64(9), "rate_kbps": int64(7), "fault_target": "mid",
		"service_time_factor": int64(3), "spike_rate": int64(42), "watch_duration": int64(0),
	}
	for _, row := range catalogueTable {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("local", row.name+"-experiment.json")
			rec := &recorder{}
			srv := httptest.NewServer(rec)
			t.Cleanup(srv.Close)
			vars := map[string]any{}
			for k := range row.params {
				vars[k] = overrides[k]
			}
			exp, err := experiment.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			env := func(k string) (string, bool) {
				if slices.Contains(slices.Collect(maps.Values(urlKeys)), k) {
					return srv.URL, true
				}
				return "", false
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			j, err := experiment.Run(ctx, exp, experiment.Options{Vars: vars, LookupEnv: env})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if j.Status != experiment.StatusCompleted || j.Deviated {
				t.Fatalf("status %s, deviated %t", j.Status, j.Deviated)
			}
			for _, e := range append(slices.Clone(j.Run), j.Rollbacks...) {
				if e.Status != "succeeded" {
					t.Errorf("activity %s: %s %v", e.Name(), e.Status, e.Exception)
				}
			}
			if len(j.Rollbacks) == 0 {
				t.Errorf("no rollback ran")
			}
			// The defaults pause 15 s or more; only the crash's fixed 3 s check is left.
			if j.Duration > 10 {
				t.Errorf("the run took %.1f s: the pause overrides did not take", float64(j.Duration))
			}

			// What each write to the fault API should have carried, after substitution.
			vals := map[string]any{}
			for k, v := range vars {
				if n, ok := v.(int64); ok {
					v = float64(n) // as the recorder decodes numbers
				}
				vals[k] = v
			}
			want := map[string]any{}
			for _, a := range activities(readDoc(t, path), "method") {
				p := provider(a)
				if httpMethod(p) == "POST" {
					u, _ := strings.CutPrefix(p["url"].(string), "${toxiproxy_url}")
					if _, ok := vars["fault_target"]; ok {
						u = strings.ReplaceAll(u, "${fault_target}", vars["fault_target"].(string))
					}
					want[u] = substituteWhole(p["arguments"], vals)
				}
			}
			got := map[string]any{}
			rec.mu.Lock()
			for _, r := range rec.reqs {
				if r.method == "POST" && want[r.path] != nil {
					got[r.path] = r.body
				}
			}
			rec.mu.Unlock()
			if !reflect.DeepEqual(got, want) {
				t.Errorf("the fault API received\n%v\nwant\n%v", got, want)
			}
		})
	}
}

// An entry's call graph comes from its chaoslab extension: the live page and soak leave such
// entries to chaoslab run, which starts the graph.
func TestEntryTopology(t *testing.T) {
	entries, err := chaos.Catalogue()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range entries {
		got[e.Name] = e.Topology
	}
	for name, want := range map[string]string{"network-partition": "", "retry-storm": "chain-3", "metastable": "single", "load-spike": "single"} {
		if got[name] != want {
			t.Errorf("%s: Topology = %q, want %q", name, got[name], want)
		}
	}
}
