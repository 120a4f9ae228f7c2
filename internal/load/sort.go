package load

import (
	"slices"

	"chaoslab/internal/results"
)

func sortByStart(recs []results.Record) {
	slices.SortStableFunc(recs, func(a, b results.Record) int { return a.Start.Compare(b.Start) })
}
