package live

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

const (
	// writeTimeout bounds one write to a viewer: a viewer that takes no data for that long is
	// gone, and its stream ends.
	writeTimeout = 10 * time.Second
	// keepAlive is how often an idle stream gets a comment, so a vanished viewer is noticed.
	keepAlive = 15 * time.Second
	// reconnectMS is how long a browser waits before it reconnects to a stream that ended.
	reconnectMS = 1000
	// maxBatch is the most queued messages written at once.
	maxBatch = 256
)

// handleEvents streams the run to one viewer: a snapshot of the whole state, then every
// message the hub publishes. The stream ends when the viewer leaves, when the hub drops it (its
// queue was full) or when the server closes.
func (s *site) handleEvents() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub, snap := s.hub.subscribe()
		defer s.hub.unsubscribe(sub)
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		out := &stream{w: w, rc: http.NewResponseController(w)}
		fmt.Fprintf(&out.buf, "retry: %d\n\n", reconnectMS)
		out.add(message{msgSnapshot, s.linked(snap)})
		ping := time.NewTicker(keepAlive)
		defer ping.Stop()
		for out.flush() == nil {
			select {
			case <-r.Context().Done():
				return
			case <-sub.gone:
				return
			case <-ping.C:
				out.buf.WriteString(": ping\n\n")
			case m := <-sub.queue:
				out.add(s.link(m))
				s.drain(out, sub)
			}
		}
	})
}

// drain adds what else is queued for sub, up to maxBatch messages.
func (s *site) drain(out *stream, sub *subscriber) {
	for range maxBatch {
		select {
		case m := <-sub.queue:
			out.add(s.link(m))
		default:
			return
		}
	}
}

// linked fills in the report's link of a snapshot.
func (s *site) linked(st state) state {
	if st.Done != nil {
		st.Done.Report = s.reportHref(st.Done.Path)
	}
	return st
}

// link fills in the report's link of a message that has one.
func (s *site) link(m message) message {
	switch d := m.Data.(type) {
	case *doneView:
		c := *d
		c.Report = s.reportHref(c.Path)
		m.Data = &c
	case state:
		m.Data = s.linked(d.clone())
	}
	return m
}

// stream writes server-sent events to one viewer. Consecutive records go out as one "record"
// message holding a list.
type stream struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	buf     bytes.Buffer
	records []recordView
}

func (s *stream) add(m message) {
	if r, ok := m.Data.(recordView); ok && m.Type == msgRecord {
		s.records = append(s.records, r)
		return
	}
	s.endRecords()
	s.write(m.Type, m.Data)
}

func (s *stream) endRecords() {
	if len(s.records) > 0 {
		s.write(msgRecord, s.records)
		s.records = nil
	}
}

// write adds one message. JSON holds no newline, so the data is one "data:" line.
func (s *stream) write(typ string, data any) {
	b, err := json.Marshal(data)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"error": "cannot encode the " + typ + " message: " + err.Error()})
	}
	fmt.Fprintf(&s.buf, "event: %s\ndata: %s\n\n", typ, b)
}

// flush sends what was added, within writeTimeout.
func (s *stream) flush() error {
	s.endRecords()
	if s.buf.Len() == 0 {
		return nil
	}
	if err := s.rc.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	_, err := s.w.Write(s.buf.Bytes())
	s.buf.Reset()
	if err != nil {
		return err
	}
	return s.rc.Flush()
}
