package lab

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"chaoslab/internal/load"
	"chaoslab/internal/results"
	"chaoslab/internal/stack"
)

// Tiered is a Stack that may start a call graph of client-service tiers instead of today's one
// client (Processes with a Topology). The runner records the graph in run.json and describes
// the client (resilience, retry schedule, breaker settings) by the first entry tier's variables.
type Tiered interface {
	// Graph is the call graph the stack starts (nil: today's two services) and the variables
	// the first entry tier runs with, given the run's client variables.
	Graph(clientEnv map[string]string) (*results.Topology, map[string]string)
}

// graphOf asks a Tiered stack for its graph; any other stack runs today's two services.
func graphOf(s Stack, clientEnv map[string]string) (*results.Topology, map[string]string) {
	if t, ok := s.(Tiered); ok {
		return t.Graph(clientEnv)
	}
	return nil, clientEnv
}

// Entry is an entry tier of a topology, as the load reaches it.
type Entry struct {
	Tier string // its name: Record.Tier of the requests sent to it
	URL  string // its base URL
}

// entryOf is the index of the entry request id goes to among n: round robin by id, request 1
// to the first.
func entryOf(id uint64, n int) int {
	if id == 0 {
		return 0
	}
	return int((id - 1) % uint64(n))
}

// EntryClient is the load's HTTP client for a topology: it sends request id (its
// results.RequestIDHeader) to entry (id-1) mod len(entries), whatever the target's host. Nil
// without entries: the load's own client, to its target.
func EntryClient(entries []Entry) (*http.Client, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	hosts := make([]string, len(entries))
	for i, e := range entries {
		u, err := url.Parse(e.URL)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("entry tier %s: bad URL %q", e.Tier, e.URL)
		}
		hosts[i] = u.Host
	}
	c := load.NewHTTPClient()
	c.Transport = spread{next: c.Transport, hosts: hosts}
	return c, nil
}

// spread sends each request to the host of its entry.
type spread struct {
	next  http.RoundTripper
	hosts []string
}

func (s spread) RoundTrip(req *http.Request) (*http.Response, error) {
	id, _ := strconv.ParseUint(req.Header.Get(results.RequestIDHeader), 10, 64)
	out := req.Clone(req.Context())
	out.URL.Host = s.hosts[entryOf(id, len(s.hosts))]
	out.Host = out.URL.Host
	return s.next.RoundTrip(out)
}

// TagEntry returns f, which now first sets each record's Tier to the entry EntryClient sent it
// to; f itself without entries.
func TagEntry(entries []Entry, f func(results.Record)) func(results.Record) {
	if len(entries) == 0 {
		return f
	}
	return func(r results.Record) {
		r.Tier = entries[entryOf(r.ID, len(entries))].Tier
		f(r)
	}
}

// tiersDetail is the line that says where a topology's tiers are, for the run's start.
func tiersDetail(s *stack.Stack) string {
	parts := make([]string, len(s.Tiers))
	for i, t := range s.Tiers {
		parts[i] = t.String()
	}
	return fmt.Sprintf("tiers %s  backend %s  fault API %s (proxies %s)", strings.Join(parts, ", "), s.BackendURL, s.FaultURL,
		strings.Join(s.Proxies(), ", "))
}
