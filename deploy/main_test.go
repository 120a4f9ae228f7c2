package deploy_test

import (
	"os"
	"testing"

	"chaoslab/internal/cli"
	"chaoslab/internal/cmdutil"
)

// envServe makes the test binary act as the chaoslab binary: the local stack of the dashboard
// tests re-executes "itself" as `chaoslab serve backend|client`.
const envServe = "CHAOSLAB_DEPLOY_TEST_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(envServe) == "1" {
		cmdutil.Main("chaoslab", cli.Run)
	}
	os.Exit(m.Run())
}
