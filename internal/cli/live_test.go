package cli

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"chaoslab/internal/testutil"
)

var reLivePage = regexp.MustCompile(`live page: (http://127\.0\.0\.1:\d+/)\n`)

// A short partition run with --ui, watched in headless Chromium: the page shows the breaker
// OPEN and fallbacks counted while it goes on, and links the report once it is over.
func TestRunLivePageInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("a lab run watched in Chromium")
	}
	browser := testutil.Browser(t)
	t.Setenv(envTestMain, "1")
	out := filepath.Join(t.TempDir(), "results")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout testutil.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, append([]string{"run", "--ui", "--out", out, "--rps", "20", "--warmup", "2s", "--recovery", "3s",
			"--var", "partition_duration:int=4", "--objective", "p99_while_open_max_ms=1000"}, fastPipeline...), os.Getenv, &stdout, &stdout)
	}()
	var url string
	testutil.WaitFor(t, 30*time.Second, "the live page's URL", func() bool {
		m := reLivePage.FindStringSubmatch(stdout.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	})
	testutil.Step(t, browser, "open the live page", chromedp.Navigate(url))
	testutil.Until[bool](t, browser, "the breaker OPEN during the partition", `document.querySelector("#breaker").textContent.trim() === "OPEN"`)
	testutil.Until[bool](t, browser, "fallbacks counted", `parseInt(document.querySelector("#count-fallback").textContent, 10) > 0`)
	href := testutil.Until[string](t, browser, "the link to the report after the run", `(document.querySelector("#done a[href]") || {}).href || ""`)
	resp, err := http.Get(href)
	if err != nil {
		t.Fatalf("GET the linked report %s: %v", href, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "<svg") {
		t.Errorf("the linked report %s: %d, %d bytes without a chart", href, resp.StatusCode, len(body))
	}
	if !strings.Contains(stdout.String(), "Ctrl-C to exit") {
		t.Errorf("chaoslab did not say the page stays up:\n%s", stdout.String())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the run: %v\n%s", err, stdout.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("chaoslab run --ui did not exit after Ctrl-C")
	}
}

// chaoslab up --ui drives the lab from the page: the partition's Apply button opens the breaker
// under up's load, its Remove button heals it and the breaker closes again.
func TestUpLivePageButtons(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the stack and Chromium")
	}
	browser := testutil.Browser(t)
	_, out, _ := startUp(t, append([]string{"--ui", "--rps", "20"}, fastPipeline...)...)
	m := reLivePage.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("up --ui printed no live page:\n%s", out.String())
	}
	testutil.Step(t, browser, "open the live page", chromedp.Navigate(m[1]))
	testutil.Until[bool](t, browser, "the breaker CLOSED under load", `document.querySelector("#breaker").textContent.trim() === "CLOSED" && parseInt(document.querySelector("#count-requests").textContent, 10) > 0`)
	testutil.Step(t, browser, "press Apply on network-partition", chromedp.Click(chromedp.CSS(`button[data-fault="network-partition"][data-action="apply"]`)))
	testutil.Until[bool](t, browser, "the breaker OPEN", `document.querySelector("#breaker").textContent.trim() === "OPEN"`)
	testutil.Step(t, browser, "press Remove on network-partition", chromedp.Click(chromedp.CSS(`button[data-fault="network-partition"][data-action="remove"]`)))
	testutil.Until[bool](t, browser, "the breaker CLOSED again", `document.querySelector("#breaker").textContent.trim() === "CLOSED"`)
}
