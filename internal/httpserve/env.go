package httpserve

import (
	"fmt"
	"io"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"chaoslab/internal/cmdutil"
)

// Setting is one environment variable of a service: its name, its default text, what it means,
// and how a value is stored in the configuration C. Set returns what is allowed when the value
// is not; Load adds the variable's name and the value.
type Setting[C any] struct {
	Name    string
	Default string
	Help    string
	Set     func(c *C, value string) error
}

// Load fills c from getenv, using each setting's default for an unset or empty variable. A bad
// value gives a cmdutil usage error of one line naming the variable, the value and what is allowed.
func Load[C any](settings []Setting[C], getenv func(string) string, c *C) error {
	for _, s := range settings {
		v := strings.TrimSpace(getenv(s.Name))
		if v == "" {
			v = s.Default
		}
		if err := s.Set(c, v); err != nil {
			return Invalid(s.Name, v, err.Error())
		}
	}
	return nil
}

// Invalid is the usage error for variable name holding value: "NAME=\"value\": allowed".
func Invalid(name, value, allowed string) error {
	return cmdutil.Usagef("%s=%q: %s", name, value, allowed)
}

// Defaults maps every setting's name to its default text.
func Defaults[C any](settings []Setting[C]) map[string]string {
	m := make(map[string]string, len(settings))
	for _, s := range settings {
		m[s.Name] = s.Default
	}
	return m
}

// Usage writes the --help text of a service: one line about it and the table of its variables.
func Usage[C any](w io.Writer, name, about string, settings []Setting[C]) {
	fmt.Fprintf(w, "Usage: %s\n\n%s\n\nConfigured by environment variables:\n\n", name, about)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  VARIABLE\tDEFAULT\tMEANING")
	for _, s := range settings {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.Name, s.Default, s.Help)
	}
	tw.Flush()
}

// Duration parses a Go duration of at least min into dst.
func Duration(v string, dst *time.Duration, min time.Duration) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("not a duration; use a Go duration such as 500ms, 2s or 1m")
	}
	if d < min {
		return fmt.Errorf("must be a duration of at least %s", fmtMin(min))
	}
	*dst = d
	return nil
}

func fmtMin(min time.Duration) string {
	if min == 1 {
		return "1ns (greater than 0)"
	}
	return min.String()
}

// Int parses a whole number of at least min into dst.
func Int(v string, dst *int, min int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		return fmt.Errorf("must be a whole number of at least %d", min)
	}
	*dst = n
	return nil
}

// Float parses a number in [lo, hi] into dst; loOpen excludes lo itself.
func Float(v string, dst *float64, lo, hi float64, loOpen bool) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < lo || f > hi || (loOpen && f == lo) {
		if loOpen {
			return fmt.Errorf("must be a number greater than %g and at most %g", lo, hi)
		}
		return fmt.Errorf("must be a number from %g to %g", lo, hi)
	}
	*dst = f
	return nil
}

// Choice stores v into dst when it is one of choices.
func Choice(v string, dst *string, choices ...string) error {
	if !slices.Contains(choices, v) {
		return fmt.Errorf("must be one of %s", strings.Join(choices, ", "))
	}
	*dst = v
	return nil
}

// ListenAddr stores v into dst when it is a host:port address a server can listen on.
func ListenAddr(v string, dst *string) error {
	_, port, err := net.SplitHostPort(v)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		return fmt.Errorf("must be host:port or :port with a port from 0 to 65535, such as :8080 or 127.0.0.1:0")
	}
	*dst = v
	return nil
}

// ParseArgs handles a service's command-line arguments: --help prints the usage with the
// variables table and returns cmdutil.ErrHelp; anything else is a usage error, since a service
// is configured by environment variables only.
func ParseArgs[C any](args []string, w io.Writer, name, about string, settings []Setting[C]) error {
	for _, a := range args {
		switch a {
		case "-h", "-help", "--help", "help":
			Usage(w, name, about, settings)
			return cmdutil.ErrHelp
		default:
			return cmdutil.Usagef("unexpected argument %q: %s is configured by environment variables (see --help)", a, name)
		}
	}
	return nil
}

// DrainHelp is the meaning of SHUTDOWN_DRAIN, the same in both services.
const DrainHelp = "on SIGTERM, how long to keep serving with /readyz at 503 before the listener closes, so load balancers stop sending first; part of SHUTDOWN_TIMEOUT (0 = close at once)"

// CheckDrain reports a SHUTDOWN_DRAIN longer than SHUTDOWN_TIMEOUT, of which it is a part.
func CheckDrain(drain, timeout time.Duration) error {
	if drain > timeout {
		return Invalid("SHUTDOWN_DRAIN", drain.String(), fmt.Sprintf("must not exceed SHUTDOWN_TIMEOUT (%s)", timeout))
	}
	return nil
}
