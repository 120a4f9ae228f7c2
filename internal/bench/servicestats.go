package bench

import (
	"slices"
	"time"

	"chaoslab/internal/results"
)

// Quantiles are exact order statistics of a set of durations: no histogram, no interpolation.
// Pxx is the nearest-rank percentile: the sample of rank ceil(xx/100 * n) (1-based) among the n
// samples sorted ascending, so with fewer than 1000 samples P99.9 is the max, and with fewer than
// 100 P99 is too. All are 0 when N is 0.
type Quantiles struct {
	N    int              `json:"n"`
	P50  results.Duration `json:"p50_ms"`
	P99  results.Duration `json:"p99_ms"`
	P999 results.Duration `json:"p99_9_ms"`
	Max  results.Duration `json:"max_ms"`
}

// ExactQuantiles sorts a copy of ds and reads its nearest-rank percentiles.
func ExactQuantiles(ds []time.Duration) Quantiles {
	if len(ds) == 0 {
		return Quantiles{}
	}
	s := slices.Sorted(slices.Values(ds))
	return Quantiles{N: len(s), P50: results.Duration(Rank(s, 500)), P99: results.Duration(Rank(s, 990)),
		P999: results.Duration(Rank(s, 999)), Max: results.Duration(s[len(s)-1])}
}

// Rank is the nearest-rank percentile of sorted (ascending, not empty) at perMille thousandths
// (990 = p99): the element of 1-based rank ceil(perMille * n / 1000), at least the first. The
// rank is computed in integers, so p99.9 of 1000 samples is the 999th, never the max by rounding.
func Rank(sorted []time.Duration, perMille int) time.Duration {
	r := (perMille*len(sorted) + 999) / 1000
	return sorted[min(max(r, 1), len(sorted))-1]
}
