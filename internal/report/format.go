package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// NA is what the report shows for a number that does not exist (an empty phase, an event never
// seen).
const NA = "n/a"

// FormatOffset formats d as a signed offset in seconds with one decimal, e.g. "+12.3s".
func FormatOffset(d time.Duration) string {
	return fmt.Sprintf("%+.1fs", d.Seconds())
}

// FormatDuration formats a latency or wait for a person: "0.84 ms", "12.3 ms", "1.24 s".
func FormatDuration(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 1000:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.2f s", ms/1000)
	}
}

// formatOptional formats a detection or recovery time, or NA.
func formatOptional(d *time.Duration) string {
	if d == nil {
		return NA
	}
	return FormatDuration(*d)
}

// formatPct formats a percentage with one decimal.
func formatPct(p float64) string { return strconv.FormatFloat(p, 'f', 1, 64) + "%" }

// formatNumber formats a metric value without a useless fraction.
func formatNumber(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// cut shortens s to n bytes (on a rune boundary), marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// exception returns the last non-empty line of a journal exception (its traceback lines).
func exception(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		parts := strings.Split(lines[i], "\n")
		for k := len(parts) - 1; k >= 0; k-- {
			if l := strings.TrimSpace(parts[k]); l != "" {
				return l
			}
		}
	}
	return ""
}
