package capacity

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// labelKey carries a request's label in its context, so a gate knows who starts its service.
type labelKey struct{}

func labelled(label string) context.Context {
	return context.WithValue(context.Background(), labelKey{}, label)
}

// gate is a Work that reports each request entering service (its label and drawn service
// time) and holds it until the test releases it, or its work context ends.
type gate struct {
	started chan started
	release chan struct{}
}

type started struct {
	label string
	d     time.Duration
}

func newGate() *gate { return &gate{started: make(chan started, 1000), release: make(chan struct{})} }

func (g *gate) work(ctx context.Context, d time.Duration) error {
	label, _ := ctx.Value(labelKey{}).(string)
	g.started <- started{label, d}
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// free ends the service of one request in service.
func (g *gate) free(t *testing.T) {
	t.Helper()
	select {
	case g.release <- struct{}{}:
	case <-time.After(5 * time.Second):
		t.Fatal("no request in service to release")
	}
}

// next is the label of the next request to enter service.
func (g *gate) next(t *testing.T) string {
	t.Helper()
	select {
	case s := <-g.started:
		return s.label
	case <-time.After(5 * time.Second):
		t.Fatal("no request entered service")
		return ""
	}
}

// newPool makes a pool with s (Factor 1 when unset) whose work is g's.
func newPool(t *testing.T, s Settings, g *gate) *Pool {
	t.Helper()
	if s.Order == "" {
		s.Order = FIFO
	}
	if s.Factor == 0 {
		s.Factor = 1
	}
	o := Options{Rand: rand.New(rand.NewPCG(1, 0))}
	if g != nil {
		o.Work = g.work
	}
	p, err := New(s, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// waitFor waits until cond holds: a condition, never a fixed sleep, decides.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func queued(p *Pool) int    { _, st := p.Snapshot(); return st.Queued }
func inService(p *Pool) int { _, st := p.Snapshot(); return st.InService }

// goDo runs Do in the background; the outcome arrives on the channel.
func goDo(p *Pool, ctx context.Context, deadline time.Time) <-chan Outcome {
	out := make(chan Outcome, 1)
	go func() { out <- p.Do(ctx, deadline) }()
	return out
}

func outcomeOf(t *testing.T, c <-chan Outcome) Outcome {
	t.Helper()
	select {
	case o := <-c:
		return o
	case <-time.After(5 * time.Second):
		t.Fatal("Do did not return")
		return -2
	}
}
