package live

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"chaoslab/internal/results"
)

// hostile is text a run may carry from outside: markup, quotes, template braces, and a newline
// followed by what would be a server-sent event of its own.
const hostile = "<script>alert(1)</script> \"q\" 'a' </svg> {{.X}}\nevent: done\ndata: {}"

const rawScript = "<script>alert(1)</script>"

// feedHostile feeds h a run whose every free text is hostile.
func feedHostile(h *Hub) {
	info := runInfo()
	info.Title = "Title " + hostile
	h.Info(info)
	h.Event(phaseEv(0, "experiment"))
	h.Event(activityEv(0.5, "activity "+hostile, "start", ""))
	h.Event(results.Event{Time: at(1), Kind: results.KindFault, Action: "on", Name: "fault " + hostile, Message: "message " + hostile})
	h.Event(activityEv(1, "activity "+hostile, "end", "failed"))
	h.Event(results.Event{Time: at(1.5), Kind: results.KindRetry, Attempt: 1, WaitMS: 10, RequestID: 2, Error: "retry " + hostile})
	h.Event(fallbackEv(2, 2, "fallback "+hostile))
	for i := range 5 {
		r := record(uint64(i+1), 0.2*float64(i), results.SourceFallback, time.Millisecond)
		r.Error = "record " + hostile
		h.Record(r)
	}
}

// TestHostilePage: the page's server-rendered title is escaped.
func TestHostilePage(t *testing.T) {
	h := NewHub()
	feedHostile(h)
	srv := httptest.NewServer(newHandler(Config{Hub: h}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	if strings.Contains(page, rawScript) || strings.Contains(page, "</svg>") {
		t.Errorf("the page holds hostile markup unescaped")
	}
	if n := strings.Count(page, "Title &lt;script&gt;alert(1)&lt;/script&gt;"); n != 2 {
		t.Errorf("the escaped title appears %d times, want 2 (<title> and <h1>)", n)
	}
}

// TestHostileStream: on /events the texts travel as JSON strings (no raw markup, no line break
// that could forge an event) and decode to exactly what was fed; the chart SVG is well-formed
// XML, one <svg> element whose <title> texts are escaped.
func TestHostileStream(t *testing.T) {
	h := NewHub()
	feedHostile(h)
	v, first := watchSnapshot(t, h)
	if strings.Contains(first.Data, "<") || strings.Contains(first.Data, "\n") {
		t.Errorf("the snapshot's data holds raw markup or a line break")
	}
	var snap state
	if err := json.Unmarshal([]byte(first.Data), &snap); err != nil {
		t.Fatal(err)
	}
	if snap.Info.Title != "Title "+hostile {
		t.Errorf("title = %q, want the fed text exactly", snap.Info.Title)
	}
	if len(snap.Activities) != 1 || snap.Activities[0].Name != "activity "+hostile {
		t.Errorf("activities = %+v, want the fed name exactly", snap.Activities)
	}
	var logText strings.Builder
	for _, l := range snap.Log {
		logText.WriteString(l.Text + l.Detail + "\n")
	}
	for _, want := range []string{"retry " + hostile, "fallback " + hostile} {
		if !strings.Contains(logText.String(), want) {
			t.Errorf("the log lines do not carry %q exactly: %s", want, logText.String())
		}
	}

	var ch chartMsg
	v.until(msgChart, &ch, func() bool { return strings.Contains(ch.SVG, `data-requests="5"`) })
	svg := ch.SVG
	if strings.Contains(svg, rawScript) || strings.Count(svg, "</svg>") != 1 || strings.Count(svg, "<svg") != 1 {
		t.Errorf("the chart holds hostile markup unescaped")
	}
	// app.js parses the chart as image/svg+xml: it must be well-formed XML with one root.
	dec := xml.NewDecoder(strings.NewReader(svg))
	dec.Strict = true
	depth, roots := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the chart is not well-formed XML: %v", err)
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if roots != 1 {
		t.Errorf("the chart has %d root elements, want 1", roots)
	}

	// A new hostile event arrives as one event message, not as a forged "done".
	h.Event(fallbackEv(3, 6, "late "+hostile))
	var ev eventMsg
	v.until(msgEvent, &ev, func() bool {
		return ev.Log != nil && strings.HasPrefix(ev.Log.Text, "Fallback") && strings.Contains(ev.Log.Text, "late ")
	})
	if !strings.HasSuffix(ev.Log.Text, "late "+hostile) {
		t.Errorf("log line = %q, want the fed error exactly", ev.Log.Text)
	}
	select {
	case m := <-v.msgs:
		if m.Type == msgDone {
			t.Errorf("a hostile text forged a done message")
		}
	default:
	}
}

// TestAppSetsTextNotMarkup: app.js never parses a run's text as HTML: no innerHTML, outerHTML,
// insertAdjacentHTML, document.write or eval; the only parser is the chart's, as XML, and it
// removes script and foreignObject elements before the chart is shown.
func TestAppSetsTextNotMarkup(t *testing.T) {
	b, err := assets.ReadFile("assets/app.js")
	if err != nil {
		t.Fatal(err)
	}
	js := string(b)
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "createContextualFragment", "srcdoc"} {
		if strings.Contains(js, bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
	if n := strings.Count(js, "parseFromString("); n != 1 || !strings.Contains(js, `parseFromString(svg, "image/svg+xml")`) {
		t.Errorf("app.js parses markup %d times; want only the chart, as image/svg+xml", n)
	}
	if !strings.Contains(js, `querySelectorAll("script, foreignObject")`) {
		t.Error("app.js does not strip script and foreignObject from the chart")
	}
	// Every write of a text goes through textContent; attributes set from data are dataset
	// entries or the report link, which must start with /results/.
	if m := regexp.MustCompile(`setAttribute\("(\w+)"`).FindAllStringSubmatch(js, -1); len(m) != 1 || m[0][1] != "href" ||
		!strings.Contains(js, `d.report.startsWith("/results/")`) {
		t.Errorf("app.js sets attributes %v; want only the report link's href, checked to start with /results/", m)
	}
}
