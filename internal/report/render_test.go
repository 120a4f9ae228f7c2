package report

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// node is an element of a parsed XHTML page.
type node struct {
	Name     string
	Attr     map[string]string
	Children []*node
	Text     string
}

// parseXHTML parses page strictly with encoding/xml: it fails on anything not well-formed.
func parseXHTML(t *testing.T, page []byte) *node {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(page)))
	d.Strict = true
	root := &node{Name: "#document"}
	stack := []*node{root}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("report.html is not well-formed: %v", err)
		}
		top := stack[len(stack)-1]
		switch tk := tok.(type) {
		case xml.StartElement:
			n := &node{Name: tk.Name.Local, Attr: map[string]string{}}
			for _, a := range tk.Attr {
				n.Attr[a.Name.Local] = a.Value
			}
			top.Children = append(top.Children, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.Text += string(tk)
		}
	}
	if len(stack) != 1 {
		t.Fatalf("report.html: %d elements left open", len(stack)-1)
	}
	return root
}

// all returns every descendant of n for which keep is true, in document order.
func (n *node) all(keep func(*node) bool) []*node {
	var out []*node
	for _, c := range n.Children {
		if keep(c) {
			out = append(out, c)
		}
		out = append(out, c.all(keep)...)
	}
	return out
}

func named(name string) func(*node) bool { return func(n *node) bool { return n.Name == name } }

func classed(name, class string) func(*node) bool {
	return func(n *node) bool { return n.Name == name && n.Attr["class"] == class }
}

func isMark(n *node) bool { return n.Name == "circle" && strings.HasPrefix(n.Attr["class"], "m-") }

func readTest(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRenderRun(t *testing.T) {
	dir := writeKnown(t)
	if err := Render(dir); err != nil {
		t.Fatal(err)
	}
	md := string(readTest(t, filepath.Join(dir, "report.md")))
	for _, want := range []string{
		"## 0. The run", "## 1. Hypothesis", "## 2. Steady state", "## 3. The fault and its verification",
		"### 4.1 Retry behaviour", "### 4.2 Circuit breaker transitions", "### 4.3 Fallbacks", "### 4.4 Pod status",
		"## 5. Metrics per phase", "## 6. Findings", "## 7. Follow-up actions", "## Definitions",
		"| fault → breaker OPEN | 2.20 s |", "| heal → breaker CLOSED | 9.80 s |",
		"| during | +2.0s … +15.0s | 8 | 87.5% | 87.5% | 12.5% (1 timeout) | 0 | 6.00 ms | 3.00 s | 3.00 s | 3.00 s | 0.00 ms | 0.86 (1 unknown) | 7 |",
		"**" + PassedText + "**", "| Recovery window | 10s | after the rollbacks |", "| Breaker wait | 10s | OPEN before HALF_OPEN, then 3 trial calls |",
		"| client-answers-200 | before | succeeded | yes |", "partition-is-in-effect", "scheduled arrival",
		"| +4.2s | T+2.2s | CLOSED | OPEN |", "with or without traffic", "nearest-rank",
		"| 1 | 4 | 600.0 ms | 1.00 s | 1.50 s | 1.00 s | 500.0 ms – 1.50 s | **1 (0 below, 1 above)** |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	a := known().analyze()
	doc := parseXHTML(t, readTest(t, filepath.Join(dir, "report.html")))
	svgs := doc.all(named("svg"))
	if len(svgs) != 1 {
		t.Fatalf("%d svg elements, want 1", len(svgs))
	}
	checks := []struct {
		name string
		got  int
		want int
	}{
		{"one mark per request", len(svgs[0].all(isMark)), len(a.Records)},
		{"one fault window", len(svgs[0].all(classed("rect", "fault"))), 1},
		{"one band rect per breaker interval", len(svgs[0].all(func(n *node) bool {
			return n.Name == "rect" && strings.HasPrefix(n.Attr["class"], "b-")
		})), len(a.Intervals)},
		{"OPEN intervals in the band", len(svgs[0].all(classed("rect", "b-open"))), 2},
		{"tables", min(len(doc.all(named("table"))), 6), 6},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %d, want %d", c.got, c.want)
			}
		})
	}
}

func TestRenderCompare(t *testing.T) {
	dir := t.TempDir()
	for sub, resilient := range map[string]bool{"baseline": false, "resilient": true} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		simulated(resilient, 1).write(t, filepath.Join(dir, sub))
	}
	if !IsCompareDir(dir) || IsCompareDir(filepath.Join(dir, "baseline")) {
		t.Fatal("IsCompareDir does not tell a compare folder from a run folder")
	}
	if err := Render(dir); err != nil {
		t.Fatal(err)
	}
	md := string(readTest(t, filepath.Join(dir, "report.md")))
	for _, want := range []string{"| | baseline | resilient |", "The baseline deviated, as expected", "### baseline", "### resilient",
		"| Recovered | yes | yes |", "PASSED"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	doc := parseXHTML(t, readTest(t, filepath.Join(dir, "report.html")))
	svgs := doc.all(named("svg"))
	if len(svgs) != 2 {
		t.Fatalf("%d svg elements, want 2", len(svgs))
	}
	for i, s := range svgs {
		if n := len(s.all(isMark)); n != 1400 {
			t.Errorf("svg %d: %d marks, want 1400", i, n)
		}
	}
	for _, sub := range []string{"baseline", "resilient"} {
		if _, err := os.Stat(filepath.Join(dir, sub, "report.html")); err != nil {
			t.Errorf("%s has no report of its own: %v", sub, err)
		}
	}
}

func TestRenderAggregatesLargeRuns(t *testing.T) {
	f := simulated(true, 2)
	big := f.recs
	for i := 1; len(big) <= MaxMarks; i++ { // several requests per scheduled start
		for _, r := range f.recs {
			r.Start = r.Start.Add(ms(float64(i)))
			big = append(big, r)
		}
	}
	f.recs = big
	dir := t.TempDir()
	f.write(t, dir)
	if err := Render(dir); err != nil {
		t.Fatal(err)
	}
	svg := parseXHTML(t, readTest(t, filepath.Join(dir, "report.html"))).all(named("svg"))[0]
	marks := svg.all(isMark)
	total := 0
	for _, m := range marks {
		n, err := strconv.Atoi(m.Attr["data-count"])
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if svg.Attr["data-aggregated"] != "true" || len(marks) >= len(big) || total != len(big) {
		t.Errorf("aggregated %s: %d marks standing for %d requests; want fewer marks standing for all %d",
			svg.Attr["data-aggregated"], len(marks), total, len(big))
	}
}

func TestRenderDegenerateRuns(t *testing.T) {
	tests := []struct {
		name string
		edit func(f *folder)
		want string
	}{
		{"no fault", func(f *folder) { f.events = nil }, "none recorded"},
		{"no requests, no run.json", func(f *folder) { f.run, f.recs = nil, nil }, "| before | — | 0 | n/a | n/a | n/a | 0 | n/a | n/a | n/a | n/a | n/a | n/a | 0 |"},
		{"baseline without breaker", func(f *folder) { f.run.Resilience = "off"; f.events = f.events[:1] }, "No breaker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			edited(tt.edit).write(t, dir)
			if err := Render(dir); err != nil {
				t.Fatal(err)
			}
			if md := string(readTest(t, filepath.Join(dir, "report.md"))); !strings.Contains(md, tt.want) || strings.Contains(md, "NaN") {
				t.Errorf("report.md lacks %q or has NaN:\n%s", tt.want, md)
			}
			page := readTest(t, filepath.Join(dir, "report.html"))
			if svgs := parseXHTML(t, page).all(named("svg")); len(svgs) != 1 || strings.Contains(string(page), "NaN") {
				t.Errorf("%d svg elements (want 1), or NaN in the page", len(svgs))
			}
		})
	}
}
