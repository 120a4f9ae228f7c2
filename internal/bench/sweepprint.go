package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"chaoslab/internal/report"
)

// sweepColumns are the table's columns: header and width (a negative width is left-aligned).
var sweepColumns = []struct {
	head  string
	width int
}{
	{"trigger", -16}, {"profile", -18}, {"P(stuck)", 8}, {"stuck", 7}, {"not measured", 13},
	{"back to 95 %", 13}, {"back median", 12}, {"back max", 10}, {"calls/req after", 16}, {"answered after", 15},
}

// tableLine lays cells out in the table's columns.
func tableLine(cells []string) string {
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteString("  ")
		}
		fmt.Fprintf(&b, "%*s", sweepColumns[i].width, c)
	}
	return strings.TrimRight(b.String(), " ")
}

// SweepHeader is the table's header line.
func SweepHeader() string {
	var heads []string
	for _, c := range sweepColumns {
		heads = append(heads, c.head)
	}
	return tableLine(heads)
}

// SweepRow is the table's line for one cell: P(stuck) and stuck/measured; the runs not
// measured (with the failed ones among them); the measured runs back to 95 % / measured, and
// the median and max of their times back; the median [max] of the backend calls per user
// request after the trigger; the median share answered 200 after it. n/a: nothing to take it from.
func SweepRow(c Cell) string { return tableLine(rowValues(c)) }

// rowValues are the cells of SweepRow, in the columns' order.
func rowValues(c Cell) []string {
	p := "n/a"
	if v, ok := c.PStuck(); ok {
		p = fmt.Sprintf("%.2f", v)
	}
	notMeasured := fmt.Sprint(c.NotMeasured + c.Failed)
	if c.Failed > 0 {
		notMeasured += fmt.Sprintf(" (%d failed)", c.Failed)
	}
	calls := "n/a"
	if c.CallsMedian != nil {
		calls = fmt.Sprintf("%.2f [%.2f]", *c.CallsMedian, *c.CallsMax)
	}
	answered := "n/a"
	if c.AnsweredMedian != nil {
		answered = fmt.Sprintf("%.1f %%", 100**c.AnsweredMedian)
	}
	return []string{c.Trigger.String(), c.Profile.String(), p, fmt.Sprintf("%d/%d", c.Stuck, c.Measured), notMeasured,
		fmt.Sprintf("%d/%d", c.Back, c.Measured), sweepDuration(c.BackMedian), sweepDuration(c.BackMax), calls, answered}
}

// TippingLines say, for each profile, the smallest trigger of the sweep that tips it.
func TippingLines(cells []Cell, profiles []SweepProfile) []string {
	var out []string
	for _, p := range profiles {
		s := "none in this sweep"
		if t := Tipping(cells, p); t != nil {
			s = t.String()
		}
		out = append(out, fmt.Sprintf("tipping point of %s: %s", p, s))
	}
	return out
}

// sweepDuration writes a time back: "n/a" when there is none, "0 s" when back from the first
// second (the goodput's grid is whole seconds), else as the report writes durations.
func sweepDuration(d *time.Duration) string {
	switch {
	case d == nil:
		return "n/a"
	case *d == 0:
		return "0 s"
	}
	return report.FormatDuration(*d)
}

// Estimate writes an estimated duration, to the second under 10 minutes, to the minute above.
func Estimate(d time.Duration) string {
	if d < 10*time.Minute {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// runOutcome says what one run showed, for a person.
func runOutcome(r SweepRun) string {
	switch {
	case r.Failed != "":
		return "failed: " + r.Failed
	case !r.Measured:
		return "not measured: " + r.NotMeasured
	}
	s := "not stuck"
	if r.Stuck {
		s = "stuck"
	}
	if r.BackTo95 != nil {
		return s + ", back to 95 % after " + sweepDuration(r.BackTo95)
	}
	return s + ", not back to 95 % within the run"
}

// Progress shows a sweep's progress on w (stderr): on a terminal a bar redrawn in place every
// second (runs done / total, elapsed, estimated time left); otherwise a plain line per run
// done. The table's rows go to out (stdout) without garbling the bar. Safe for concurrent use.
type Progress struct {
	mu       sync.Mutex
	out, w   io.Writer
	tty      bool
	total    int
	parallel int
	perRun   time.Duration // a run's expected length, for the estimate before the first is done
	start    time.Time
	now      func() time.Time
	done     int
	drawn    bool
	stop     chan struct{}
	stopped  chan struct{}
}

// NewProgress starts showing the progress of total runs, parallel at a time, each expected to
// last perRun; tty: w is a terminal. Close stops it.
func NewProgress(out, w io.Writer, tty bool, total, parallel int, perRun time.Duration) *Progress {
	p := &Progress{out: out, w: w, tty: tty, total: total, parallel: max(1, parallel), perRun: perRun, now: time.Now,
		stop: make(chan struct{}), stopped: make(chan struct{})}
	p.start = p.now()
	go func() {
		defer close(p.stopped)
		if !tty {
			return
		}
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			p.mu.Lock()
			p.draw()
			p.mu.Unlock()
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// Run records one run done (the done-th).
func (p *Progress) Run(done int, r SweepRun) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = done
	if p.tty {
		p.draw()
		return
	}
	fmt.Fprintf(p.w, "%s: %s, %s, seed %d: %s\n", p.status(), r.Trigger, r.Profile, r.Seed, runOutcome(r))
}

// Println prints a line of the table on out.
func (p *Progress) Println(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	fmt.Fprintln(p.out, line)
	if p.tty {
		p.draw()
	}
}

// Close stops the bar and clears it.
func (p *Progress) Close() {
	close(p.stop)
	<-p.stopped
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
}

func (p *Progress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

func (p *Progress) draw() {
	fmt.Fprint(p.w, "\r\033[K"+ProgressBar(p.done, p.total)+" "+p.status())
	p.drawn = true
}

// status is "12/40 runs, 9m31s elapsed, about 22m0s left".
func (p *Progress) status() string {
	elapsed := p.now().Sub(p.start)
	return fmt.Sprintf("%d/%d runs, %s elapsed, about %s left", p.done, p.total, elapsed.Round(time.Second), Estimate(Left(p.done, p.total, p.parallel, elapsed, p.perRun)))
}

// Left estimates the time left after done of total runs in elapsed: the mean time per run
// done so far times the runs left; before the first is done, the expected length of a run for
// each round of parallel runs still to start, less the time elapsed. Never below 0.
func Left(done, total, parallel int, elapsed, perRun time.Duration) time.Duration {
	var left time.Duration
	if done > 0 {
		left = elapsed / time.Duration(done) * time.Duration(total-done)
	} else {
		rounds := (total + parallel - 1) / parallel
		left = time.Duration(rounds)*perRun - elapsed
	}
	return max(0, left)
}

// ProgressBar is a bar of 20 characters: "[#####...............]" for 1 of 4 done.
func ProgressBar(done, total int) string {
	const width = 20
	n := 0
	if total > 0 {
		n = min(width, done*width/total)
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}
