package wait

import (
	"context"
	"testing"
	"time"
)

func TestFor(t *testing.T) {
	if !For(context.Background(), time.Millisecond) {
		t.Error("a whole wait must say so")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if For(ctx, time.Hour) {
		t.Error("a wait cut by its context must say so")
	}
	if time.Since(start) > time.Minute {
		t.Error("a cancelled context must end the wait at once")
	}
}
