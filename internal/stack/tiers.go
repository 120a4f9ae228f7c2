package stack

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"chaoslab/internal/client"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/fault"
	"chaoslab/internal/results"
	"chaoslab/internal/topology"
)

// Tier is one running tier of a topology.
type Tier struct {
	Name  string // its TIER, its log (<name>.log) and the proxy in front of it
	URL   string // its base URL, reached directly (the load's and the probes' way in)
	Calls string // the tier it calls, or results.BackendNode
	Entry bool   // the load goes to it; an entry has no proxy: nothing calls it
	Proxy string // the Toxiproxy proxy in front of it, its callers' BACKEND_URL ("" for an entry)
}

// entryEnv is the variables of the client whose breaker the stack reports: today's client's, or
// the first entry tier's.
func entryEnv(cfg Config) map[string]string {
	if cfg.Topology == nil {
		return cfg.ClientEnv
	}
	return cfg.Topology.Env(cfg.Topology.Entries()[0], cfg.ClientEnv)
}

// startTiers starts a topology's tiers bottom up, each with its own variables over the run's,
// TIER, and BACKEND_URL pointing at the proxy in front of the node it calls: "backend" (already
// running, in front of the L7 injector) or the tier's own, added with an injector of its own
// once the tier listens (addHop). The entries have no proxy: the load and the probes reach them
// directly, as today's client.
func (s *Stack) startTiers(ctx context.Context, cfg Config, p *fault.Proxy, backendAddr string) error {
	topo := cfg.Topology
	entries := topo.Entries()
	hops := map[string]string{results.BackendNode: p.ListenAddr()} // node -> the address its callers dial
	s.urls = map[string]string{results.BackendService: "http://" + backendAddr}
	s.order, s.entry, s.clients = []string{results.BackendService}, entries[0], map[string]bool{}
	for _, tr := range topo.BottomUp() {
		listen := "127.0.0.1:0"
		if tr.Name == s.entry {
			listen = cfg.ClientAddr
		}
		env := topo.Env(tr.Name, cfg.ClientEnv)
		maps.Copy(env, map[string]string{"LISTEN_ADDR": listen, "BACKEND_URL": "http://" + hops[tr.Calls], "TIER": tr.Name,
			"LOG_LEVEL": "debug"}) // the attempt records, one per call, are at debug level
		addr, err := s.startProgram(ctx, cfg, results.ClientService, tr.Name, nil, env)
		if err != nil {
			return err
		}
		s.urls[tr.Name], s.clients[tr.Name] = "http://"+addr, true
		s.order = append(s.order, tr.Name)
		if !slices.Contains(entries, tr.Name) {
			if hops[tr.Name], err = s.addHop(p, tr.Name, addr); err != nil {
				return err
			}
		}
	}
	for _, tr := range topo.Tiers {
		t := Tier{Name: tr.Name, URL: s.urls[tr.Name], Calls: tr.Calls, Entry: slices.Contains(entries, tr.Name)}
		if !t.Entry {
			t.Proxy = tr.Name
		}
		s.Tiers = append(s.Tiers, t)
	}
	s.ClientURL, s.BackendURL = s.urls[s.entry], s.urls[results.BackendService]
	var entryURLs []string
	for _, t := range s.Entries() {
		entryURLs = append(entryURLs, t.URL)
	}
	s.faultAPI.SetClients(entryURLs...)
	return s.waitReady(ctx, cfg.StartupWait)
}

// addHop puts the data path in front of a called tier listening on addr, as in front of the
// backend: its callers -> Toxiproxy proxy name (TCP faults) -> an L7 injector (HTTP faults,
// target name) -> the tier. It returns the address the callers dial.
func (s *Stack) addHop(p *fault.Proxy, name, addr string) (string, error) {
	injector, injectorAddr, err := s.serveInjector(fault.HTTPFaultsConfig{Upstream: addr}, loopback)
	if err != nil {
		return "", err
	}
	if err := s.faultAPI.AddHTTPHop(name, injector); err != nil {
		return "", err
	}
	return p.AddProxy(name, "127.0.0.1:0", injectorAddr)
}

// Entries are the entry tiers, in the topology's order (nil without a topology).
func (s *Stack) Entries() []Tier {
	var out []Tier
	for _, t := range s.Tiers {
		if t.Entry {
			out = append(out, t)
		}
	}
	return out
}

// Proxies names the fault API's Toxiproxy proxies: "backend", then each tier's, in the
// topology's order.
func (s *Stack) Proxies() []string {
	out := []string{fault.ProxyName}
	for _, t := range s.Tiers {
		if t.Proxy != "" {
			out = append(out, t.Proxy)
		}
	}
	return out
}

// CheckTopology checks the values of every tier's variables (its own over runEnv, the run's
// --env, which passed CheckClientEnv; on k8s the ConfigMap's) as client-service will load them,
// so a bad one is a usage error naming the file and the field before anything starts. It also
// refuses a stack kind that cannot run a topology: local starts one, k8s runs the one deployed
// (deploy/overlays/chain-3), netns starts today's two services only.
func CheckTopology(topo *topology.Topology, runEnv map[string]string, kind string) error {
	if kind != "local" && kind != "k8s" {
		return cmdutil.Usagef("topology %s: --stack %s starts today's two services only; a topology runs on --stack local or k8s", topo.Source, kind)
	}
	for i, tr := range topo.Tiers {
		if _, err := client.LoadConfig(clientGetenv(topo.Env(tr.Name, runEnv))); err != nil {
			return cmdutil.Usagef("topology %s: tiers[%d].env (%s, over --env): %v", topo.Source, i, tr.Name, err)
		}
	}
	return nil // the backend's values were checked by topology.Parse: --env does not reach it
}

// String names the tier and where it is, for a person: "mid http://127.0.0.1:4242 (proxy mid)".
func (t Tier) String() string {
	switch {
	case t.Entry:
		return fmt.Sprintf("%s %s (entry)", t.Name, t.URL)
	default:
		return fmt.Sprintf("%s %s (proxy %s)", t.Name, t.URL, t.Proxy)
	}
}
