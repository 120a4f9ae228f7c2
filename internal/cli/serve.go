package cli

import (
	"context"
	"fmt"

	"chaoslab/internal/backend"
	"chaoslab/internal/client"
	"chaoslab/internal/cmdutil"
	"chaoslab/internal/sidecar"
)

const serveHelp = `Usage: chaoslab serve backend|client|fault-proxy [--help]

Runs backend-service or client-service in the foreground, configured by environment variables
exactly like the standalone binaries (chaoslab serve client --help lists them). chaoslab run and
chaoslab up start the services this way, as child processes.

fault-proxy is the lab's fault injector as a sidecar beside the backend on Kubernetes: the data
path (Toxiproxy, then the HTTP fault injector) in front of a backend on loopback, and the fault
API of the local stack (chaoslab serve fault-proxy --help lists its variables).
`

func serveCmd(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return cmdutil.Usagef("serve needs a service: backend, client or fault-proxy (chaoslab serve --help)")
	}
	switch args[0] {
	case "-h", "--help", "-help":
		fmt.Fprint(e.stdout, serveHelp)
		return cmdutil.ErrHelp
	case "backend":
		return backend.Run(ctx, args[1:], e.getenv, e.stdout, e.stderr)
	case "client":
		return client.Run(ctx, args[1:], e.getenv, e.stdout, e.stderr)
	case "fault-proxy":
		return sidecar.Run(ctx, args[1:], e.getenv, e.stdout, e.stderr)
	}
	return cmdutil.Usagef("serve %q: the services are backend, client and fault-proxy", args[0])
}
