package results

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"chaoslab/internal/otlprecv"
)

// SpansFile is the spans the lab received from the services, one JSON span per line
// (otlprecv.Span), in the order of their start; only in a folder whose run kept its traces
// (RunInfo.Traces.Kept).
const SpansFile = "spans.jsonl"

// maxSpanLine bounds one line of spans.jsonl (a span with its attributes and events).
const maxSpanLine = 4 << 20

// WriteSpans writes spans as JSON lines to w.
func WriteSpans(w io.Writer, spans []otlprecv.Span) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range spans {
		if err := enc.Encode(&spans[i]); err != nil {
			return fmt.Errorf("encode span %s of trace %s: %w", spans[i].SpanID, spans[i].TraceID, err)
		}
	}
	return bw.Flush()
}

// ReadSpans reads spans.jsonl. Attribute numbers come back as float64 (JSON has one kind of
// number), not the int64 the receiver gave; blank lines are skipped. A line that is not a span
// is an error naming it. The result is never nil: a folder with an empty spans.jsonl kept its
// traces and received none.
func ReadSpans(r io.Reader) ([]otlprecv.Span, error) {
	spans := []otlprecv.Span{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxSpanLine)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var s otlprecv.Span
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", SpansFile, line, err)
		}
		spans = append(spans, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", SpansFile, err)
	}
	return spans, nil
}

// readSpansFile reads dir's spans.jsonl; nil, nil when the folder has none (the run did not
// keep traces: an older folder, --traces=off, or spans sent to the user's collector).
func readSpansFile(dir string) ([]otlprecv.Span, error) {
	f, err := os.Open(filepath.Join(dir, SpansFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadSpans(f)
}
