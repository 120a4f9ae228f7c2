package live

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"chaoslab/internal/results"
	"chaoslab/internal/testutil"
)

// capacitySample is a reading of the backend's capacity model at second s.
func capacitySample(s float64, queued int, rejected, wasted int64) results.CapacitySample {
	return results.CapacitySample{Time: at(s), Workers: 2, QueueLimit: 100, QueueOrder: "fifo", ServiceTime: "5ms", Factor: 1,
		InService: 2, Queued: queued, Rejected: rejected, Completed: int64(s * 20), Wasted: wasted}
}

// feedCapacityRun feeds a run of 20 rps over 6 s whose backend is overloaded from +2 s to +3 s
// (the fault): errors then, queue and rejections up; a sample every second.
func feedCapacityRun(h *Hub) {
	info := runInfo()
	info.LoadTimeout = results.Duration(time.Second)
	h.Info(info)
	h.Capacity(capacitySample(0, 0, 0, 0))
	for i := range 120 {
		s := float64(i) / 20
		src := results.SourceBackend
		if s >= 2 && s < 3 {
			src = results.SourceError
		}
		h.Record(record(uint64(i+1), s, src, 3*time.Millisecond))
	}
	h.Event(faultEv(2, "on"))
	h.Event(faultEv(3, "off"))
	for s, q := range []int{0, 3, 90, 40, 0, 0} {
		h.Capacity(capacitySample(float64(s)+0.5, q, int64(10*s), int64(s)))
	}
}

// The hub draws the goodput and capacity chart with the report's code once there are samples:
// in the chart message and in a late viewer's snapshot; a run without samples has none.
func TestCapacityChartStreamed(t *testing.T) {
	h := NewHub()
	h.Info(runInfo())
	for i := range 10 {
		h.Record(record(uint64(i+1), 0.1*float64(i), results.SourceBackend, 2*time.Millisecond))
	}
	v, _ := watchSnapshot(t, h)
	var ch chartMsg
	v.until(msgChart, &ch, func() bool { return strings.Contains(ch.SVG, `data-requests="10"`) })
	if ch.Capacity != "" {
		t.Errorf("a run without capacity samples got a capacity chart: %.100s", ch.Capacity)
	}

	h = NewHub()
	feedCapacityRun(h)
	v, _ = watchSnapshot(t, h)
	v.until(msgChart, &ch, func() bool { return strings.Contains(ch.Capacity, `data-samples="7"`) })
	for _, want := range []string{`data-series="goodput"`, `data-series="queued"`, `data-series="rejected"`, `data-series="wasted"`, `data-tier="breaker"`, `class="fault"`} {
		if !strings.Contains(ch.Capacity, want) {
			t.Errorf("the capacity chart lacks %s", want)
		}
	}
	var snap state
	v2, first2 := watchSnapshot(t, h)
	v2.cancel()
	if err := json.Unmarshal([]byte(first2.Data), &snap); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(snap.CapacityChart, `data-samples="7"`) {
		t.Errorf("a late viewer's snapshot lacks the capacity chart: %.100q", snap.CapacityChart)
	}
}

// TestBrowserShowsCapacity reads the page in Chromium: the capacity chart is hidden until the
// first sample, then drawn under the timeline with every series and the breaker band; a new
// run without samples hides it again.
func TestBrowserShowsCapacity(t *testing.T) {
	ctx := testutil.Browser(t)
	h := NewHub()
	h.Info(runInfo())
	srv, err := Start(Config{Hub: h})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	testutil.Step(t, ctx, "load the page", chromedp.Navigate(srv.URL()), chromedp.WaitVisible(chromedp.ID("breaker")))
	testutil.Until[bool](t, ctx, "the stream is open", `document.querySelector("#conn").dataset.state === "live"`)
	h.Record(record(1, 0.1, results.SourceBackend, 2*time.Millisecond))
	testutil.Until[bool](t, ctx, "the timeline is drawn", `document.querySelector("#chart svg") !== null`)
	if hidden := testutil.Until[bool](t, ctx, "the capacity section", `document.querySelector("#capacity").hidden`); !hidden {
		t.Error("the capacity section shows before any sample")
	}

	feedCapacityRun(h)
	testutil.Until[bool](t, ctx, "the capacity chart", `!document.querySelector("#capacity").hidden && document.querySelector("#capacity-chart svg")?.dataset.samples === "7"`)
	series := testutil.Until[[]string](t, ctx, "its series", `[...document.querySelectorAll("#capacity-chart polyline")].map(p => p.dataset.series)`)
	if got := strings.Join(series, ","); got != "offered,goodput,queued,in-service,rejected,wasted,expired" {
		t.Errorf("series = %s", got)
	}
	if n := testutil.Until[int](t, ctx, "the goodput's seconds", `Number(document.querySelector("#capacity-chart polyline[data-series=goodput]").dataset.points)`); n != 6 {
		t.Errorf("the goodput has %d seconds, want the 6 whole seconds of load", n)
	}
	testutil.Until[bool](t, ctx, "the breaker band", `document.querySelector("#capacity-chart g.band[data-tier=breaker] rect.b-closed") !== null`)
	if w := testutil.Until[float64](t, ctx, "its width", `document.querySelector("#capacity-chart svg").getBoundingClientRect().width`); w < 300 {
		t.Errorf("the capacity chart is %g px wide: not laid out", w)
	}

	info := runInfo()
	info.Start = t0.Add(time.Hour) // another run: the page starts afresh
	h.Info(info)
	testutil.Until[bool](t, ctx, "a new run hides it", `document.querySelector("#capacity").hidden`)
}
