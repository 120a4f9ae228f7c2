package client

import (
	"testing"
	"time"
)

// BenchmarkAdaptiveWarm measures RESILIENCE=adaptive once warm (at least 100 calls succeeded
// before the partition), with the same stack, load, figures and spread as BenchmarkColdStart
// (its comment defines each figure): the partition at 200 requests/s after 1.5 s and at 10
// requests/s after 11 s, the first for 2 s and also for 12 s (beyond CB_WAIT_DURATION's 10 s:
// HALF_OPEN by the timer, its trials lost in the partition, OPEN again, then the heal), and
// healthy backends at 200 requests/s whose latency jitters (exponential service times of mean
// 1 ms, where the attempt timeout is the 50 ms floor and the silence rule judges at 25 ms, and
// of mean 5 ms) or is slow (40-60 ms) for 2 s and then fast (exponential, 1 ms). Run five
// iterations of each; the median and the spread are logged:
//
//	go test -run '^$' -bench AdaptiveWarm -benchtime 5x ./internal/client/   # about 4 minutes
func BenchmarkAdaptiveWarm(b *testing.B) {
	outage := func(rps float64, at, lasts time.Duration) scenario {
		return scenario{rps: rps, partitionAt: at, partitionFor: lasts, length: at + lasts + 1500*time.Millisecond}
	}
	healthy := func(service string) scenario {
		return scenario{rps: 200, backendEnv: pairs([]string{"BACKEND_SERVICE_TIME", service}), length: 6 * time.Second}
	}
	for _, bc := range []struct {
		name string
		s    scenario
	}{
		{"outage/rps=200", outage(200, 1500*time.Millisecond, 2*time.Second)},
		{"outage/rps=10", outage(10, 11*time.Second, 2*time.Second)},
		{"outage-12s/rps=200", outage(200, 1500*time.Millisecond, 12*time.Second)},
		{"healthy-exp1ms/rps=200", healthy("exp:1ms")},
		{"healthy-exp5ms/rps=200", healthy("exp:5ms")},
		{"slow-then-fast/rps=200", scenario{rps: 200, backendEnv: pairs([]string{"BACKEND_SERVICE_TIME", "uniform:40ms-60ms"}),
			fastAt: 2 * time.Second, length: 5 * time.Second}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var runs []figures
			for b.Loop() {
				f := bc.s.run(b, len(runs))
				b.Logf("run %d: %s", len(runs)+1, f)
				runs = append(runs, f)
			}
			reportFigures(b, runs)
		})
	}
}
