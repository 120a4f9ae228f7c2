// Command chaoslab runs chaos experiments against the client/backend pair and writes the
// evidence: `chaoslab run` is the main job. See `chaoslab --help`.
package main

import (
	"chaoslab/internal/cli"
	"chaoslab/internal/cmdutil"
)

func main() { cmdutil.Main("chaoslab", cli.Run) }
