package cmdutil

import (
	"errors"
	"fmt"
	"testing"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, ExitOK},
		{"help", fmt.Errorf("x: %w", ErrHelp), ExitOK},
		{"usage", Usagef("LISTEN_ADDR=%q: not a host:port", "x"), ExitUsage},
		{"wrapped usage", fmt.Errorf("config: %w", Usagef("bad")), ExitUsage},
		{"failed", fmt.Errorf("deviated: %w", ErrFailed), ExitFailure},
		{"other", errors.New("boom"), ExitFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ExitCode(tt.err); got != tt.want {
				t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}

func TestUsagefMessage(t *testing.T) {
	err := Usagef("RETRY_MAX_RETRIES=%q: must be a whole number >= 0", "-1")
	if got, want := err.Error(), `RETRY_MAX_RETRIES="-1": must be a whole number >= 0`; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
}
