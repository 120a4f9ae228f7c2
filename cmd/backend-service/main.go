// Command backend-service is the backend that client-service calls. See internal/backend.
package main

import (
	"chaoslab/internal/backend"
	"chaoslab/internal/cmdutil"
)

func main() { cmdutil.Main("backend-service", backend.Run) }
