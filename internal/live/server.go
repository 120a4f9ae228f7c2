package live

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// DefaultAddr is where the page listens unless told otherwise: a free port on the loopback.
const DefaultAddr = "127.0.0.1:0"

// Config says what the server shows and where.
type Config struct {
	Addr       string       // default "127.0.0.1:0"; a host that is not a loopback address is refused
	Hub        *Hub         // what the page shows; required
	Actions    Actions      // nil: no buttons (chaoslab run --ui)
	ResultsDir string       // served read-only under /results/ once the run is Done, so the page can link report.html
	Logger     *slog.Logger // nil = discard
}

// Server is the live page's HTTP server, listening on the loopback. Its methods are safe for
// concurrent use.
type Server struct {
	http   *http.Server
	url    string
	cancel context.CancelFunc // ends every stream and every action in flight
	served chan error
}

// Start listens on cfg.Addr, serves the page in the background and returns at once.
func Start(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if cfg.Hub == nil {
		return nil, errors.New("live: Config.Hub is required")
	}
	addr, err := loopbackAddr(cfg.Addr)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("live page: listen on %s: %w", addr, err)
	}
	cfg.Hub.setLogger(cfg.Logger)
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cancel: cancel, served: make(chan error, 1), url: "http://" + ln.Addr().String() + "/"}
	s.http = &http.Server{
		Handler:           newHandler(cfg),
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	go func() { s.served <- s.http.Serve(ln) }()
	return s, nil
}

// URL returns the page's address: "http://127.0.0.1:PORT/".
func (s *Server) URL() string { return s.url }

// Close ends every stream and action in flight and stops the server, waiting for its handlers
// until ctx is done.
func (s *Server) Close(ctx context.Context) error {
	s.cancel()
	err := s.http.Shutdown(ctx)
	if err != nil {
		s.http.Close()
	}
	if serr := <-s.served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c.Logger = c.Logger.With("component", "live")
	return c
}

// loopbackAddr checks that addr's host is a loopback address ("localhost" is 127.0.0.1) and
// returns the address to listen on.
func loopbackAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("live page address %q: %w (want 127.0.0.1:PORT)", addr, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("live page address %q: the page listens on the loopback only (127.0.0.1 or ::1): it can inject faults", addr)
	}
	return net.JoinHostPort(host, port), nil
}

// loopbackHost reports whether a request's Host names the loopback, so a page of another site
// cannot reach this server through a DNS name rebound to 127.0.0.1.
func loopbackHost(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
