package capacity

import (
	"context"
	"time"
)

// Do runs one request through the pool: it takes a free worker or waits in the queue for one
// (rejected at once when the queue is full), holds it for one drawn service time, frees it and
// says what became of the request.
//
// ctx is the request's own: its end means the caller has gone, which neither takes the request
// out of the queue nor stops its work (a server seldom notices): the work is wasted. A non-zero
// deadline is the time after which the caller no longer wants the answer: a request still
// queued then is dropped (Expired), work still in service then stops (Cut).
func (p *Pool) Do(ctx context.Context, deadline time.Time) Outcome {
	w, out := p.admit()
	if out != admitted {
		return out
	}
	if w != nil {
		if out := p.await(w, deadline); out != admitted {
			return out
		}
	}
	d := p.draw()
	wctx, cancel := p.workContext(ctx, deadline)
	err := p.work(wctx, d)
	cancel()
	return p.finish(ctx, deadline, err)
}

// admit gives the request a worker (no waiter) or a place in the queue (its waiter), or says
// why not.
func (p *Pool) admit() (*waiter, Outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.life.Err() != nil:
		return nil, Closed
	case p.free():
		p.busy++
		return nil, admitted
	case p.queue.Len() >= p.set.Queue:
		p.stats.Rejected++
		return nil, Rejected
	}
	w := &waiter{granted: make(chan struct{})}
	w.elem = p.queue.PushBack(w)
	return w, admitted
}

// await waits until w gets a worker, its deadline passes or the pool closes.
func (p *Pool) await(w *waiter, deadline time.Time) Outcome {
	var expire <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		expire = t.C
	}
	select {
	case <-w.granted:
		return admitted
	case <-expire:
		return p.leave(w, Expired)
	case <-p.life.Done():
		return p.leave(w, Closed)
	}
}

// leave takes w out of the queue for the reason why; a worker granted to it meanwhile is kept.
func (p *Pool) leave(w *waiter, why Outcome) Outcome {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.elem == nil {
		return admitted
	}
	p.queue.Remove(w.elem)
	w.elem = nil
	if why == Expired {
		p.stats.Expired++
	}
	return why
}

// draw is one service time, with the factor in force.
func (p *Pool) draw() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Duration(float64(p.set.ServiceTime.Draw(p.rand)) * p.set.Factor)
}

// workContext keeps ctx's values but not its end: the work ends at the deadline or when the
// pool closes.
func (p *Pool) workContext(ctx context.Context, deadline time.Time) (context.Context, context.CancelFunc) {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	unhook := context.AfterFunc(p.life, cancel)
	stop := func() { unhook(); cancel() }
	if deadline.IsZero() {
		return wctx, stop
	}
	wctx, cancelDeadline := context.WithDeadline(wctx, deadline)
	return wctx, func() { cancelDeadline(); stop() }
}

// finish frees the worker, hands it to the next waiter and counts the outcome; err is the work's.
func (p *Pool) finish(ctx context.Context, deadline time.Time, err error) Outcome {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy--
	p.dispatch()
	switch {
	case err != nil && p.life.Err() != nil:
		return Closed
	case err != nil:
		p.stats.Wasted++
		return Cut
	case ctx.Err() != nil || !deadline.IsZero() && time.Now().After(deadline):
		p.stats.Wasted++
		return Wasted
	}
	p.stats.Completed++
	return Completed
}

// free reports a worker free; p.mu is held.
func (p *Pool) free() bool { return p.set.Workers == 0 || p.busy < p.set.Workers }

// dispatch gives free workers to waiters in the queue's order; p.mu is held. Whenever a worker
// is free the queue is empty afterwards, so an arrival never passes a waiter.
func (p *Pool) dispatch() {
	for p.queue.Len() > 0 && p.free() {
		e := p.queue.Front()
		if p.set.Order == LIFO {
			e = p.queue.Back()
		}
		w := p.queue.Remove(e).(*waiter)
		w.elem = nil
		p.busy++
		close(w.granted)
	}
}

// Update changes the settings at once with change, unless the result is out of bounds (the
// error names the setting, and nothing changes). More workers take waiters at once; fewer let
// the requests in service finish while new ones wait. The queue keeps its order; a shorter
// queue turns away new arrivals only.
func (p *Pool) Update(change func(*Settings)) (Settings, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.set
	change(&s)
	if err := s.Validate(); err != nil {
		return p.set, err
	}
	p.set = s
	p.dispatch()
	return s, nil
}

// Reset puts back the settings the pool was made with and returns them.
func (p *Pool) Reset() Settings {
	s, _ := p.Update(func(s *Settings) { *s = p.start })
	return s
}

// Snapshot returns the settings in force and the figures, read at one moment.
func (p *Pool) Snapshot() (Settings, Stats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.stats
	st.InService = p.busy
	st.Queued = p.queue.Len()
	return p.set, st
}
