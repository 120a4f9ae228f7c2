package tracing

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Limits of the export queue: the OpenTelemetry specification's defaults for a batch span
// processor (OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_SCHEDULE_DELAY,
// OTEL_BSP_EXPORT_TIMEOUT).
const (
	queueSize     = 2048
	batchSize     = 512
	batchInterval = 5 * time.Second
	exportTimeout = 30 * time.Second
)

// queue is a span processor that hands finished spans to an exporter in batches, from a
// goroutine of its own: a span's End only puts it in a bounded queue, and drops it, counted,
// when the queue is full. So a slow or absent receiver never slows a request.
//
// The SDK's own batch processor does the same but keeps its count of dropped spans to itself;
// this one counts what became of every sampled span it was given: exported, dropped (the queue
// was full) or failed (in a batch the exporter could not send). Once Shutdown has returned, the
// three add up to the spans given. It is safe for concurrent use.
type queue struct {
	exp      sdktrace.SpanExporter
	spans    chan sdktrace.ReadOnlySpan
	batch    int
	interval time.Duration
	timeout  time.Duration
	onFail   func(err error, spans int) // told of every failed export; called from the queue's goroutine

	flush  chan chan struct{}
	stop   chan struct{}
	done   chan struct{}
	ctx    context.Context // of the exports; cancelled when Shutdown's deadline passes
	cancel context.CancelFunc
	once   sync.Once

	exported, dropped, failed atomic.Int64
	pending                   atomic.Int64 // queued or in the batch being made
}

// newQueue starts the queue's goroutine; Shutdown stops it.
func newQueue(exp sdktrace.SpanExporter, size, batch int, interval time.Duration, onFail func(error, int)) *queue {
	q := &queue{exp: exp, spans: make(chan sdktrace.ReadOnlySpan, size), batch: batch, interval: interval,
		timeout: exportTimeout, onFail: onFail, flush: make(chan chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	q.ctx, q.cancel = context.WithCancel(context.Background())
	go q.run()
	return q
}

// OnStart implements sdktrace.SpanProcessor.
func (q *queue) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd implements sdktrace.SpanProcessor: it queues a sampled span, or drops it when the queue
// is full. It never blocks.
func (q *queue) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	q.pending.Add(1)
	select {
	case q.spans <- s:
	default:
		q.pending.Add(-1)
		q.dropped.Add(1)
	}
}

// run batches the queued spans and exports a batch when it is full, at every tick of the
// interval, on ForceFlush and on Shutdown.
func (q *queue) run() {
	defer close(q.done)
	tick := time.NewTicker(q.interval)
	defer tick.Stop()
	batch := make([]sdktrace.ReadOnlySpan, 0, q.batch)
	for {
		select {
		case s := <-q.spans:
			if batch = append(batch, s); len(batch) >= q.batch {
				batch = q.export(batch)
			}
		case <-tick.C:
			batch = q.export(batch)
		case ack := <-q.flush:
			batch = q.export(q.drain(batch))
			close(ack)
		case <-q.stop:
			q.export(q.drain(batch))
			return
		}
	}
}

// drain adds every span queued now to batch, exporting each full batch on the way.
func (q *queue) drain(batch []sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	for {
		select {
		case s := <-q.spans:
			if batch = append(batch, s); len(batch) >= q.batch {
				batch = q.export(batch)
			}
		default:
			return batch
		}
	}
}

// export sends batch and counts it, and returns it emptied.
func (q *queue) export(batch []sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	if len(batch) == 0 {
		return batch
	}
	ctx, cancel := context.WithTimeout(q.ctx, q.timeout)
	err := q.exp.ExportSpans(ctx, batch)
	cancel()
	q.pending.Add(-int64(len(batch)))
	if err != nil {
		q.failed.Add(int64(len(batch)))
		if q.onFail != nil {
			q.onFail(err, len(batch))
		}
	} else {
		q.exported.Add(int64(len(batch)))
	}
	clear(batch) // let the spans go
	return batch[:0]
}

// ForceFlush implements sdktrace.SpanProcessor: it exports every span queued before it was
// called, and returns once they are sent or ctx is done.
func (q *queue) ForceFlush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case q.flush <- ack:
	case <-q.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown implements sdktrace.SpanProcessor: it exports what is queued and stops. When ctx
// ends first, the export in flight is cut, and the spans not sent count as failed.
func (q *queue) Shutdown(ctx context.Context) error {
	var err error
	q.once.Do(func() {
		close(q.stop)
		select {
		case <-q.done:
		case <-ctx.Done():
			q.cancel() // the exports left fail at once: the loop ends
			<-q.done
			err = ctx.Err()
		}
		q.cancel()
		err = errors.Join(err, q.exp.Shutdown(ctx))
	})
	return err
}

// Counts is what became of the sampled spans a Provider was given, since it started.
type Counts struct {
	Exported int64 // accepted by the receiver
	Dropped  int64 // not sent: the queue was full
	Failed   int64 // in a batch the exporter could not send (receiver down, refused, timed out)
	Queued   int64 // waiting to be sent now
}

func (q *queue) counts() Counts {
	return Counts{Exported: q.exported.Load(), Dropped: q.dropped.Load(), Failed: q.failed.Load(), Queued: q.pending.Load()}
}
