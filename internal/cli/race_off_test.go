//go:build !race

package cli

// raceDetector says whether the tests run with -race (see race_on_test.go).
const raceDetector = false
