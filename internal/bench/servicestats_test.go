package bench

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"chaoslab/internal/results"
)

func TestExactQuantiles(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	shuffled := func(n int) []time.Duration {
		var ds []time.Duration
		for i := 1; i <= n; i++ {
			ds = append(ds, ms(i))
		}
		r := rand.New(rand.NewPCG(1, 2))
		r.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
		return ds
	}
	for _, tc := range []struct {
		name                string
		in                  []time.Duration
		p50, p99, p999, max time.Duration
	}{
		// 1..1000 ms: the nearest rank of p is p/100 x 1000 exactly.
		{"1000 samples", shuffled(1000), ms(500), ms(990), ms(999), ms(1000)},
		// 1..9 ms: ranks ceil(4.5)=5, ceil(8.91)=9, ceil(8.991)=9.
		{"9 samples", shuffled(9), ms(5), ms(9), ms(9), ms(9)},
		{"one sample", []time.Duration{ms(7)}, ms(7), ms(7), ms(7), ms(7)},
		// 1..2000: p99.9 is rank 1998, not the max.
		{"2000 samples", shuffled(2000), ms(1000), ms(1980), ms(1998), ms(2000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tc.in...)
			q := ExactQuantiles(tc.in)
			want := Quantiles{N: len(tc.in), P50: results.Duration(tc.p50), P99: results.Duration(tc.p99), P999: results.Duration(tc.p999), Max: results.Duration(tc.max)}
			if q != want {
				t.Errorf("got %+v, want %+v", q, want)
			}
			for i := range in {
				if in[i] != tc.in[i] {
					t.Fatalf("ExactQuantiles reordered its input")
				}
			}
		})
	}
	if q := ExactQuantiles(nil); q != (Quantiles{}) {
		t.Errorf("no samples: got %+v, want zeros", q)
	}
}

func TestNewOpenRow(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	recs := []results.Record{
		{Source: results.SourceBackend, Latency: ms(3), SendLag: ms(1)},
		{Source: results.SourceFallback, Latency: ms(5), SendLag: ms(2)},
		{Source: results.SourceError, Latency: ms(9), SendLag: ms(4)},
		{Source: results.SourceDropped},
		{Source: results.SourceBackend, Latency: ms(1), SendLag: 0},
	}
	row := NewOpenRow(50, StateOpen, recs)
	if row.Requests != 5 || row.Backend != 2 || row.Fallback != 1 || row.Errors != 1 || row.Dropped != 1 {
		t.Errorf("counts: %+v", row)
	}
	// The dropped request has no latency: 4 samples, nearest rank of p50 = 2nd of 1,3,5,9.
	if row.Latency.N != 4 || row.Latency.P50.D() != ms(3) || row.Latency.Max.D() != ms(9) || row.Lag.Max.D() != ms(4) {
		t.Errorf("latency %+v, lag %+v", row.Latency, row.Lag)
	}
}

func TestTimeline(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tl := NewTimeline(StateClosed)
	tl.Observe(results.Event{Kind: results.KindRetry, Time: at(5)}) // not the breaker: ignored
	for _, tr := range []struct {
		ms int
		to string
	}{{100, StateOpen}, {1100, StateHalfOpen}, {1130, StateClosed}, {2000, StateOpen}, {3000, StateHalfOpen}, {3010, StateOpen}} {
		tl.Observe(results.Event{Kind: results.KindBreaker, Time: at(tr.ms), From: "x", To: tr.to})
	}
	for _, tc := range []struct {
		ms   int
		want string
	}{{0, StateClosed}, {99, StateClosed}, {100, StateOpen}, {1129, StateHalfOpen}, {1500, StateClosed}, {3005, StateHalfOpen}, {9999, StateOpen}} {
		if got := tl.StateAt(at(tc.ms)); got != tc.want {
			t.Errorf("StateAt(+%d ms) = %s, want %s", tc.ms, got, tc.want)
		}
	}
	if d, n := tl.TimeIn(StateHalfOpen, at(0), at(5000)); d != 40*time.Millisecond || n != 2 {
		t.Errorf("HALF_OPEN: %v in %d periods, want 40ms in 2", d, n)
	}
	// From inside an OPEN stretch: it counts from the window's start.
	if d, n := tl.TimeIn(StateOpen, at(500), at(4010)); d != 600*time.Millisecond+1000*time.Millisecond+1000*time.Millisecond || n != 3 {
		t.Errorf("OPEN: %v in %d periods, want 2.6s in 3", d, n)
	}
}

func TestTimelineWaitFor(t *testing.T) {
	tl := NewTimeline(StateClosed)
	mark := tl.Len()
	got := make(chan error, 1)
	go func() {
		_, err := tl.WaitFor(t.Context(), mark, StateClosed)
		got <- err
	}()
	tl.Observe(results.Event{Kind: results.KindBreaker, To: StateOpen, Time: time.Now()})
	tl.Observe(results.Event{Kind: results.KindBreaker, To: StateHalfOpen, Time: time.Now()})
	tl.Observe(results.Event{Kind: results.KindBreaker, To: StateClosed, Time: time.Now()})
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// A transition before the mark does not count.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := tl.WaitFor(ctx, tl.Len(), StateOpen); err == nil {
		t.Errorf("WaitFor found an OPEN before its mark")
	}
}
