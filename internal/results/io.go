package results

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

var requestsHeader = []string{"start", "latency_ms", "status", "source", "attempts", "breaker", "error"}

// WriteRequests writes records as requests.csv (with its header) to w.
func WriteRequests(w io.Writer, recs []Record) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(requestsHeader); err != nil {
		return fmt.Errorf("write requests header: %w", err)
	}
	for _, r := range recs {
		row := []string{
			r.Start.UTC().Format(time.RFC3339Nano),
			strconv.FormatFloat(float64(r.Latency)/float64(time.Millisecond), 'f', 3, 64),
			strconv.Itoa(r.Status),
			r.Source,
			strconv.Itoa(r.Attempts),
			r.Breaker,
			r.Error,
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write request row: %w", err)
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadRequests reads requests.csv. A malformed row is an error naming its line.
func ReadRequests(r io.Reader) ([]Record, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(requestsHeader)
	if _, err := cr.Read(); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("requests.csv is empty: no header")
		}
		return nil, fmt.Errorf("requests.csv header: %w", err)
	}
	var recs []Record
	for line := 2; ; line++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return recs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("requests.csv: %w", err)
		}
		rec, err := parseRow(row)
		if err != nil {
			return nil, fmt.Errorf("requests.csv line %d: %w", line, err)
		}
		recs = append(recs, rec)
	}
}

func parseRow(row []string) (Record, error) {
	start, err := time.Parse(time.RFC3339Nano, row[0])
	if err != nil {
		return Record{}, fmt.Errorf("start %q: %w", row[0], err)
	}
	ms, err := strconv.ParseFloat(row[1], 64)
	if err != nil {
		return Record{}, fmt.Errorf("latency_ms %q: %w", row[1], err)
	}
	status, err := strconv.Atoi(row[2])
	if err != nil {
		return Record{}, fmt.Errorf("status %q: %w", row[2], err)
	}
	attempts, err := strconv.Atoi(row[4])
	if err != nil {
		return Record{}, fmt.Errorf("attempts %q: %w", row[4], err)
	}
	return Record{
		Start:    start,
		Latency:  time.Duration(ms * float64(time.Millisecond)),
		Status:   status,
		Source:   row[3],
		Attempts: attempts,
		Breaker:  row[5],
		Error:    row[6],
	}, nil
}

// EventLog appends events to events.jsonl. It is safe for concurrent use.
type EventLog struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

// NewEventLog returns an EventLog writing JSON lines to w.
func NewEventLog(w io.Writer) *EventLog { return &EventLog{w: w} }

// Add writes one event. The first write error is kept and returned by Err; later events are dropped.
func (l *EventLog) Add(e Event) {
	b, err := json.Marshal(e)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return
	}
	if err != nil {
		l.err = fmt.Errorf("encode event: %w", err)
		return
	}
	if _, err := l.w.Write(append(b, '\n')); err != nil {
		l.err = fmt.Errorf("write event: %w", err)
	}
}

// Err returns the first error met while writing.
func (l *EventLog) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// ReadEvents reads events.jsonl. Blank lines are skipped; a malformed line is an error naming it.
func ReadEvents(r io.Reader) ([]Event, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	var evs []Event
	for line := 1; sc.Scan(); line++ {
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var e Event
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("events.jsonl line %d: %w", line, err)
		}
		evs = append(evs, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read events.jsonl: %w", err)
	}
	return evs, nil
}

// WriteJSONFile writes v as indented JSON to path (0644), replacing it.
func WriteJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ReadJSONFile decodes the JSON file at path into v.
func ReadJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}
