package soak

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Rules are the judge's thresholds.
type Rules struct {
	WarmupFraction float64 // samples taken before this share of the duration are warm-up (WarmupEnd)...
	MinWarmup      int     // ...and at least this many samples are
	MaxGrowth      float64 // the RSS may grow by at most this share (0.10 = 10 %)...
	GrowthSlack    int64   // ...or by at most this many bytes: a Go process's RSS moves in steps of MBs
	MaxWindow      int     // the RSS medians are over at most this many samples each
	ClimbWindow    int     // a count fails when its last ClimbWindow samples strictly increase...
	ClimbSlack     int     // ...and rise by more than ClimbSlack in all
}

// DefaultRules are chaoslab soak's: warm-up the first 20 % of the duration (at least 2
// samples); RSS growth at most 10 % or 5 MB; medians over at most 12 samples; a count climbing over the
// last 5 samples by more than 2 fails.
func DefaultRules() Rules {
	return Rules{WarmupFraction: 0.2, MinWarmup: 2, MaxGrowth: 0.10, GrowthSlack: 5e6, MaxWindow: 12, ClimbWindow: 5, ClimbSlack: 2}
}

// WarmupEnd is when the warm-up of a soak ends: after WarmupFraction of its duration, or after
// the first round of its rotation (every fault applied and removed once) if that is later: a
// fault seen for the first time may raise the memory a process keeps (more connections, a
// larger heap) once, which is not a leak.
func (r Rules) WarmupEnd(c Config) time.Duration {
	return max(time.Duration(r.WarmupFraction*float64(c.Duration)), c.FirstRound())
}

// MinSamples is the fewest samples a full verdict needs: the warm-up and a climb window.
func (r Rules) MinSamples() int { return r.MinWarmup + r.ClimbWindow }

// Check statuses.
const (
	Pass      = "pass"
	Fail      = "FAIL"
	NotJudged = "not judged"
)

// Check is one rule applied to one process, or to the whole soak (Process "").
type Check struct {
	Name    string // "rss", "goroutines", "threads", "fds", "lost requests", "faults"
	Process string
	Status  string // Pass, Fail or NotJudged
	Detail  string // the numbers compared, in words
}

// Verdict is the judge's decision: every check, in order.
type Verdict struct {
	Warmup int // samples left out as warm-up
	Checks []Check
}

// Passed says whether no check failed. A check that could not be judged does not fail.
func (v Verdict) Passed() bool { return len(v.Failures()) == 0 }

// Failures returns the failed checks.
func (v Verdict) Failures() []Check {
	var out []Check
	for _, c := range v.Checks {
		if c.Status == Fail {
			out = append(out, c)
		}
	}
	return out
}

// Judge applies the rules to the samples of a soak whose warm-up ends at warmupEnd, to the load's final
// counts (taken once every request has ended) and to the faults that could not be applied or
// removed:
//
//   - warm-up: the samples taken before warmupEnd (Rules.WarmupEnd), at least MinWarmup, are
//     left out of the process checks;
//   - each process is judged on its last life: the samples after warm-up that carry the PID of
//     its last sample read (a service restarted by a fault starts afresh);
//   - rss: with n such samples and k = n/3 (at least 1, at most MaxWindow), the median RSS of
//     the last k samples may exceed the median of the first k by at most MaxGrowth, or by at
//     most GrowthSlack bytes (it fails when it grows by more than both);
//   - goroutines (or threads) and fds: fail when each of the last ClimbWindow samples is
//     higher than the one before and the last is more than ClimbSlack above the first;
//   - lost requests: every arrival must have ended as a record (Arrivals == Records), and every
//     request sent as a record of an answer (Sent == Answered);
//   - faults: every apply and remove must have succeeded.
func Judge(samples []Sample, final LoadCounts, faultErrors []string, warmupEnd time.Duration, r Rules) Verdict {
	v := Verdict{Warmup: warmup(samples, warmupEnd, r)}
	post := samples[v.Warmup:]
	if len(samples) > 0 {
		for i, p := range samples[0].Procs {
			life := lastLife(post, i)
			v.Checks = append(v.Checks, rssCheck(p.Name, life, r),
				climbCheck(p.Kind, p.Name, life, func(p ProcSample) int { return p.Tasks }, r),
				climbCheck("fds", p.Name, life, func(p ProcSample) int { return p.FDs }, r))
		}
	}
	return v.add(lostCheck(final), faultCheck(faultErrors))
}

func (v Verdict) add(cs ...Check) Verdict {
	v.Checks = append(v.Checks, cs...)
	return v
}

// warmup is the number of samples taken before limit, at least MinWarmup (never more than
// there are).
func warmup(samples []Sample, limit time.Duration, r Rules) int {
	n := 0
	for n < len(samples) && samples[n].Elapsed < limit {
		n++
	}
	return min(max(n, r.MinWarmup), len(samples))
}

// lastLife returns process i's samples that were read and carry the PID of the last one read.
func lastLife(samples []Sample, i int) []ProcSample {
	var all []ProcSample
	for _, s := range samples {
		if i < len(s.Procs) && s.Procs[i].OK() {
			all = append(all, s.Procs[i])
		}
	}
	if len(all) == 0 {
		return nil
	}
	pid := all[len(all)-1].PID
	return slices.DeleteFunc(all, func(p ProcSample) bool { return p.PID != pid })
}

func rssCheck(proc string, life []ProcSample, r Rules) Check {
	c := Check{Name: "rss", Process: proc, Status: NotJudged}
	n := len(life)
	if n < 2 {
		c.Detail = fmt.Sprintf("%d sample(s) of one process after warm-up: 2 needed", n)
		return c
	}
	k := min(max(n/3, 1), r.MaxWindow)
	base, last := medianRSS(life[:k]), medianRSS(life[n-k:])
	growth := (last - base) / base
	c.Status = Pass
	if last-base > base*r.MaxGrowth && last-base > float64(r.GrowthSlack) {
		c.Status = Fail
	}
	c.Detail = fmt.Sprintf("median of the first %d samples after warm-up %.1f MB, of the last %d %.1f MB: %+.1f %%, %+.1f MB (limit +%g %% or +%g MB)",
		k, base/1e6, k, last/1e6, 100*growth, (last-base)/1e6, 100*r.MaxGrowth, float64(r.GrowthSlack)/1e6)
	return c
}

// medianRSS is the median RSS in bytes (the mean of the middle two for an even count).
func medianRSS(ps []ProcSample) float64 {
	v := make([]float64, len(ps))
	for i, p := range ps {
		v[i] = float64(p.RSS)
	}
	slices.Sort(v)
	m := len(v) / 2
	if len(v)%2 == 1 {
		return v[m]
	}
	return (v[m-1] + v[m]) / 2
}

func climbCheck(name, proc string, life []ProcSample, value func(ProcSample) int, r Rules) Check {
	c := Check{Name: name, Process: proc, Status: NotJudged}
	if len(life) < r.ClimbWindow {
		c.Detail = fmt.Sprintf("%d sample(s) of one process after warm-up: %d needed", len(life), r.ClimbWindow)
		return c
	}
	w := life[len(life)-r.ClimbWindow:]
	vals := make([]string, len(w))
	rising := true
	for i, p := range w {
		vals[i] = fmt.Sprint(value(p))
		if i > 0 && value(p) <= value(w[i-1]) {
			rising = false
		}
	}
	rise := value(w[len(w)-1]) - value(w[0])
	c.Status, c.Detail = Pass, fmt.Sprintf("last %d samples %s: not climbing", len(w), strings.Join(vals, " "))
	if rising && rise > r.ClimbSlack {
		c.Status = Fail
		c.Detail = fmt.Sprintf("last %d samples %s: each higher than the one before, +%d in all (slack %d)",
			len(w), strings.Join(vals, " "), rise, r.ClimbSlack)
	}
	return c
}

func lostCheck(c LoadCounts) Check {
	ch := Check{Name: "lost requests", Status: Fail}
	var why []string
	if n := c.Lost(); n > 0 {
		why = append(why, fmt.Sprintf("%d arrival(s) without a record", n))
	} else if n < 0 {
		why = append(why, fmt.Sprintf("%d record(s) more than arrivals", -n))
	}
	if n := c.Sent - c.Answered; n != 0 {
		why = append(why, fmt.Sprintf("%d sent request(s) without the record of an answer", n))
	}
	if len(why) == 0 {
		ch.Status, why = Pass, []string{"none lost"}
	}
	ch.Detail = fmt.Sprintf("%d arrivals, %d records (%d dropped, %d errors), %d sent, %d answered: %s",
		c.Arrivals, c.Records, c.Dropped, c.Errors, c.Sent, c.Answered, strings.Join(why, ", "))
	return ch
}

func faultCheck(errs []string) Check {
	if len(errs) == 0 {
		return Check{Name: "faults", Status: Pass, Detail: "every fault applied and removed"}
	}
	return Check{Name: "faults", Status: Fail, Detail: strings.Join(errs, "; ")}
}
