package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"chaoslab/internal/cmdutil"
	"chaoslab/internal/experiment"
)

// newFlags makes a FlagSet whose --help prints the given text and the flags to w.
func newFlags(name, help string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprint(w, strings.TrimLeft(help, "\n"))
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses flags that may come before or after the positional arguments, and turns flag
// errors into usage errors (exit 2) and --help into ErrHelp.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) { // the flag package has printed fs.Usage
				return nil, cmdutil.ErrHelp
			}
			return nil, cmdutil.Usagef("%s: %v (chaoslab %s --help)", fs.Name(), err, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// varsFlag collects --var key[:type]=value.
type varsFlag map[string]any

func (v varsFlag) String() string { return "" }
func (v varsFlag) Set(s string) error {
	k, val, err := experiment.ParseVar(s)
	if err != nil {
		return err
	}
	v[k] = val
	return nil
}

// envFlag collects --env KEY=VALUE.
type envFlag map[string]string

func (e envFlag) String() string { return "" }
func (e envFlag) Set(s string) error {
	k, val, ok := strings.Cut(s, "=")
	if !ok || k == "" || strings.ContainsAny(k, " \t") {
		return fmt.Errorf("want KEY=VALUE, e.g. --env RETRY_INITIAL_BACKOFF=100ms, got %q", s)
	}
	e[k] = val
	return nil
}

// tracesFlag is --traces: on (the default) or off; a value, not a bool flag, so that
// "--traces off" works as "--traces=off" does.
type tracesFlag struct{ on bool }

func (t *tracesFlag) String() string {
	if t == nil || t.on {
		return "on"
	}
	return "off"
}

func (t *tracesFlag) Set(s string) error {
	switch s {
	case "on", "true":
		t.on = true
	case "off", "false":
		t.on = false
	default:
		return fmt.Errorf("want on or off, got %q", s)
	}
	return nil
}
