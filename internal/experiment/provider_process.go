package experiment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// processWaitDelay bounds how long a killed process's pipes may stay open (a grandchild that
// escaped the process group).
const processWaitDelay = 2 * time.Second

func validateProcess(p *Object) []string {
	var problems []string
	path, ok := getString(p, "path")
	if !ok || path == "" {
		problems = append(problems, "provider.path is required")
	} else if !strings.Contains(path, "$") {
		if _, err := exec.LookPath(expandHome(path)); err != nil {
			problems = append(problems, fmt.Sprintf("provider.path %q cannot be found: %v", path, err))
		}
	}
	if a, ok := p.Get("arguments"); ok && a != nil {
		switch a.(type) {
		case []any, string, *Object:
		default:
			problems = append(problems, "provider.arguments must be a list, a string or an object")
		}
	}
	if _, _, problem := timeoutSeconds(p); problem != "" {
		problems = append(problems, problem)
	}
	return problems
}

// runProcess is chaoslib's process provider: list arguments run without a shell ("" and null
// dropped, values stringified as Python's str()); string arguments run as
// `/bin/sh -c "<path> <arguments>"`. The output is {status, stdout, stderr}; a non-zero exit is
// not a failure, a timeout is. The process runs in its own process group, killed as a whole on
// timeout or cancellation.
func runProcess(ctx context.Context, p *Object, _ providerEnv) (any, error) {
	rawPath, _ := getString(p, "path")
	path, err := exec.LookPath(expandHome(rawPath))
	if err != nil {
		return nil, &activityFailed{msg: fmt.Sprintf("path '%s' cannot be found, in activity", rawPath)}
	}
	runCtx := ctx
	if secs, ok, _ := timeoutSeconds(p); ok {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, time.Duration(secs*float64(time.Second)))
		defer cancel()
	}
	cmd := processCommand(runCtx, path, mustGet(p, "arguments"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if runCtx.Err() != nil {
		return nil, &activityFailed{msg: "process activity took too long to complete"}
	}
	status, err := exitStatus(cmd, err)
	if err != nil {
		return nil, &activityFailed{msg: fmt.Sprintf("failed to run %s: %v", path, err)}
	}
	return NewObject("status", status, "stdout", stdout.String(), "stderr", stderr.String()), nil
}

func processCommand(ctx context.Context, path string, args any) *exec.Cmd {
	var cmd *exec.Cmd
	if s, ok := args.(string); ok {
		cmd = exec.CommandContext(ctx, "/bin/sh", "-c", path+" "+s)
	} else {
		cmd = exec.CommandContext(ctx, path, processArgs(args)...)
	}
	cmd.Env = os.Environ()
	inOwnProcessGroup(cmd)
	cmd.WaitDelay = processWaitDelay
	return cmd
}

// processArgs turns list (or object) arguments into argv, as chaoslib does: "" and null
// dropped, the rest stringified; an object gives --key value pairs.
func processArgs(args any) []string {
	var list []any
	switch t := args.(type) {
	case []any:
		list = t
	case *Object:
		for _, k := range t.Keys() {
			v, _ := t.Get(k)
			list = append(list, "--"+k, v)
		}
	}
	var argv []string
	for _, a := range list {
		if a == nil || a == "" {
			continue
		}
		argv = append(argv, pyStr(a))
	}
	return argv
}

// exitStatus is the process's return code as Python reports it: the exit code, or minus the
// signal number when a signal killed it.
func exitStatus(cmd *exec.Cmd, err error) (int64, error) {
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 0, err
	}
	if sig, ok := killedBySignal(cmd.ProcessState); ok {
		return -int64(sig), nil
	}
	return int64(cmd.ProcessState.ExitCode()), nil
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}
