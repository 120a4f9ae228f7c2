package capacity

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestParseServiceTime(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0", "0s"},
		{"2ms", "2ms"},
		{"exp:2ms", "exp:2ms"},
		{"uniform:1ms-3ms", "uniform:1ms-3ms"},
		{"uniform:0s-0s", "0s"},
		{"10s", "10s"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			st, err := ParseServiceTime(tt.in)
			if err != nil || st.String() != tt.want {
				t.Fatalf("ParseServiceTime(%q) = %v, %v; want %s", tt.in, st, err, tt.want)
			}
			if back, err := ParseServiceTime(st.String()); err != nil || back != st {
				t.Errorf("String %q does not read back: %v %v", st, back, err)
			}
		})
	}
	for _, bad := range []string{"", "soon", "-1ms", "11s", "exp:0s", "exp:", "gauss:2ms", "uniform:3ms-1ms", "uniform:1ms", "uniform:1ms-11s"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if _, err := ParseServiceTime(bad); err == nil || !strings.Contains(err.Error(), "exp:MEAN") {
				t.Errorf("ParseServiceTime(%q) error %v, want what is allowed", bad, err)
			}
		})
	}
}

func TestDraw(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 0))
	t.Run("fixed", func(t *testing.T) {
		st, _ := ParseServiceTime("3ms")
		if d := st.Draw(r); d != 3*time.Millisecond {
			t.Errorf("draw %v", d)
		}
	})
	t.Run("uniform within its bounds", func(t *testing.T) {
		st, _ := ParseServiceTime("uniform:1ms-3ms")
		for range 10000 {
			if d := st.Draw(r); d < time.Millisecond || d > 3*time.Millisecond {
				t.Fatalf("draw %v out of [1ms, 3ms]", d)
			}
		}
	})
	t.Run("exponential mean", func(t *testing.T) {
		st, _ := ParseServiceTime("exp:2ms")
		var sum time.Duration
		const n = 20000
		for range n {
			sum += st.Draw(r)
		}
		if mean := sum / n; math.Abs(float64(mean-2*time.Millisecond)) > 0.05*float64(2*time.Millisecond) {
			t.Errorf("mean of %d draws %v, want 2ms ± 5%%", n, mean)
		}
	})
	t.Run("same seed, same draws", func(t *testing.T) {
		st, _ := ParseServiceTime("exp:2ms")
		a, b := rand.New(rand.NewPCG(42, 0)), rand.New(rand.NewPCG(42, 0))
		for range 100 {
			if st.Draw(a) != st.Draw(b) {
				t.Fatal("two rands of one seed drew differently")
			}
		}
	})
}

func TestValidate(t *testing.T) {
	ok := Settings{Workers: 1, Queue: 1, Order: FIFO, Factor: 1}
	tests := []struct {
		name   string
		change func(*Settings)
		want   string
	}{
		{"valid", func(*Settings) {}, ""},
		{"unlimited workers", func(s *Settings) { s.Workers = 0 }, ""},
		{"negative workers", func(s *Settings) { s.Workers = -1 }, "workers: "},
		{"too many workers", func(s *Settings) { s.Workers = MaxWorkers + 1 }, "workers: "},
		{"negative queue", func(s *Settings) { s.Queue = -1 }, "queue: "},
		{"unknown order", func(s *Settings) { s.Order = "random" }, "queue_order: "},
		{"factor 0", func(s *Settings) { s.Factor = 0 }, "service_time_factor: "},
		{"factor NaN", func(s *Settings) { s.Factor = math.NaN() }, "service_time_factor: "},
		{"factor too big", func(s *Settings) { s.Factor = 101 }, "service_time_factor: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.change(&s)
			err := s.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)) {
				t.Errorf("Validate = %v, want prefix %q", err, tt.want)
			}
		})
	}
}
