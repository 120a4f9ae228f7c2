package capacity

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// MaxServiceTime bounds every duration of a ServiceTime: a longer one is a mistake, not a model.
const MaxServiceTime = 10 * time.Second

// ServiceTimeHelp says what ParseServiceTime accepts.
const ServiceTimeHelp = "0, a duration such as 2ms, exp:MEAN (exponential, such as exp:2ms) or uniform:MIN-MAX (such as uniform:1ms-3ms), durations of at most 10s"

// ServiceTime is the distribution of the work of one request: a fixed duration (the zero value
// is none), an exponential one with a mean, or a uniform one between two bounds.
type ServiceTime struct {
	dist string        // "" (fixed), "exp" or "uniform"
	a, b time.Duration // fixed: a; exp: the mean a; uniform: from a to b
}

// ParseServiceTime reads "0", "2ms", "exp:2ms" or "uniform:1ms-3ms".
func ParseServiceTime(s string) (ServiceTime, error) {
	bad := fmt.Errorf("must be %s", ServiceTimeHelp)
	dist, arg, found := strings.Cut(strings.TrimSpace(s), ":")
	if !found {
		d, ok := parseDuration(dist)
		if !ok {
			return ServiceTime{}, bad
		}
		return ServiceTime{a: d}, nil
	}
	switch dist {
	case "exp":
		if mean, ok := parseDuration(arg); ok && mean > 0 {
			return ServiceTime{dist: dist, a: mean}, nil
		}
	case "uniform":
		lo, hi, _ := strings.Cut(arg, "-")
		a, okA := parseDuration(lo)
		b, okB := parseDuration(hi)
		if okA && okB && a == b {
			return ServiceTime{a: a}, nil // a fixed duration in disguise
		}
		if okA && okB && a < b {
			return ServiceTime{dist: dist, a: a, b: b}, nil
		}
	}
	return ServiceTime{}, bad
}

func parseDuration(s string) (time.Duration, bool) {
	d, err := time.ParseDuration(s)
	return d, err == nil && d >= 0 && d <= MaxServiceTime
}

// String is the text ParseServiceTime reads back: "0s", "2ms", "exp:2ms", "uniform:1ms-3ms".
func (s ServiceTime) String() string {
	switch s.dist {
	case "exp":
		return "exp:" + s.a.String()
	case "uniform":
		return "uniform:" + s.a.String() + "-" + s.b.String()
	}
	return s.a.String()
}

// IsZero reports a service time that is always 0: no work at all.
func (s ServiceTime) IsZero() bool { return s.a == 0 && s.b == 0 }

// Draw returns one request's service time, using r for the random ones. It is as safe for
// concurrent use as r is.
func (s ServiceTime) Draw(r *rand.Rand) time.Duration {
	switch s.dist {
	case "exp":
		return time.Duration(r.ExpFloat64() * float64(s.a))
	case "uniform":
		return s.a + time.Duration(r.Int64N(int64(s.b-s.a)+1))
	}
	return s.a
}
