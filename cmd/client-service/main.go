// Command client-service calls backend-service through the resilience pipeline. See
// internal/client.
package main

import (
	"chaoslab/internal/client"
	"chaoslab/internal/cmdutil"
)

func main() { cmdutil.Main("client-service", client.Run) }
