package backend

import (
	"fmt"
	"time"

	"chaoslab/internal/httpserve"
)

// Config is backend-service's configuration, read from environment variables.
type Config struct {
	ListenAddr      string
	ShutdownTimeout time.Duration
	ShutdownDrain   time.Duration // part of ShutdownTimeout: serving on with /readyz at 503
	LogFormat       string
	PayloadBytes    int // size of the padding field of /api/data answers (0 = none)
}

// maxPayload bounds PAYLOAD_BYTES.
const maxPayload = 1 << 20

// settings is the table of backend-service's variables; LoadConfig, Defaults and --help read it.
func settings() []httpserve.Setting[Config] {
	return []httpserve.Setting[Config]{
		{Name: "LISTEN_ADDR", Default: ":8081", Help: "address to listen on (port 0 picks a free port)",
			Set: func(c *Config, v string) error { return httpserve.ListenAddr(v, &c.ListenAddr) }},
		{Name: "SHUTDOWN_TIMEOUT", Default: "10s", Help: "how long in-flight requests may finish on SIGTERM",
			Set: func(c *Config, v string) error { return httpserve.Duration(v, &c.ShutdownTimeout, 0) }},
		{Name: "SHUTDOWN_DRAIN", Default: "0s", Help: httpserve.DrainHelp,
			Set: func(c *Config, v string) error { return httpserve.Duration(v, &c.ShutdownDrain, 0) }},
		{Name: "LOG_FORMAT", Default: "text", Help: "text or json",
			Set: func(c *Config, v string) error { return httpserve.Choice(v, &c.LogFormat, "text", "json") }},
		{Name: "PAYLOAD_BYTES", Default: "0", Help: "bytes of padding in each /api/data answer, so a bandwidth fault has a body to slow down (0 to 1048576)",
			Set: func(c *Config, v string) error {
				if err := httpserve.Int(v, &c.PayloadBytes, 0); err != nil {
					return err
				}
				if c.PayloadBytes > maxPayload {
					return fmt.Errorf("must be at most %d", maxPayload)
				}
				return nil
			}},
	}
}

// LoadConfig reads the configuration from getenv; a bad value is a cmdutil usage error naming
// the variable.
func LoadConfig(getenv func(string) string) (Config, error) {
	var c Config
	if err := httpserve.Load(settings(), getenv, &c); err != nil {
		return c, err
	}
	return c, httpserve.CheckDrain(c.ShutdownDrain, c.ShutdownTimeout)
}

// Defaults maps every variable of backend-service to its default text.
func Defaults() map[string]string { return httpserve.Defaults(settings()) }
