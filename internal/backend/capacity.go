package backend

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"chaoslab/internal/capacity"
	"chaoslab/internal/httpserve"
)

// Capacity is the answer of GET, PUT and DELETE /api/capacity: the settings in force and the
// figures of the capacity model.
type Capacity struct {
	Workers     int     `json:"workers"`     // 0 = unlimited
	QueueLimit  int     `json:"queueLimit"`  // requests that may wait
	QueueOrder  string  `json:"queueOrder"`  // fifo or lifo
	ServiceTime string  `json:"serviceTime"` // as BACKEND_SERVICE_TIME reads it
	Factor      float64 `json:"factor"`      // multiplies every service time
	InService   int     `json:"inService"`
	Queued      int     `json:"queued"`
	Rejected    int64   `json:"rejected"`  // queue full: 503 with Retry-After
	Expired     int64   `json:"expired"`   // dropped from the queue past their deadline
	Completed   int64   `json:"completed"` // served for a caller still waiting
	Wasted      int64   `json:"wasted"`    // served, in full or until their deadline, for a caller that had gone
}

// capacityChange is the body of PUT /api/capacity: each field present changes that setting.
type capacityChange struct {
	Workers     *int     `json:"workers"`
	ServiceTime *string  `json:"service_time"`
	Factor      *float64 `json:"service_time_factor"`
}

// errCapacityOff is the answer of /api/capacity on a backend started without capacity.
var errCapacityOff = errors.New("backend-service was started without a capacity model: start it with BACKEND_WORKERS (or BACKEND_SERVICE_TIME) to show or change it")

func capacityOf(p *capacity.Pool) Capacity {
	s, st := p.Snapshot()
	return Capacity{
		Workers: s.Workers, QueueLimit: s.Queue, QueueOrder: string(s.Order),
		ServiceTime: s.ServiceTime.String(), Factor: s.Factor,
		InService: st.InService, Queued: st.Queued,
		Rejected: st.Rejected, Expired: st.Expired, Completed: st.Completed, Wasted: st.Wasted,
	}
}

// withCapacity answers 409 when d has no capacity model, and calls h otherwise.
func withCapacity(d Deps, h func(http.ResponseWriter, *http.Request, *capacity.Pool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d.Capacity == nil {
			writeError(w, http.StatusConflict, errCapacityOff)
			return
		}
		h(w, r, d.Capacity)
	})
}

func handleCapacityGet(d Deps) http.Handler {
	return withCapacity(d, func(w http.ResponseWriter, _ *http.Request, p *capacity.Pool) {
		httpserve.WriteJSON(w, http.StatusOK, capacityOf(p))
	})
}

// handleCapacityPut changes the settings at once with the fields of the body and answers the
// new ones.
func handleCapacityPut(d Deps) http.Handler {
	log := logger(d)
	return withCapacity(d, func(w http.ResponseWriter, r *http.Request, p *capacity.Pool) {
		var c capacityChange
		if err := decodeStrict(r, &c); err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		apply, attrs, err := c.plan()
		if err == nil {
			_, err = p.Update(apply)
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		log.Info("capacity changed", append([]any{"event", "capacity"}, attrs...)...)
		httpserve.WriteJSON(w, http.StatusOK, capacityOf(p))
	})
}

// plan turns the change into a change of settings and the log attributes of the fields it
// changes, or names the field whose value is not allowed.
func (c capacityChange) plan() (func(*capacity.Settings), []any, error) {
	var attrs []any
	var st capacity.ServiceTime
	if c.Workers != nil {
		attrs = append(attrs, "workers", *c.Workers)
	}
	if c.ServiceTime != nil {
		var err error
		if st, err = capacity.ParseServiceTime(*c.ServiceTime); err != nil {
			return nil, nil, fmt.Errorf("service_time: %w", err)
		}
		attrs = append(attrs, "service_time", st.String())
	}
	if c.Factor != nil {
		attrs = append(attrs, "service_time_factor", *c.Factor)
	}
	return func(s *capacity.Settings) {
		if c.Workers != nil {
			s.Workers = *c.Workers
		}
		if c.ServiceTime != nil {
			s.ServiceTime = st
		}
		if c.Factor != nil {
			s.Factor = *c.Factor
		}
	}, attrs, nil
}

// handleCapacityReset puts back the start-up settings and answers them.
func handleCapacityReset(d Deps) http.Handler {
	log := logger(d)
	return withCapacity(d, func(w http.ResponseWriter, _ *http.Request, p *capacity.Pool) {
		s := p.Reset()
		log.Info("capacity restored", append([]any{"event", "capacity"}, settingsAttrs(s)...)...)
		httpserve.WriteJSON(w, http.StatusOK, capacityOf(p))
	})
}

// settingsAttrs are the log attributes of every setting of s.
func settingsAttrs(s capacity.Settings) []any {
	return []any{"workers", s.Workers, "queue", s.Queue, "queue_order", string(s.Order),
		"service_time", s.ServiceTime.String(), "service_time_factor", s.Factor}
}

func logger(d Deps) *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// decodeStrict reads one JSON object of at most 4 KiB into v: an unknown field (named in the
// error), a second value or a malformed body is an error.
func decodeStrict(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON body (want an object such as {\"workers\":4,\"service_time\":\"exp:4ms\",\"service_time_factor\":3}): %w", err)
	}
	if dec.More() {
		return errors.New("bad JSON body: one object expected")
	}
	return nil
}

// writeError answers err as {"error": "..."} with status.
func writeError(w http.ResponseWriter, status int, err error) {
	httpserve.WriteJSON(w, status, map[string]string{"error": err.Error()})
}
