//go:build race

package cli

// raceDetector says whether the tests run with -race: its shadow memory grows every process's
// RSS with what it allocates, so a soak's memory check means nothing then.
const raceDetector = true
