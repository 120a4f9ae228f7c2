package live

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"chaoslab/internal/results"
	"chaoslab/internal/testutil"
)

// TestBrowserShowsAPartition feeds a partition to a hub and reads the page in Chromium: the
// breaker, the counters, the chart, the escaped texts, the buttons and the link to the report.
func TestBrowserShowsAPartition(t *testing.T) {
	ctx := testutil.Browser(t)
	dir := t.TempDir()
	run := filepath.Join(dir, "run")
	if err := os.MkdirAll(run, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(run, results.ReportHTML), []byte("<!DOCTYPE html><title>the report</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := NewHub()
	h.Info(runInfo())
	fa := &fakeActions{}
	srv, err := Start(Config{Hub: h, Actions: fa, ResultsDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())

	testutil.Step(t, ctx, "load the page", chromedp.Navigate(srv.URL()), chromedp.WaitVisible(chromedp.ID("breaker")))
	testutil.Until[bool](t, ctx, "the stream is open", `document.querySelector("#conn").dataset.state === "live"`)

	// The fault: the breaker opens, the client answers fallbacks; one error text carries markup.
	const evil = `<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"> "quoted" 'too'`
	h.Event(phaseEv(0, "experiment"))
	for i := range 10 {
		h.Record(record(uint64(i+1), 0.1*float64(i), results.SourceBackend, 2*time.Millisecond))
	}
	h.Event(activityEv(1, "partition-client-from-backend"+evil, "start", ""))
	h.Event(faultEv(1, "on"))
	h.Event(activityEv(1.01, "partition-client-from-backend"+evil, "end", "succeeded"))
	h.Event(retryEv(1.2, 1, 1000, 11))
	h.Event(breakerEv(2.4, results.BreakerClosed, results.BreakerOpen))
	h.Event(fallbackEv(2.4, 11, evil))
	h.Record(record(11, 1.1, results.SourceFallback, 1300*time.Millisecond))
	for i := range 5 {
		h.Record(record(uint64(12+i), 2.5+0.1*float64(i), results.SourceFallback, time.Millisecond))
	}
	testutil.Until[bool](t, ctx, "the breaker shows OPEN", `document.querySelector("#breaker").textContent === "OPEN"`)
	testutil.Until[bool](t, ctx, "the fallback counter counts", `document.querySelector("#count-fallback").textContent === "6"`)
	testutil.Until[bool](t, ctx, "the chart is drawn", `document.querySelector("#chart svg circle.m-fallback") !== null`)
	if got := testutil.Until[string](t, ctx, "the requests", `document.querySelector("#count-requests").textContent`); got != "16" {
		t.Errorf("#count-requests = %q, want 16", got)
	}
	if got := testutil.Until[string](t, ctx, "the fault", `document.querySelector("#fault").textContent`); got != "partition" {
		t.Errorf("#fault = %q, want partition", got)
	}
	log := testutil.Until[[]string](t, ctx, "the log lines", `[...document.querySelectorAll("#log li .msg")].map(li => li.textContent)`)
	want := []string{"Retry 'backendRetry' - Attempt #1", "CircuitBreaker 'backendCB' changed state: CLOSED -> OPEN", "Fallback response due to error: " + evil}
	if strings.Join(log, "\n") != strings.Join(want, "\n") {
		t.Errorf("#log = %q, want %q", log, want)
	}
	act := testutil.Until[string](t, ctx, "the activity", `document.querySelector("#activities li .name").textContent`)
	if act != "partition-client-from-backend"+evil {
		t.Errorf("#activities li = %q, want the name as text", act)
	}
	if bad := testutil.Until[string](t, ctx, "markup check",
		`String(document.querySelectorAll("main script, main img").length) + " " + String(window.pwned)`); bad != "0 undefined" {
		t.Errorf("elements made from event texts and window.pwned = %q, want none and undefined", bad)
	}

	// A button: its answer shows on the page.
	testutil.Step(t, ctx, "press Apply", chromedp.Click(chromedp.CSS(`button[data-fault="network-partition"][data-action="apply"]`)))
	testutil.Until[bool](t, ctx, "the button's result", `[...document.querySelectorAll("#results li")].some(li => li.textContent.includes("apply network-partition: done"))`)

	// The viewer is dropped (as when its queue fills): the browser reconnects by itself, and
	// what happened meanwhile comes in its new snapshot.
	h.dropAll()
	// The heal: the breaker closes; then the run ends and the page links its report.
	h.Event(faultEv(12, "off"))
	h.Event(breakerEv(12.4, results.BreakerOpen, results.BreakerHalfOpen))
	h.Event(breakerEv(12.6, results.BreakerHalfOpen, results.BreakerClosed))
	h.Record(record(30, 12.5, results.SourceBackend, 3*time.Millisecond))
	testutil.Until[bool](t, ctx, "the breaker shows CLOSED", `document.querySelector("#breaker").textContent === "CLOSED" && document.querySelector("#fault").textContent === "none"`)
	testutil.Until[bool](t, ctx, "the band has its HALF_OPEN", `document.querySelector("#chart svg rect.b-half") !== null`)
	h.Done(run, "PASSED: completed, steady state held, recovered")
	href := testutil.Until[string](t, ctx, "the report's link", `document.querySelector("#done a[href]")?.getAttribute("href") || ""`)
	if href != "/results/run/report.html" {
		t.Errorf("#done a href = %q, want /results/run/report.html", href)
	}
	if got := testutil.Until[string](t, ctx, "the verdict", `document.querySelector("#verdict").textContent`); got != "PASSED: completed, steady state held, recovered" {
		t.Errorf("#verdict = %q", got)
	}
	if n := h.subscribers(); n != 1 {
		t.Errorf("%d viewers after the drop, want the page's new one", n)
	}
	testutil.Step(t, ctx, "open the link", chromedp.Navigate(strings.TrimSuffix(srv.URL(), "/")+href))
	tctx, cancel := context.WithTimeout(ctx, testutil.BrowserWait)
	defer cancel()
	if title, err := chromedp.Run(tctx, chromedp.Title()); err != nil || title != "the report" {
		t.Errorf("the linked page's title = %q, %v; want the report", title, err)
	}
	if strings.Join(fa.calls, ",") != "apply network-partition" {
		t.Errorf("the page called %q, want the one apply", fa.calls)
	}
}
