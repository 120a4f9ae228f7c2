package report

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestScreenshotInChromium renders a compare report and takes a screenshot of it with headless
// Chromium (Debian's chromium), when it is installed. The PNG must be real and not one colour.
// Set REPORT_SCREENSHOT=path to keep the PNG.
func TestScreenshotInChromium(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("chromium is not installed (apt-get install -y chromium): the page was not rendered in a browser")
	}
	dir := t.TempDir()
	for sub, resilient := range map[string]bool{"baseline": false, "resilient": true} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		simulated(resilient, 3).write(t, filepath.Join(dir, sub))
	}
	if err := Render(dir); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--screenshot="+shot, "--window-size=1400,1800",
		"file://"+filepath.Join(dir, "report.html"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	img := decodePNG(t, shot)
	if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 1000 {
		t.Errorf("screenshot is %v, want about 1400x1800", b)
	}
	if n := colours(img, 16); n < 8 {
		t.Errorf("screenshot has %d distinct colours in a sample: the page did not render", n)
	}
	if keep := os.Getenv("REPORT_SCREENSHOT"); keep != "" {
		if err := os.WriteFile(keep, readTest(t, shot), 0o644); err != nil {
			t.Fatal(err)
		}
	}
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
