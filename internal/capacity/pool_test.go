package capacity

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestQueueOrder(t *testing.T) {
	tests := []struct {
		order Order
		want  []string
	}{
		{FIFO, []string{"a", "b", "c", "d"}},
		{LIFO, []string{"a", "d", "c", "b"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.order), func(t *testing.T) {
			g := newGate()
			p := newPool(t, Settings{Workers: 1, Queue: 3, Order: tt.order}, g)
			var outs []<-chan Outcome
			for i, label := range []string{"a", "b", "c", "d"} {
				outs = append(outs, goDo(p, labelled(label), time.Time{}))
				if i == 0 {
					if got := g.next(t); got != "a" {
						t.Fatalf("first in service %q, want a", got)
					}
					continue
				}
				waitFor(t, "the queue to grow", func() bool { return queued(p) == i })
			}
			got := []string{"a"}
			for range 3 {
				g.free(t)
				got = append(got, g.next(t))
			}
			g.free(t)
			if !slices.Equal(got, tt.want) {
				t.Errorf("served %v, want %v", got, tt.want)
			}
			for _, o := range outs {
				if got := outcomeOf(t, o); got != Completed {
					t.Errorf("outcome %v, want completed", got)
				}
			}
		})
	}
}

func TestFullQueueRejectsAtOnce(t *testing.T) {
	g := newGate()
	p := newPool(t, Settings{Workers: 2, Queue: 1}, g)
	a, b := goDo(p, labelled("a"), time.Time{}), goDo(p, labelled("b"), time.Time{})
	g.next(t)
	g.next(t)
	c := goDo(p, labelled("c"), time.Time{})
	waitFor(t, "c to queue", func() bool { return queued(p) == 1 })
	// d runs in the test's own goroutine while every worker is held: only an answer that does
	// not wait lets the test go on.
	if got := p.Do(labelled("d"), time.Time{}); got != Rejected {
		t.Fatalf("4th request: %v, want rejected", got)
	}
	for range 3 {
		g.free(t)
	}
	for _, o := range []<-chan Outcome{a, b, c} {
		outcomeOf(t, o)
	}
	if _, st := p.Snapshot(); st != (Stats{Rejected: 1, Completed: 3}) {
		t.Errorf("stats %+v, want 1 rejected, 3 completed", st)
	}
}

func TestCallerGoneWastesTheWork(t *testing.T) {
	g := newGate()
	p := newPool(t, Settings{Workers: 1}, g)
	ctx, cancel := context.WithCancel(labelled("a"))
	a := goDo(p, ctx, time.Time{})
	g.next(t)
	cancel()
	select {
	case got := <-goDo(p, labelled("b"), time.Time{}):
		if got != Rejected {
			t.Fatalf("while the gone caller's work holds the only worker: %v, want rejected", got)
		}
	case s := <-g.started:
		t.Fatalf("%s entered service: the gone caller's worker was freed", s.label)
	}
	g.free(t)
	// Wasted, not cut: the work went on to its end after the caller left.
	if got := outcomeOf(t, a); got != Wasted {
		t.Fatalf("outcome %v, want wasted", got)
	}
	c := goDo(p, labelled("c"), time.Time{})
	g.next(t)
	g.free(t)
	if got := outcomeOf(t, c); got != Completed {
		t.Errorf("after the worker is free: %v, want completed", got)
	}
	if _, st := p.Snapshot(); st != (Stats{Rejected: 1, Wasted: 1, Completed: 1}) {
		t.Errorf("stats %+v", st)
	}
}

func TestDeadline(t *testing.T) {
	t.Run("queued past it: dropped", func(t *testing.T) {
		g := newGate()
		p := newPool(t, Settings{Workers: 1, Queue: 1}, g)
		a := goDo(p, labelled("a"), time.Time{})
		g.next(t)
		start := time.Now()
		if got := p.Do(labelled("b"), start.Add(20*time.Millisecond)); got != Expired {
			t.Fatalf("outcome %v, want expired", got)
		}
		if waited := time.Since(start); waited < 20*time.Millisecond {
			t.Errorf("dropped after %v, before its deadline", waited)
		}
		if queued(p) != 0 {
			t.Error("the expired request is still queued")
		}
		g.free(t)
		outcomeOf(t, a)
		if _, st := p.Snapshot(); st != (Stats{Expired: 1, Completed: 1}) {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("in service past it: cut, worker freed", func(t *testing.T) {
		g := newGate() // never released: only the deadline ends a's work
		p := newPool(t, Settings{Workers: 1}, g)
		a := goDo(p, labelled("a"), time.Now().Add(10*time.Millisecond))
		g.next(t)
		if got := outcomeOf(t, a); got != Cut {
			t.Fatalf("outcome %v, want cut", got)
		}
		b := goDo(p, labelled("b"), time.Time{})
		if got := g.next(t); got != "b" {
			t.Fatalf("next in service %q, want b", got)
		}
		g.free(t)
		outcomeOf(t, b)
		if _, st := p.Snapshot(); st != (Stats{Wasted: 1, Completed: 1}) {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("finished in time: completed", func(t *testing.T) {
		p := newPool(t, Settings{Workers: 1, ServiceTime: ServiceTime{a: time.Millisecond}}, nil)
		if got := p.Do(context.Background(), time.Now().Add(time.Minute)); got != Completed {
			t.Errorf("outcome %v, want completed", got)
		}
	})
}

func TestUpdateAndReset(t *testing.T) {
	g := newGate()
	p := newPool(t, Settings{Workers: 2, Queue: 5}, g)
	outs := []<-chan Outcome{goDo(p, labelled("a"), time.Time{}), goDo(p, labelled("b"), time.Time{})}
	g.next(t)
	g.next(t)
	for i, label := range []string{"c", "d"} {
		outs = append(outs, goDo(p, labelled(label), time.Time{}))
		waitFor(t, label+" to queue", func() bool { return queued(p) == i+1 })
	}
	if _, err := p.Update(func(s *Settings) { s.Workers = 1 }); err != nil {
		t.Fatal(err)
	}
	if n := inService(p); n != 2 {
		t.Fatalf("fewer workers stopped requests in service: %d in service, want 2", n)
	}
	g.free(t)
	waitFor(t, "one to finish", func() bool { return inService(p) == 1 })
	if n := queued(p); n != 2 {
		t.Fatalf("with 1 worker busy and a limit of 1, %d queued, want 2", n)
	}
	g.free(t)
	if got := g.next(t); got != "c" {
		t.Fatalf("next %q, want c: the queue keeps its order", got)
	}
	if _, err := p.Update(func(s *Settings) { s.Workers = 3 }); err != nil {
		t.Fatal(err)
	}
	if got := g.next(t); got != "d" {
		t.Fatalf("more workers: next %q, want d at once", got)
	}
	if _, err := p.Update(func(s *Settings) { s.Workers = -1 }); err == nil {
		t.Error("workers -1 accepted")
	}
	if s := p.Reset(); s.Workers != 2 || s.Queue != 5 {
		t.Errorf("Reset = %+v, want the start-up settings", s)
	}
	g.free(t)
	g.free(t)
	for _, o := range outs {
		outcomeOf(t, o)
	}
}

func TestFactorScalesTheServiceTime(t *testing.T) {
	g := newGate()
	p := newPool(t, Settings{Workers: 1, ServiceTime: ServiceTime{a: 2 * time.Millisecond}, Factor: 3}, g)
	out := goDo(p, labelled("a"), time.Time{})
	if s := <-g.started; s.d != 6*time.Millisecond {
		t.Errorf("service time %v, want 2ms × 3", s.d)
	}
	g.free(t)
	outcomeOf(t, out)
}

func TestClose(t *testing.T) {
	g := newGate()
	p := newPool(t, Settings{Workers: 1, Queue: 1}, g)
	a := goDo(p, labelled("a"), time.Time{})
	g.next(t)
	b := goDo(p, labelled("b"), time.Time{})
	waitFor(t, "b to queue", func() bool { return queued(p) == 1 })
	p.Close()
	for name, o := range map[string]<-chan Outcome{"in service": a, "queued": b} {
		if got := outcomeOf(t, o); got != Closed {
			t.Errorf("%s: %v, want closed", name, got)
		}
	}
	if got := p.Do(labelled("c"), time.Time{}); got != Closed {
		t.Errorf("after Close: %v, want closed", got)
	}
}

// TestServiceTimeIsAWait: 200 requests of 10ms on 200 workers end in about 10ms of wall time.
// Burning CPU instead would take at least 1s on two cores.
func TestServiceTimeIsAWait(t *testing.T) {
	p := newPool(t, Settings{Workers: 200, ServiceTime: ServiceTime{a: 10 * time.Millisecond}}, nil)
	var wg sync.WaitGroup
	start := time.Now()
	for range 200 {
		wg.Go(func() {
			if got := p.Do(context.Background(), time.Time{}); got != Completed {
				t.Errorf("outcome %v", got)
			}
		})
	}
	wg.Wait()
	if wall := time.Since(start); wall < 10*time.Millisecond || wall > 500*time.Millisecond {
		t.Errorf("200 × 10ms on 200 workers took %v, want about 10ms", wall)
	}
}

// TestCountersMatchOutcomes: under a mixed concurrent load, the pool's counters equal the
// test's own count of the outcomes Do returned.
func TestCountersMatchOutcomes(t *testing.T) {
	st, _ := ParseServiceTime("uniform:0s-2ms")
	p := newPool(t, Settings{Workers: 2, Queue: 3, Order: LIFO, ServiceTime: st}, nil)
	var mu sync.Mutex
	count := map[Outcome]int64{}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 0))
			for range 15 {
				ctx, cancel := context.WithCancel(context.Background())
				if r.IntN(4) == 0 {
					cancel() // a caller already gone
				}
				var deadline time.Time
				if r.IntN(3) == 0 {
					deadline = time.Now().Add(time.Duration(r.IntN(2000)) * time.Microsecond)
				}
				o := p.Do(ctx, deadline)
				cancel()
				mu.Lock()
				count[o]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	want := Stats{Rejected: count[Rejected], Expired: count[Expired], Completed: count[Completed], Wasted: count[Wasted] + count[Cut]}
	if _, got := p.Snapshot(); got != want {
		t.Errorf("stats %+v, outcomes counted %v", got, count)
	}
	if count[Completed] == 0 || count[Rejected] == 0 || count[Wasted] == 0 {
		t.Errorf("the load did not reach every outcome: %v", count)
	}
}
