package topology

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"chaoslab/internal/client"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/results"
)

var update = flag.Bool("update", false, "rewrite testdata/*.err from the current messages")

// Every bad file in testdata gives a usage error of one line, exactly the message in the .err
// file beside it.
func TestBadTopologies(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata (%v)", err)
	}
	for _, in := range files {
		t.Run(filepath.Base(in), func(t *testing.T) {
			_, err := Load(in)
			if err == nil {
				t.Fatal("loaded, want an error")
			}
			if cmdutil.ExitCode(err) != cmdutil.ExitUsage {
				t.Errorf("exit %d, want %d (usage)", cmdutil.ExitCode(err), cmdutil.ExitUsage)
			}
			got := err.Error() + "\n"
			if strings.Count(got, "\n") != 1 {
				t.Errorf("the message is not one line:\n%s", got)
			}
			golden := strings.TrimSuffix(in, ".yaml") + ".err"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("message:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// The built-ins load by name, are the files kept in the repository, and are named after them.
func TestBuiltins(t *testing.T) {
	if got := strings.Join(Names(), " "); got != "chain-3 fan-in single" {
		t.Fatalf("Names() = %s, want chain-3 fan-in single", got)
	}
	tests := []struct {
		name    string
		entries []string
		layers  [][]string
		bottom  []string
	}{
		{"chain-3", []string{"edge"}, [][]string{{"edge"}, {"mid"}, {"client"}, {"backend"}}, []string{"client", "mid", "edge"}},
		{"fan-in", []string{"caller-a", "caller-b", "caller-c"}, [][]string{{"caller-a", "caller-b", "caller-c"}, {"backend"}},
			[]string{"caller-a", "caller-b", "caller-c"}},
		{"single", []string{"client"}, [][]string{{"client"}, {"backend"}}, []string{"client"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topo, err := Load(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if topo.Name != tt.name || topo.Source != "built-in "+tt.name {
				t.Errorf("name %q, source %q", topo.Name, topo.Source)
			}
			if !slices.Equal(topo.Entries(), tt.entries) || !reflect.DeepEqual(topo.Layers(), tt.layers) {
				t.Errorf("entries %v, layers %v; want %v, %v", topo.Entries(), topo.Layers(), tt.entries, tt.layers)
			}
			var bottom []string
			for _, tr := range topo.BottomUp() {
				bottom = append(bottom, tr.Name)
			}
			if !slices.Equal(bottom, tt.bottom) {
				t.Errorf("BottomUp = %v, want %v", bottom, tt.bottom)
			}
			// The repository's file is the embedded one: loading it by path gives the same graph.
			byPath, err := Load(filepath.Join("..", "..", BuiltinPath(tt.name)))
			if err != nil {
				t.Fatalf("the repository's file: %v", err)
			}
			byPath.Source = topo.Source
			if !reflect.DeepEqual(byPath, topo) {
				t.Errorf("%s differs from the embedded built-in", BuiltinPath(tt.name))
			}
		})
	}
}

// The defaults: the name from the file, each tier calling the next, the last the backend;
// calls names any later tier (a fan-in onto a shared tier); Env lays a tier's variables over
// the run's; Record is what run.json keeps.
func TestDefaultsAndGraph(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shared.yaml")
	doc := "tiers:\n  - {name: a, calls: client, env: {RESILIENCE: retry}}\n  - {name: b, calls: client}\n  - {name: direct, calls: backend}\n  - {name: client}\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	topo, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if topo.Name != "shared" {
		t.Errorf("name = %q, want the file's base name", topo.Name)
	}
	if got := topo.Entries(); !slices.Equal(got, []string{"a", "b", "direct"}) {
		t.Errorf("entries = %v", got)
	}
	if got := topo.Layers(); !reflect.DeepEqual(got, [][]string{{"a", "b"}, {"direct", "client"}, {"backend"}}) {
		t.Errorf("layers = %v", got)
	}
	env := topo.Env("a", map[string]string{"RESILIENCE": "on", "RETRY_MAX_RETRIES": "2"})
	if !reflect.DeepEqual(env, map[string]string{"RESILIENCE": "retry", "RETRY_MAX_RETRIES": "2"}) {
		t.Errorf("Env(a) = %v", env)
	}
	rec := topo.Record()
	want := &results.Topology{Name: "shared", Entries: []string{"a", "b", "direct"}, Layers: topo.Layers(), Tiers: []results.Tier{
		{Name: "a", Calls: "client", Env: map[string]string{"RESILIENCE": "retry"}}, {Name: "b", Calls: "client"},
		{Name: "direct", Calls: "backend"}, {Name: "client", Calls: "backend"}}}
	if !reflect.DeepEqual(rec, want) {
		t.Errorf("Record() = %+v, want %+v", rec, want)
	}
}

// A JSON file is a topology too (JSON is YAML).
func TestJSONTopology(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pair.json")
	if err := os.WriteFile(path, []byte(`{"name":"pair","tiers":[{"name":"front"},{"name":"back","env":{"RETRY_MAX_RETRIES":"1"}}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	topo, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if topo.Tiers[0].Calls != "back" || topo.Tiers[1].Calls != "backend" || topo.Tiers[1].Env["RETRY_MAX_RETRIES"] != "1" {
		t.Errorf("topology = %+v", topo)
	}
}

// A name the topology accepts for a tier is a TIER client-service accepts, and one it refuses
// for its pattern client-service refuses too: the two rules cannot drift.
func TestTierNamesAreTIERValues(t *testing.T) {
	for _, name := range []string{"edge", "a", "mid-1", "caller_a", "v1.2", strings.Repeat("x", 63), "-edge", "edge-", "mid tier", strings.Repeat("x", 64), "é"} {
		t.Run(name, func(t *testing.T) {
			_, err := client.LoadConfig(func(k string) string {
				if k == "TIER" {
					return name
				}
				return ""
			})
			if ours := namePattern.MatchString(name); ours != (err == nil) {
				t.Errorf("topology accepts %q: %t; client-service: %v", name, ours, err)
			}
		})
	}
}

// An unknown reference is a usage error naming the built-ins.
func TestLoadUnknown(t *testing.T) {
	_, err := Load("chain-9")
	if err == nil || cmdutil.ExitCode(err) != cmdutil.ExitUsage || err.Error() != "topology chain-9: no such file, and not a built-in topology (chain-3, fan-in, single)" {
		t.Errorf("err = %v", err)
	}
}

// single is the backend of finite capacity the catalogue's triggers (capacity-drop,
// load-spike, metastable) describe: 4 workers, a queue of 50, exp:100ms, about 40 requests/s,
// half the lab's default load of 20/s; its one tier sets nothing, so --env and --compare's
// RESILIENCE reach it.
func TestSingleHasFiniteCapacity(t *testing.T) {
	topo, err := Load("single")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"BACKEND_WORKERS": "4", "BACKEND_QUEUE": "50", "BACKEND_SERVICE_TIME": "exp:100ms"}
	if !reflect.DeepEqual(topo.Backend, want) {
		t.Errorf("backend env = %v, want %v", topo.Backend, want)
	}
	if len(topo.Tiers) != 1 || len(topo.Tiers[0].Env) != 0 || topo.Tiers[0].Calls != results.BackendNode {
		t.Errorf("tiers = %+v, want one calling the backend with no variables of its own", topo.Tiers)
	}
	if env := topo.Env("client", map[string]string{"RESILIENCE": "retry"}); env["RESILIENCE"] != "retry" {
		t.Errorf("Env(client) = %v: the run's RESILIENCE does not reach the tier", env)
	}
}
