package sidecar

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"chaoslab/internal/httpserve"
)

// Config is the fault proxy's configuration, read from environment variables.
type Config struct {
	ListenAddr      string        // the data port: the backend's Service targets it
	FaultAPIAddr    string        // the fault API, with /healthz and /readyz
	Upstream        string        // the backend, host:port on loopback
	Process         string        // the backend's command name, as process faults find it in /proc
	RestartWait     time.Duration // how long a start waits for the kubelet to restart a killed backend
	ShutdownTimeout time.Duration
	ShutdownDrain   time.Duration // part of ShutdownTimeout: serving on with /readyz at 503
	LogFormat       string
	LogLevel        string
	// SpikeTargets are the entry clients' base URLs a load spike sends to, comma-separated
	// (SPIKE_TARGETS; "" = no spike: the pod fronts the backend only). Text, so Config compares.
	SpikeTargets string
}

// settings is the table of the fault proxy's variables; LoadConfig, Defaults and --help read it.
func settings() []httpserve.Setting[Config] {
	return []httpserve.Setting[Config]{
		{Name: "LISTEN_ADDR", Default: ":8082", Help: "the data port, where the backend's Service sends clients: Toxiproxy, then the HTTP fault injector, then UPSTREAM",
			Set: func(c *Config, v string) error { return httpserve.ListenAddr(v, &c.ListenAddr) }},
		{Name: "FAULT_API_ADDR", Default: ":8474", Help: "the fault API (Toxiproxy's routes, /faults/http, /processes, /faults/flapping, /faults/capacity (UPSTREAM's /api/capacity), /faults/spike (SPIKE_TARGETS), /reset), /healthz and /readyz",
			Set: func(c *Config, v string) error { return httpserve.ListenAddr(v, &c.FaultAPIAddr) }},
		{Name: "UPSTREAM", Default: "127.0.0.1:8081", Help: "the backend, host:port (in the pod: loopback)",
			Set: func(c *Config, v string) error { return hostPort(v, &c.Upstream) }},
		{Name: "BACKEND_PROCESS", Default: "backend-service", Help: "the backend's command name (argv[0]'s base name in /proc/PID/cmdline): POST /processes/NAME/kill signals it; needs shareProcessNamespace: true and the same UID",
			Set: func(c *Config, v string) error { return commandName(v, &c.Process) }},
		{Name: "RESTART_WAIT", Default: "2m", Help: "how long POST /processes/NAME/start and /reset wait for the kubelet to restart a killed backend",
			Set: func(c *Config, v string) error { return httpserve.Duration(v, &c.RestartWait, time.Millisecond) }},
		{Name: "SPIKE_TARGETS", Default: "", Help: "the entry clients' base URLs, comma-separated (http://edge:8080): POST /faults/spike sends its extra GET /api/data there, from inside the cluster; empty = no load spike (501)",
			Set: func(c *Config, v string) error { return baseURLs(v, &c.SpikeTargets) }},
		{Name: "SHUTDOWN_TIMEOUT", Default: "10s", Help: "how long requests in flight may finish on SIGTERM",
			Set: func(c *Config, v string) error { return httpserve.Duration(v, &c.ShutdownTimeout, 0) }},
		{Name: "SHUTDOWN_DRAIN", Default: "0s", Help: httpserve.DrainHelp,
			Set: func(c *Config, v string) error { return httpserve.Duration(v, &c.ShutdownDrain, 0) }},
		{Name: "LOG_FORMAT", Default: "text", Help: "text or json (json: the fault and process records as JSON lines)",
			Set: func(c *Config, v string) error { return httpserve.Choice(v, &c.LogFormat, "text", "json") }},
		{Name: "LOG_LEVEL", Default: "info", Help: "debug, info, warn or error; the fault and process records are info",
			Set: func(c *Config, v string) error {
				return httpserve.Choice(v, &c.LogLevel, "debug", "info", "warn", "error")
			}},
	}
}

// LoadConfig reads the configuration from getenv; a bad value is a cmdutil usage error of one
// line naming the variable.
func LoadConfig(getenv func(string) string) (Config, error) {
	var c Config
	if err := httpserve.Load(settings(), getenv, &c); err != nil {
		return c, err
	}
	return c, httpserve.CheckDrain(c.ShutdownDrain, c.ShutdownTimeout)
}

// Defaults maps every variable of the fault proxy to its default text.
func Defaults() map[string]string { return httpserve.Defaults(settings()) }

// level is LOG_LEVEL as a slog level.
func (c Config) level() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return slog.LevelInfo // not reached: LOG_LEVEL allows only slog's level names
	}
	return l
}

// hostPort stores v into dst when it is host:port with a host and a port from 1 to 65535.
func hostPort(v string, dst *string) error {
	host, port, err := net.SplitHostPort(v)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || host == "" || n < 1 || n > 65535 {
		return fmt.Errorf("must be host:port with a port from 1 to 65535, such as 127.0.0.1:8081")
	}
	*dst = v
	return nil
}

// Spikes are the entry clients a load spike sends to (SPIKE_TARGETS), none when unset.
func (c Config) Spikes() []string {
	if c.SpikeTargets == "" {
		return nil
	}
	return strings.Split(c.SpikeTargets, ",")
}

// baseURLs stores v into dst when it is "" or a comma-separated list of http(s)://host:port
// base URLs without a path.
func baseURLs(v string, dst *string) error {
	if v != "" {
		for _, u := range strings.Split(v, ",") {
			p, err := url.Parse(u)
			if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.Port() == "" || strings.Trim(p.Path, "/") != "" || p.RawQuery != "" {
				return fmt.Errorf("must be base URLs with a port, comma-separated, such as http://edge:8080 (%q is not)", u)
			}
		}
	}
	*dst = v
	return nil
}

// commandName stores v into dst when it can be a command's base name and a route segment.
func commandName(v string, dst *string) error {
	ok := v != "" && v != "." && v != ".."
	for _, r := range v {
		ok = ok && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r))
	}
	if !ok {
		return fmt.Errorf("must be a command name of letters, digits, '.', '-' and '_', such as backend-service")
	}
	*dst = v
	return nil
}
