package cli

import (
	"context"
	"fmt"

	"chaoslab/internal/backend"
	"chaoslab/internal/client"
	"chaoslab/internal/cmdutil"
)

const serveHelp = `Usage: chaoslab serve backend|client [--help]

Runs backend-service or client-service in the foreground, configured by environment variables
exactly like the standalone binaries (chaoslab serve client --help lists them). chaoslab run and
chaoslab up start the services this way, as child processes.
`

func serveCmd(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return cmdutil.Usagef("serve needs a service: backend or client (chaoslab serve --help)")
	}
	switch args[0] {
	case "-h", "--help", "-help":
		fmt.Fprint(e.stdout, serveHelp)
		return cmdutil.ErrHelp
	case "backend":
		return backend.Run(ctx, args[1:], e.getenv, e.stdout, e.stderr)
	case "client":
		return client.Run(ctx, args[1:], e.getenv, e.stdout, e.stderr)
	}
	return cmdutil.Usagef("serve %q: the services are backend and client", args[0])
}
