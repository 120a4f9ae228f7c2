package backend

import (
	"fmt"
	"strconv"
	"time"

	"chaoslab/internal/capacity"
	"chaoslab/internal/httpserve"
	"chaoslab/internal/tracing"
)

// Config is backend-service's configuration, read from environment variables.
type Config struct {
	ListenAddr      string
	ShutdownTimeout time.Duration
	ShutdownDrain   time.Duration // part of ShutdownTimeout: serving on with /readyz at 503
	LogFormat       string
	PayloadBytes    int // size of the padding field of /api/data answers (0 = none)
	// Capacity is the finite capacity of GET /api/data (BACKEND_WORKERS, BACKEND_QUEUE,
	// BACKEND_QUEUE_ORDER, BACKEND_SERVICE_TIME); off unless workers or a service time are set.
	Capacity capacity.Settings
	Seed     int // BACKEND_SEED: seed of the service times; 0 = from the clock at start-up
	// Tracing is the OpenTelemetry traces' configuration (OTEL_*): a SERVER span per request,
	// off unless an endpoint is set.
	Tracing tracing.Config
}

// capacityOn reports a configuration that models finite capacity; the default does not.
func (c Config) capacityOn() bool { return c.Capacity.Workers > 0 || !c.Capacity.ServiceTime.IsZero() }

// maxPayload bounds PAYLOAD_BYTES.
const maxPayload = 1 << 20

// settings is the table of backend-service's variables; LoadConfig, Defaults and --help read it.
func settings() []httpserve.Setting[Config] {
	return append([]httpserve.Setting[Config]{
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
		{Name: "BACKEND_WORKERS", Default: "0", Help: "requests /api/data serves at once, more wait in the queue (0 = unlimited)",
			Set: func(c *Config, v string) error { return bounded(v, &c.Capacity.Workers, capacity.CheckWorkers) }},
		{Name: "BACKEND_QUEUE", Default: "100", Help: "requests that may wait for a worker, like Tomcat's acceptCount; more get 503 with Retry-After: 1 (0 = none wait; ignored when BACKEND_WORKERS=0)",
			Set: func(c *Config, v string) error { return bounded(v, &c.Capacity.Queue, capacity.CheckQueue) }},
		{Name: "BACKEND_QUEUE_ORDER", Default: "fifo", Help: "which waiter a freed worker takes: fifo (the oldest) or lifo (the newest, as Facebook's adaptive LIFO)",
			Set: func(c *Config, v string) error {
				var o string
				err := httpserve.Choice(v, &o, string(capacity.FIFO), string(capacity.LIFO))
				c.Capacity.Order = capacity.Order(o)
				return err
			}},
		{Name: "BACKEND_SERVICE_TIME", Default: "0", Help: "the work of one request, a wait holding its worker (never CPU); with BACKEND_WORKERS=0 every request just waits it: " + capacity.ServiceTimeHelp,
			Set: func(c *Config, v string) (err error) {
				c.Capacity.ServiceTime, err = capacity.ParseServiceTime(v)
				return err
			}},
		{Name: "BACKEND_SEED", Default: "0", Help: "seed of the service times' random draws, logged at start-up (0 = from the clock)",
			Set: func(c *Config, v string) error { return httpserve.Int(v, &c.Seed, 0) }},
	}, tracing.Settings("backend-service", func(c *Config) *tracing.Config { return &c.Tracing })...)
}

// bounded parses a whole number into dst and checks it with check.
func bounded(v string, dst *int, check func(int) error) error {
	n, err := strconv.Atoi(v)
	if err != nil {
		n = -1 // not a number: check says what is allowed
	}
	if err := check(n); err != nil {
		return err
	}
	*dst = n
	return nil
}

// LoadConfig reads the configuration from getenv; a bad value is a cmdutil usage error naming
// the variable.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{Capacity: capacity.Settings{Factor: 1}}
	if err := httpserve.Load(settings(), getenv, &c); err != nil {
		return c, err
	}
	return c, httpserve.CheckDrain(c.ShutdownDrain, c.ShutdownTimeout)
}

// Defaults maps every variable of backend-service to its default text.
func Defaults() map[string]string { return httpserve.Defaults(settings()) }
