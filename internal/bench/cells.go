package bench

import (
	"slices"
	"time"
)

// Cell is one trigger and one profile of a sweep: its runs counted, and the figures of its
// measured runs. Every figure is read from the runs' own analyses (SweepRun); nothing is
// recomputed.
type Cell struct {
	Trigger Trigger
	Profile SweepProfile

	Runs        int // runs made (failed ones included)
	Failed      int // runs the lab could not make
	NotMeasured int // runs made whose stuck was not measured, or in which the lab saw a problem
	Measured    int // runs whose stuck was measured: Runs - Failed - NotMeasured
	Stuck       int // measured runs that were stuck

	Back       int            // measured runs whose goodput came back to 95 % within the run
	BackMedian *time.Duration // over those Back runs: the median of back_to_95; nil without any
	BackMax    *time.Duration // and the largest

	CallsMedian, CallsMax *float64 // backend calls per user request after the trigger, over the measured runs that count them
	AnsweredMedian        *float64 // share answered 200 after the trigger, over the measured runs

	NotMeasuredWhy []string // why each run that was not measured or failed was not, in run order
}

// PStuck is Stuck / Measured; false when no run was measured.
func (c Cell) PStuck() (float64, bool) {
	if c.Measured == 0 {
		return 0, false
	}
	return float64(c.Stuck) / float64(c.Measured), true
}

// Tipped reports whether the cell's P(stuck) is at least TippingShare.
func (c Cell) Tipped() bool {
	p, ok := c.PStuck()
	return ok && p >= TippingShare
}

// TippingShare is the P(stuck) at which a trigger tips a profile.
const TippingShare = 0.5

// Cells groups runs into one cell per trigger and profile, triggers first, each in the order
// given; a cell without runs has every count 0.
func Cells(triggers []Trigger, profiles []SweepProfile, runs []SweepRun) []Cell {
	var cells []Cell
	for _, t := range triggers {
		for _, p := range profiles {
			c := Cell{Trigger: t, Profile: p}
			var back []time.Duration
			var calls, answered []float64
			for _, r := range runs {
				if r.Trigger != t || r.Profile != p {
					continue
				}
				c.Runs++
				switch {
				case r.Failed != "":
					c.Failed++
					c.NotMeasuredWhy = append(c.NotMeasuredWhy, "failed: "+r.Failed)
					continue
				case !r.Measured:
					c.NotMeasured++
					c.NotMeasuredWhy = append(c.NotMeasuredWhy, r.NotMeasured)
					continue
				}
				c.Measured++
				if r.Stuck {
					c.Stuck++
				}
				if r.BackTo95 != nil {
					back = append(back, *r.BackTo95)
				}
				if r.CallsAfter != nil {
					calls = append(calls, *r.CallsAfter)
				}
				if r.AnsweredAfter != nil {
					answered = append(answered, *r.AnsweredAfter)
				}
			}
			c.Back = len(back)
			c.BackMedian, c.BackMax = median(back), maxOf(back)
			c.CallsMedian, c.CallsMax = median(calls), maxOf(calls)
			c.AnsweredMedian = median(answered)
			cells = append(cells, c)
		}
	}
	return cells
}

// Tipping is, for profile, the first trigger in the cells' order (the smallest: by factor,
// then duration) whose P(stuck) is at least TippingShare; nil when none tips it.
func Tipping(cells []Cell, profile SweepProfile) *Trigger {
	for _, c := range cells {
		if c.Profile == profile && c.Tipped() {
			t := c.Trigger
			return &t
		}
	}
	return nil
}

// median is the median of vs (the mean of the two middle values for an even count); nil
// without values.
func median[T time.Duration | float64](vs []T) *T {
	if len(vs) == 0 {
		return nil
	}
	s := slices.Sorted(slices.Values(vs))
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return &m
}

// maxOf is the largest of vs; nil without values.
func maxOf[T time.Duration | float64](vs []T) *T {
	if len(vs) == 0 {
		return nil
	}
	m := slices.Max(vs)
	return &m
}
