package load

import (
	"cmp"
	"slices"

	"chaoslab/internal/results"
)

func sortByStart(recs []results.Record) {
	slices.SortStableFunc(recs, func(a, b results.Record) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
}
