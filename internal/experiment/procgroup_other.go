//go:build !unix

package experiment

import (
	"os"
	"os/exec"
)

// inOwnProcessGroup is a no-op where process groups do not exist: cancellation kills the
// process itself (exec.CommandContext's default).
func inOwnProcessGroup(*exec.Cmd) {}

func killedBySignal(*os.ProcessState) (int, bool) { return 0, false }
