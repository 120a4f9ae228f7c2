package report

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/results"
)

// attemptEv is tier's call number n for request id, at second s.
func attemptEv(s float64, tier string, id uint64, n int) results.Event {
	return results.Event{Time: at(s), Kind: results.KindAttempt, Tier: tier, RequestID: id, Attempt: n, Outcome: results.OutcomeSuccess, DurationMS: 1}
}

// tierRec is request id at second s, sent to entry tier.
func tierRec(s float64, id uint64, tier, source string) results.Record {
	r := rec(s, ms(5), source, 1)
	r.ID, r.Tier = id, tier
	return r
}

// chainRun is a hand-made run of the chain edge -> mid -> backend, the fault from +2 s to +4 s.
// Before: requests 1 and 2, one call at each hop. During: requests 3 and 4, each 3 calls by
// edge and 3 by mid for each of those (9); request 5 dropped. After: request 6, one call at
// each hop. Noise that must not count: a probe's calls (id 0), calls of an id no request has,
// and mid's own breaker, retry and fallback records.
func chainRun() folder {
	f := known()
	f.run.Topology = &results.Topology{Name: "pair-chain", Entries: []string{"edge"}, Layers: [][]string{{"edge"}, {"mid"}, {"backend"}},
		Tiers: []results.Tier{{Name: "edge", Calls: "mid"}, {Name: "mid", Calls: "backend"}}}
	f.recs = []results.Record{tierRec(1, 1, "edge", results.SourceBackend), tierRec(1.5, 2, "edge", results.SourceBackend),
		tierRec(2.5, 3, "edge", results.SourceFallback), tierRec(3, 4, "edge", results.SourceBackend),
		tierRec(3.5, 5, "edge", results.SourceDropped), tierRec(5, 6, "edge", results.SourceBackend)}
	f.events = []results.Event{faultEv(2, "on"), faultEv(4, "off"),
		attemptEv(1, "edge", 1, 1), attemptEv(1, "mid", 1, 1), attemptEv(1.5, "edge", 2, 1), attemptEv(1.5, "mid", 2, 1),
		attemptEv(5, "edge", 6, 1), attemptEv(5, "mid", 6, 1),
		attemptEv(1.2, "mid", 0, 1), attemptEv(1.2, "mid", 99, 1), attemptEv(1.2, "edge", 99, 1),
		{Time: at(2.6), Kind: results.KindBreaker, Tier: "mid", From: "CLOSED", To: "OPEN"},
		{Time: at(2.7), Kind: results.KindBreaker, Tier: "edge", From: "CLOSED", To: "OPEN"},
		{Time: at(2.6), Kind: results.KindRetry, Tier: "mid", Attempt: 1, WaitMS: 10},
		{Time: at(2.6), Kind: results.KindFallback, Tier: "mid", RequestID: 3},
	}
	for _, id := range []uint64{3, 4} {
		start := 2.5 + float64(id-3)/2
		for n := 1; n <= 3; n++ {
			f.events = append(f.events, attemptEv(start+0.1*float64(n), "edge", id, n))
			for m := 1; m <= 3; m++ {
				f.events = append(f.events, attemptEv(start+0.1*float64(n), "mid", id, m))
			}
		}
	}
	return f
}

// phaseCells are a layer's three phases as (calls, requests).
type phaseCells [3][2]int

func cellsOf(l LayerStats) phaseCells {
	var c phaseCells
	for i, p := range l.Phases {
		c[i] = [2]int{p.Calls, p.Requests}
	}
	return c
}

// The calls per user request at each layer are the attempt records of the layer's callers
// joined by request id, counted by hand here; the other figures are the entry tier's alone.
func TestLayersOfAChain(t *testing.T) {
	a := chainRun().analyze()
	want := []struct {
		name    string
		callers []string
		cells   phaseCells
	}{
		{"edge", []string{}, phaseCells{{2, 2}, {2, 2}, {1, 1}}},
		{"mid", []string{"edge"}, phaseCells{{2, 2}, {6, 2}, {1, 1}}},
		{"backend", []string{"mid"}, phaseCells{{2, 2}, {18, 2}, {1, 1}}},
	}
	if len(a.Layers) != len(want) {
		t.Fatalf("layers = %+v", a.Layers)
	}
	for i, w := range want {
		l := a.Layers[i]
		if l.Name != w.name || !reflect.DeepEqual(l.Callers, w.callers) || cellsOf(l) != w.cells {
			t.Errorf("layer %d = %s called by %v, %v; want %s by %v, %v", i, l.Name, l.Callers, cellsOf(l), w.name, w.callers, w.cells)
		}
	}
	if v, _ := a.Layers[2].Phases[1].PerRequest(); v != 9 {
		t.Errorf("backend calls per user request during = %v, want 9", v)
	}
	// The entry tier's view: its own calls (3 + 3 during), its breaker only, no retry of mid's.
	if got := a.Calls[1].Attempts; got != 6 {
		t.Errorf("entry calls during = %d, want edge's 6", got)
	}
	if len(a.Transitions) != 1 || a.Transitions[0].At != 2700*time.Millisecond {
		t.Errorf("transitions = %+v, want edge's alone", a.Transitions)
	}
	if len(a.Retries) != 0 || a.Fallbacks.Requests != 1 {
		t.Errorf("retries %+v, fallback answers %d: want none of mid's records", a.Retries, a.Fallbacks.Requests)
	}
}

// A fan-in: the entries share a layer, each request counting once at the entry it went to;
// the breaker timeline is the first entry's.
func TestLayersOfAFanIn(t *testing.T) {
	f := known()
	f.run.Topology = &results.Topology{Name: "pair-fan-in", Entries: []string{"a", "b"}, Layers: [][]string{{"a", "b"}, {"backend"}},
		Tiers: []results.Tier{{Name: "a", Calls: "backend"}, {Name: "b", Calls: "backend"}}}
	f.recs = []results.Record{tierRec(1, 1, "a", results.SourceBackend), tierRec(1.1, 2, "b", results.SourceBackend),
		tierRec(1.2, 3, "a", results.SourceBackend), tierRec(1.3, 4, "b", results.SourceBackend)}
	f.events = []results.Event{attemptEv(1, "a", 1, 1), attemptEv(1.1, "b", 2, 1), attemptEv(1.2, "a", 3, 1), attemptEv(1.2, "a", 3, 2)}
	for n := 1; n <= 4; n++ {
		f.events = append(f.events, attemptEv(1.3, "b", 4, n))
	}
	f.events = append(f.events, results.Event{Time: at(1.5), Kind: results.KindBreaker, Tier: "b", From: "CLOSED", To: "OPEN"})
	a := f.analyze()
	if len(a.Layers) != 2 || cellsOf(a.Layers[0]) != (phaseCells{{4, 4}}) || cellsOf(a.Layers[1]) != (phaseCells{{8, 4}}) ||
		!reflect.DeepEqual(a.Layers[1].Callers, []string{"a", "b"}) {
		t.Errorf("layers = %+v", a.Layers)
	}
	if a.Calls[0].Attempts != 8 || len(a.Transitions) != 0 {
		t.Errorf("entry calls %d (want 8: both entries'), transitions %+v (want none: b's breaker is not the first entry's)", a.Calls[0].Attempts, a.Transitions)
	}
}

// The layers reach report.md, report.html, summary.json (and back) and the terminal summary,
// with their definition and the topology in the settings.
func TestLayersRendered(t *testing.T) {
	a := chainRun().analyze()
	dir := t.TempDir()
	if err := RenderAnalysis(dir, a); err != nil {
		t.Fatal(err)
	}
	md := string(readTest(t, filepath.Join(dir, results.ReportMarkdown)))
	for _, want := range []string{
		"| Topology | pair-chain: edge -> mid -> backend | entries: edge; the figures below are theirs |",
		"### 4.6 Calls per user request, by layer",
		"| edge | the load | 1.00 (2/2) | 1.00 (2/2) | 1.00 (1/1) |",
		"| mid | edge | 1.00 (2/2) | 3.00 (6/2) | 1.00 (1/1) |",
		"| backend | mid | 1.00 (2/2) | 9.00 (18/2) | 1.00 (1/1) |\n\n## 5. Metrics per phase",
		"- Calls per user request, by layer (a run with a topology)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	html := string(readTest(t, filepath.Join(dir, results.ReportHTML)))
	if !strings.Contains(html, `<tr><td><b>backend</b></td><td>mid</td><td class="num">1.00 (2/2)</td><td class="num">9.00 (18/2)</td><td class="num">1.00 (1/1)</td></tr>`) {
		t.Error("report.html lacks the backend's layer")
	}
	s, err := ReadSummaryJSON(filepath.Join(dir, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, NewSummary(a)) || s.Settings.Topology != "pair-chain" || len(s.Layers) != 3 ||
		s.Layers[2].During.Calls != 18 || *s.Layers[2].During.PerRequest != 9 || s.Layers[0].Callers == nil {
		t.Errorf("summary layers = %+v, topology %q", s.Layers, s.Settings.Topology)
	}
	var term bytes.Buffer
	WriteSummary(&term, a)
	for _, want := range []string{"calls per user request, by layer (calls/user requests), topology pair-chain:", "  backend  1.00 (2/2)  9.00 (18/2)  1.00 (1/1)\n"} {
		if !strings.Contains(term.String(), want) {
			t.Errorf("terminal summary lacks %q:\n%s", want, term.String())
		}
	}
}
