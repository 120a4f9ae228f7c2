package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"chaoslab/internal/results"
)

// ServiceJSON is the service bench's result file, in --out.
const ServiceJSON = "service.json"

// ServiceFileVersion is the version of ServiceFile's schema.
const ServiceFileVersion = 1

// ServiceFile is service.json: the settings and every run's figures. Durations are numbers of
// milliseconds, as everywhere in the results.
type ServiceFile struct {
	Version   int               `json:"version"`
	Rates     []float64         `json:"rates"`
	Healthy   results.Duration  `json:"healthy_ms"`
	Cycles    int               `json:"cycles"`
	Workers   int               `json:"workers"`
	Warmup    results.Duration  `json:"warmup_ms"`
	Slice     results.Duration  `json:"slice_ms"`
	Rounds    int               `json:"rounds"`
	HAProxy   string            `json:"haproxy,omitempty"`
	ClientEnv map[string]string `json:"client_env"`
	Runs      []ServiceRun      `json:"runs"`
	Error     string            `json:"error,omitempty"` // why the bench stopped early
}

// NewServiceFile describes cfg's runs; stopped is the error that ended the bench early, if any.
func NewServiceFile(cfg ServiceConfig, runs []ServiceRun, stopped error) ServiceFile {
	f := ServiceFile{Version: ServiceFileVersion, Rates: cfg.Rates, Healthy: results.Duration(cfg.Healthy), Cycles: cfg.Cycles,
		Workers: cfg.Workers, Warmup: results.Duration(cfg.Warmup), Slice: results.Duration(cfg.Slice), Rounds: cfg.Rounds,
		HAProxy: cfg.HAProxy, ClientEnv: cfg.ClientEnv, Runs: runs}
	if stopped != nil {
		f.Error = stopped.Error()
	}
	return f
}

// Write writes f as dir/service.json and returns its path.
func (f ServiceFile) Write(dir string) (string, error) {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", ServiceJSON, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	path := filepath.Join(dir, ServiceJSON)
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}

// ReadServiceFile reads a service.json.
func ReadServiceFile(path string) (ServiceFile, error) {
	var f ServiceFile
	b, err := os.ReadFile(path)
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}
