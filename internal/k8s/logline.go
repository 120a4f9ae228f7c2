package k8s

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"chaoslab/internal/results"
)

// numericAttrs are the log attributes results.DecodeLogLine reads as numbers.
var numericAttrs = map[string]bool{results.AttrAttempt: true, results.AttrWaitMS: true, results.AttrDuration: true, results.AttrRequestID: true} // read-only

// DecodeLogLine turns one client-service log line into the event it records, whatever the pod's
// LOG_FORMAT: a JSON line goes straight to results.DecodeLogLine (the typed decoder of the local
// stack); a text line (slog's key=value, the Deployment's default) is read into the same
// attributes first. ok is false for a line that records no event.
func DecodeLogLine(line []byte) (results.Event, bool) {
	line = bytes.TrimSpace(line)
	if len(line) > 0 && line[0] == '{' {
		return results.DecodeLogLine(line)
	}
	attrs := parseText(string(line))
	if attrs[results.AttrEvent] == "" {
		return results.Event{}, false
	}
	obj := map[string]any{}
	for k, v := range attrs {
		if numericAttrs[k] {
			if n, err := strconv.ParseFloat(v, 64); err == nil {
				obj[k] = n
				if k == results.AttrRequestID || k == results.AttrAttempt {
					obj[k] = uint64(n)
				}
				continue
			}
		}
		obj[k] = v
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return results.Event{}, false
	}
	return results.DecodeLogLine(b)
}

// parseText reads slog's text format: key=value pairs separated by spaces, a value quoted (Go
// syntax) when it holds spaces, quotes or '='. Malformed pieces are skipped.
func parseText(s string) map[string]string {
	out := map[string]string{}
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return out
		}
		eq := strings.IndexByte(s, '=')
		sp := strings.IndexByte(s, ' ')
		if eq < 0 || (sp >= 0 && sp < eq) { // a word without '=': skip it
			if sp < 0 {
				return out
			}
			s = s[sp:]
			continue
		}
		key, rest := s[:eq], s[eq+1:]
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := closingQuote(rest)
			if end < 0 {
				return out
			}
			v, err := strconv.Unquote(rest[:end+1])
			if err != nil {
				v = rest[1:end]
			}
			val, s = v, rest[end+1:]
		} else if i := strings.IndexByte(rest, ' '); i >= 0 {
			val, s = rest[:i], rest[i:]
		} else {
			val, s = rest, ""
		}
		out[key] = val
	}
}

// closingQuote returns the index of the quote that closes the string opening s, or -1.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}
