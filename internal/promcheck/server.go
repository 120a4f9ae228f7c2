package promcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrNoPrometheus is returned by Start when no prometheus binary can be found.
var ErrNoPrometheus = errors.New("promcheck: prometheus not found (Debian: apt-get install prometheus)")

// Config says how to start a Prometheus.
type Config struct {
	Binary string // the prometheus program; "" = "prometheus" on PATH
	Dir    string // a folder of the caller's that holds the configuration and the storage (required)
	// ScrapeConfig is the whole prometheus.yml to run with.
	ScrapeConfig []byte
	// ReadyTimeout bounds the wait for /-/ready (default 30s).
	ReadyTimeout time.Duration
	// Log receives the server's output (nil = a file prometheus.log in Dir).
	Log io.Writer
}

// Server is a running Prometheus on 127.0.0.1. Close stops it. Its methods are safe for
// concurrent use.
type Server struct {
	URL  string // http://127.0.0.1:PORT
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
	err  error         // the process's exit, valid after done
	log  *os.File      // the log file Start opened, if any
	http *http.Client
}

// Start writes cfg.ScrapeConfig into cfg.Dir, starts prometheus on a free loopback port with
// its storage in cfg.Dir, and returns once it answers /-/ready. The caller must Close it.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	bin := cfg.Binary
	if bin == "" {
		bin = "prometheus"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoPrometheus, err)
	}
	if cfg.Dir == "" {
		return nil, errors.New("promcheck: Config.Dir is required (a folder for the configuration and the storage)")
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = 30 * time.Second
	}
	conf := filepath.Join(cfg.Dir, "prometheus.yml")
	if err := os.WriteFile(conf, cfg.ScrapeConfig, 0o644); err != nil {
		return nil, fmt.Errorf("promcheck: write the configuration: %w", err)
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + addr, done: make(chan struct{}), http: &http.Client{Timeout: 10 * time.Second}}
	out := cfg.Log
	if out == nil {
		if s.log, err = os.Create(filepath.Join(cfg.Dir, "prometheus.log")); err != nil {
			return nil, fmt.Errorf("promcheck: create the log: %w", err)
		}
		out = s.log
	}
	s.cmd = exec.Command(path, "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(cfg.Dir, "data"),
		"--web.listen-address="+addr, "--storage.tsdb.retention.time=1h", "--log.level=warn")
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		s.closeLog()
		return nil, fmt.Errorf("promcheck: start %s: %w", path, err)
	}
	go func() { s.err = s.cmd.Wait(); close(s.done) }()
	if err := s.waitReady(ctx, cfg.ReadyTimeout); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// freePort returns a loopback address whose port was free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("promcheck: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
		if resp, err := s.http.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("promcheck: prometheus exited before it was ready (%v); see its log", s.err)
		case <-ctx.Done():
			return fmt.Errorf("promcheck: prometheus at %s not ready within %v: %w", s.URL, timeout, ctx.Err())
		case <-tick.C:
		}
	}
}

// Close kills the server and waits for it to exit. Calling it twice is safe.
func (s *Server) Close() error {
	if s.cmd.Process != nil {
		select {
		case <-s.done:
		default:
			_ = s.cmd.Process.Kill()
		}
		<-s.done
	}
	s.closeLog()
	return nil
}

func (s *Server) closeLog() {
	if s.log != nil {
		s.log.Close()
		s.log = nil
	}
}

// Sample is one series of a query's answer: its labels, its value (the last one of a range
// query's) and all its values (one for an instant query, one per step of a range query).
type Sample struct {
	Metric map[string]string
	Value  float64
	Values []float64
}

// Result is a query's answer: its type (vector, scalar, matrix, string) and its series.
type Result struct {
	Type   string
	Series []Sample
}

// String shows the result compactly: each series' labels and value, or "(empty)".
func (r Result) String() string {
	if len(r.Series) == 0 {
		return "(empty)"
	}
	parts := make([]string, 0, len(r.Series))
	for _, s := range r.Series {
		parts = append(parts, labelString(s.Metric)+" "+strconv.FormatFloat(s.Value, 'g', 4, 64))
	}
	return strings.Join(parts, "; ")
}

// Query evaluates expr at the moment at (an instant query) and returns its result; a PromQL
// error (a bad expression) is an error naming the expression.
func (s *Server) Query(ctx context.Context, expr string, at time.Time) (Result, error) {
	q := url.Values{"query": {expr}, "time": {unixSeconds(at)}}
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := s.get(ctx, "/api/v1/query?"+q.Encode(), &data); err != nil {
		return Result{}, fmt.Errorf("query %q: %w", expr, err)
	}
	r, err := decodeResult(data.ResultType, data.Result)
	if err != nil {
		return Result{}, fmt.Errorf("query %q: %w", expr, err)
	}
	return r, nil
}

// QueryRange evaluates expr at every step from start to end, as a graph panel asks.
func (s *Server) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) (Result, error) {
	q := url.Values{"query": {expr}, "start": {unixSeconds(start)}, "end": {unixSeconds(end)},
		"step": {strconv.FormatFloat(step.Seconds(), 'f', 3, 64)}}
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := s.get(ctx, "/api/v1/query_range?"+q.Encode(), &data); err != nil {
		return Result{}, fmt.Errorf("range query %q: %w", expr, err)
	}
	r, err := decodeResult(data.ResultType, data.Result)
	if err != nil {
		return Result{}, fmt.Errorf("range query %q: %w", expr, err)
	}
	return r, nil
}

// unixSeconds writes t as the API's seconds since the epoch, to the millisecond.
func unixSeconds(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

// LabelValues returns the values of label on the series that match selector ("" = all series),
// as Grafana's label_values(selector, label) asks for them.
func (s *Server) LabelValues(ctx context.Context, label, selector string) ([]string, error) {
	q := url.Values{}
	if selector != "" {
		q.Set("match[]", selector)
	}
	var values []string
	if err := s.get(ctx, "/api/v1/label/"+url.PathEscape(label)+"/values?"+q.Encode(), &values); err != nil {
		return nil, fmt.Errorf("label values of %s on %q: %w", label, selector, err)
	}
	return values, nil
}

// Target is one scrape target as /api/v1/targets reports it.
type Target struct {
	Job       string
	ScrapeURL string
	Health    string // up, down, unknown
	LastError string
}

// Targets returns the active scrape targets.
func (s *Server) Targets(ctx context.Context) ([]Target, error) {
	var data struct {
		Active []struct {
			Labels    map[string]string `json:"labels"`
			ScrapeURL string            `json:"scrapeUrl"`
			Health    string            `json:"health"`
			LastError string            `json:"lastError"`
		} `json:"activeTargets"`
	}
	if err := s.get(ctx, "/api/v1/targets?state=active", &data); err != nil {
		return nil, fmt.Errorf("targets: %w", err)
	}
	out := make([]Target, 0, len(data.Active))
	for _, a := range data.Active {
		out = append(out, Target{Job: a.Labels["job"], ScrapeURL: a.ScrapeURL, Health: a.Health, LastError: a.LastError})
	}
	return out, nil
}

// get calls the HTTP API and decodes its "data" into v.
func (s *Server) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("HTTP %d, undecodable answer: %w", resp.StatusCode, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, env.Error)
	}
	return json.Unmarshal(env.Data, v)
}
