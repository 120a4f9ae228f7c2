package report

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestScreenshotInChromium renders a compare report and a suite index and takes a screenshot of
// each with headless Chromium (Debian's chromium), when it is installed. Each PNG must be real and
// not one colour. Set REPORT_SCREENSHOT=path to keep the report's PNG (and path's name with
// "-index" before its extension for the index's).
func TestScreenshotInChromium(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("chromium is not installed (apt-get install -y chromium): the page was not rendered in a browser")
	}
	dir := t.TempDir()
	writeCompareFolder(t, dir, 3, DefaultProfiles()...)
	if err := Render(dir); err != nil {
		t.Fatal(err)
	}
	entries := append(suite(), SuiteEntry{Name: "compare", Fault: "network partition", Dir: ".",
		Runs: threeRuns(3)})
	if err := WriteIndex(dir, "Fault catalogue", entries); err != nil {
		t.Fatal(err)
	}
	keep := os.Getenv("REPORT_SCREENSHOT")
	for page, size := range map[string]string{"report.html": "1400,1800", IndexHTML: "1400,700"} {
		t.Run(page, func(t *testing.T) {
			shot := screenshot(t, bin, dir, page, size)
			img := decodePNG(t, shot)
			if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 600 {
				t.Errorf("screenshot is %v, want about %s", b, size)
			}
			if n := colours(img, 16); n < 8 {
				t.Errorf("screenshot has %d distinct colours in a sample: the page did not render", n)
			}
			if keep == "" {
				return
			}
			to := keep
			if page == IndexHTML {
				to = strings.TrimSuffix(keep, filepath.Ext(keep)) + "-index" + filepath.Ext(keep)
			}
			if err := os.WriteFile(to, readTest(t, shot), 0o644); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// screenshot renders dir/page in headless Chromium at size ("w,h") and returns the PNG's path.
func screenshot(t *testing.T, bin, dir, page, size string) string {
	t.Helper()
	shot := filepath.Join(dir, page+".png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile-"+page), "--screenshot="+shot, "--window-size="+size,
		"file://"+filepath.Join(dir, page))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	return shot
}

// chromium returns the path of a Chromium binary, or "".
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(readTest(t, path)))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return img
}

// colours counts the distinct colours on a step x step grid of img.
func colours(img image.Image, step int) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += step {
		for x := b.Min.X; x < b.Max.X; x += step {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
		}
	}
	return len(seen)
}
