package results

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
)

// CapacityFile is capacity.csv: the samples of the backend's capacity model (GET
// /api/capacity), one row each. Only a run whose backend had the model on writes it; a run
// without it has no such file, and every other file is as it always was.
const CapacityFile = "capacity.csv"

// CapacitySample is one reading of backend-service's GET /api/capacity during a run: the
// settings in force and the model's figures at Time. The JSON names are the endpoint's, so a
// sample decodes from its answer. The four counters count from the backend's start; a
// backend that restarted counts from 0 again.
type CapacitySample struct {
	Time        time.Time `json:"-"`           // when the answer was read (the lab's clock)
	Workers     int       `json:"workers"`     // requests served at once; 0 = unlimited
	QueueLimit  int       `json:"queueLimit"`  // requests that may wait
	QueueOrder  string    `json:"queueOrder"`  // fifo or lifo
	ServiceTime string    `json:"serviceTime"` // as BACKEND_SERVICE_TIME reads it
	Factor      float64   `json:"factor"`      // multiplies every service time
	InService   int       `json:"inService"`   // requests holding a worker at Time
	Queued      int       `json:"queued"`      // requests waiting for one at Time
	Rejected    int64     `json:"rejected"`    // since the start: queue full, 503 at once
	Expired     int64     `json:"expired"`     // since the start: dropped from the queue at their deadline
	Completed   int64     `json:"completed"`   // since the start: served for a caller still waiting
	Wasted      int64     `json:"wasted"`      // since the start: served for a caller that had gone or past its deadline
}

var capacityHeader = []string{"time", "workers", "queue_limit", "queue_order", "service_time", "factor",
	"in_service", "queued", "rejected_total", "expired_total", "completed_total", "wasted_total"}

// WriteCapacity writes samples as capacity.csv (with its header) to w.
func WriteCapacity(w io.Writer, samples []CapacitySample) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(capacityHeader); err != nil {
		return fmt.Errorf("write capacity header: %w", err)
	}
	for _, s := range samples {
		row := []string{
			s.Time.UTC().Format(time.RFC3339Nano),
			strconv.Itoa(s.Workers), strconv.Itoa(s.QueueLimit), s.QueueOrder, s.ServiceTime,
			strconv.FormatFloat(s.Factor, 'g', -1, 64),
			strconv.Itoa(s.InService), strconv.Itoa(s.Queued),
			strconv.FormatInt(s.Rejected, 10), strconv.FormatInt(s.Expired, 10),
			strconv.FormatInt(s.Completed, 10), strconv.FormatInt(s.Wasted, 10),
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write capacity row: %w", err)
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadCapacity reads capacity.csv. A header other than WriteCapacity's or a malformed row is an
// error naming its line.
func ReadCapacity(r io.Reader) ([]CapacitySample, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(capacityHeader)
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("capacity.csv is empty: no header")
		}
		return nil, fmt.Errorf("capacity.csv header: %w", err)
	}
	if !slices.Equal(header, capacityHeader) {
		return nil, fmt.Errorf("capacity.csv header %q: want %q", header, capacityHeader)
	}
	var out []CapacitySample
	for line := 2; ; line++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("capacity.csv: %w", err)
		}
		s, err := parseCapacityRow(row)
		if err != nil {
			return nil, fmt.Errorf("capacity.csv line %d: %w", line, err)
		}
		out = append(out, s)
	}
}

func parseCapacityRow(row []string) (CapacitySample, error) {
	s := CapacitySample{QueueOrder: row[3], ServiceTime: row[4]}
	var err error
	if s.Time, err = time.Parse(time.RFC3339Nano, row[0]); err != nil {
		return CapacitySample{}, fmt.Errorf("time %q: %w", row[0], err)
	}
	if s.Factor, err = strconv.ParseFloat(row[5], 64); err != nil {
		return CapacitySample{}, fmt.Errorf("factor %q: %w", row[5], err)
	}
	ints := []struct {
		col int
		dst *int
	}{{1, &s.Workers}, {2, &s.QueueLimit}, {6, &s.InService}, {7, &s.Queued}}
	for _, c := range ints {
		if *c.dst, err = strconv.Atoi(row[c.col]); err != nil || *c.dst < 0 {
			return CapacitySample{}, fmt.Errorf("%s %q: a whole number >= 0", capacityHeader[c.col], row[c.col])
		}
	}
	counters := []struct {
		col int
		dst *int64
	}{{8, &s.Rejected}, {9, &s.Expired}, {10, &s.Completed}, {11, &s.Wasted}}
	for _, c := range counters {
		if *c.dst, err = strconv.ParseInt(row[c.col], 10, 64); err != nil || *c.dst < 0 {
			return CapacitySample{}, fmt.Errorf("%s %q: a whole number >= 0", capacityHeader[c.col], row[c.col])
		}
	}
	return s, nil
}
