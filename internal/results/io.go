package results

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

var requestsHeader = []string{"id", "start", "send_lag_ms", "latency_ms", "status", "source", "attempts", "breaker", "error"}

// tierColumn is a column of requests.csv after the base ones when a record has a Tier (a run
// with a topology): without one the file is what it always was.
const tierColumn = "tier"

// traceColumn is the last column of requests.csv when a record has a TraceID (the load sent a
// traceparent): without one the file is what it always was.
const traceColumn = "trace_id"

// WriteRequests writes records as requests.csv (with its header) to w. Unknown attempts are an
// empty cell. When a record has a Tier, every row gets a column "tier"; when a record has a
// TraceID, every row gets a last column "trace_id" (empty for a request sent without one).
func WriteRequests(w io.Writer, recs []Record) error {
	cw := csv.NewWriter(w)
	tiers := slices.ContainsFunc(recs, func(r Record) bool { return r.Tier != "" })
	traces := slices.ContainsFunc(recs, func(r Record) bool { return r.TraceID != "" })
	header := slices.Clone(requestsHeader)
	if tiers {
		header = append(header, tierColumn)
	}
	if traces {
		header = append(header, traceColumn)
	}
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("write requests header: %w", err)
	}
	for _, r := range recs {
		attempts := ""
		if r.Attempts != UnknownAttempts {
			attempts = strconv.Itoa(r.Attempts)
		}
		row := []string{
			strconv.FormatUint(r.ID, 10),
			r.Start.UTC().Format(time.RFC3339Nano),
			formatMS(r.SendLag),
			formatMS(r.Latency),
			strconv.Itoa(r.Status),
			r.Source,
			attempts,
			r.Breaker,
			r.Error,
		}
		if tiers {
			row = append(row, r.Tier)
		}
		if traces {
			row = append(row, r.TraceID)
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write request row: %w", err)
		}
	}
	cw.Flush()
	return cw.Error()
}

func formatMS(d time.Duration) string { return strconv.FormatFloat(MS(d), 'f', 3, 64) }

// ReadRequests reads requests.csv, with or without its "tier" and "trace_id" columns (older
// folders have neither). A malformed row is an error naming its line.
func ReadRequests(r io.Reader) ([]Record, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // the header says how many: checked below
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("requests.csv is empty: no header")
		}
		return nil, fmt.Errorf("requests.csv header: %w", err)
	}
	tierAt, traceAt := extraColumns(header)
	cr.FieldsPerRecord = len(requestsHeader) + min(tierAt, 1) + min(traceAt, 1)
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
		if tierAt > 0 {
			rec.Tier = row[tierAt]
		}
		if traceAt > 0 {
			rec.TraceID = row[traceAt]
		}
		recs = append(recs, rec)
	}
}

// extraColumns finds the optional columns after the base ones: "tier", then "trace_id"; 0 for
// one that is absent. Any other header is read as the base columns alone (and its rows must
// have as many fields).
func extraColumns(header []string) (tierAt, traceAt int) {
	i := len(requestsHeader)
	if len(header) > i && header[i] == tierColumn {
		tierAt, i = i, i+1
	}
	if len(header) == i+1 && header[i] == traceColumn {
		traceAt = i
	}
	if len(header) != i+min(traceAt, 1) {
		return 0, 0
	}
	return tierAt, traceAt
}

func parseRow(row []string) (Record, error) {
	var rec Record
	var err error
	if rec.ID, err = strconv.ParseUint(row[0], 10, 64); err != nil {
		return Record{}, fmt.Errorf("id %q: %w", row[0], err)
	}
	if rec.Start, err = time.Parse(time.RFC3339Nano, row[1]); err != nil {
		return Record{}, fmt.Errorf("start %q: %w", row[1], err)
	}
	if rec.SendLag, err = parseMS("send_lag_ms", row[2]); err != nil {
		return Record{}, err
	}
	if rec.Latency, err = parseMS("latency_ms", row[3]); err != nil {
		return Record{}, err
	}
	if rec.Status, err = strconv.Atoi(row[4]); err != nil {
		return Record{}, fmt.Errorf("status %q: %w", row[4], err)
	}
	rec.Source, rec.Breaker, rec.Error = row[5], row[7], row[8]
	rec.Attempts = UnknownAttempts
	if row[6] != "" {
		if rec.Attempts, err = strconv.Atoi(row[6]); err != nil || rec.Attempts < 0 {
			return Record{}, fmt.Errorf("attempts %q: a count >= 0, or empty when unknown", row[6])
		}
	}
	return rec, nil
}

func parseMS(col, s string) (time.Duration, error) {
	ms, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %q: %w", col, s, err)
	}
	return FromMS(ms), nil
}

// EventLog appends events to events.jsonl as they happen and keeps them in memory for the
// analysis. It is safe for concurrent use.
type EventLog struct {
	mu        sync.Mutex
	w         io.Writer
	err       error
	events    []Event
	observers []func(Event)
	tap       bool // keep nothing, write nothing: only the observers see the events
}

// NewEventTap returns an EventLog that keeps and writes nothing: only its observers see the
// events. A stack that runs for hours (chaoslab up, soak) uses it, so memory does not grow with
// every backend call.
func NewEventTap() *EventLog { return &EventLog{tap: true} }

// Observe calls f with every event added from now on, in order, while the log's lock is held:
// f must not block and must not add events (the live page's hub only queues them).
func (l *EventLog) Observe(f func(Event)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.observers = append(l.observers, f)
}

// NewEventLog returns an EventLog writing JSON lines to w (nil: keep them in memory only).
func NewEventLog(w io.Writer) *EventLog { return &EventLog{w: w} }

// Add keeps one event and writes it. The first write error is kept and returned by Err; later
// events are still kept in memory but no longer written.
func (l *EventLog) Add(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	var b []byte
	var err error
	if !l.tap {
		b, err = json.Marshal(e)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.observers {
		f(e)
	}
	if l.tap {
		return
	}
	l.events = append(l.events, e)
	if l.err != nil || l.w == nil {
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

// Events returns a copy of every event added so far, in the order they were added.
func (l *EventLog) Events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
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
