package backend

import (
	"time"

	"chaoslab/internal/httpserve"
)

// Config is backend-service's configuration, read from environment variables.
type Config struct {
	ListenAddr      string
	ShutdownTimeout time.Duration
	LogFormat       string
}

// settings is the table of backend-service's variables; LoadConfig, Defaults and --help read it.
func settings() []httpserve.Setting[Config] {
	return []httpserve.Setting[Config]{
		{Name: "LISTEN_ADDR", Default: ":8081", Help: "address to listen on (port 0 picks a free port)",
			Set: func(c *Config, v string) error { return httpserve.ListenAddr(v, &c.ListenAddr) }},
		{Name: "SHUTDOWN_TIMEOUT", Default: "10s", Help: "how long in-flight requests may finish on SIGTERM",
			Set: func(c *Config, v string) error { return httpserve.Duration(v, &c.ShutdownTimeout, 0) }},
		{Name: "LOG_FORMAT", Default: "text", Help: "text or json",
			Set: func(c *Config, v string) error { return httpserve.Choice(v, &c.LogFormat, "text", "json") }},
	}
}

// LoadConfig reads the configuration from getenv; a bad value is a cmdutil usage error naming
// the variable.
func LoadConfig(getenv func(string) string) (Config, error) {
	var c Config
	err := httpserve.Load(settings(), getenv, &c)
	return c, err
}

// Defaults maps every variable of backend-service to its default text.
func Defaults() map[string]string { return httpserve.Defaults(settings()) }
