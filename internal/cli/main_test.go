package cli

import (
	"os"
	"testing"

	"chaoslab/internal/cmdutil"
)

// envTestMain makes the test binary act as the chaoslab binary: the lab re-executes "itself"
// (os.Executable) as `chaoslab serve backend|client`, and the interrupt test runs a whole
// `chaoslab run` in a child process it can signal.
const envTestMain = "CHAOSLAB_TEST_AS_CHAOSLAB"

func TestMain(m *testing.M) {
	if os.Getenv(envTestMain) == "1" {
		cmdutil.Main("chaoslab", Run)
	}
	os.Exit(m.Run())
}
