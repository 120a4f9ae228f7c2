package client

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"

	"chaoslab/internal/httpserve"
)

// answerWriter writes DataAnswers exactly as httpserve.WriteJSON does (encoding/json, HTML
// escaping on, a newline at the end), without encoding/json's work on the common answer: the
// backend's, whose data is already compact JSON with nothing to escape (what backend-service
// sends). Its bytes are copied as they are instead of being scanned, compacted and escaped
// again; any other answer goes through httpserve.WriteJSON. It is safe for concurrent use.
type answerWriter struct {
	bufs sync.Pool // of *[]byte, the answers' buffers
}

// write writes a with status, as httpserve.WriteJSON(w, status, a) would, byte for byte.
func (aw *answerWriter) write(w http.ResponseWriter, status int, a DataAnswer) {
	bp, _ := aw.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	buf, ok := appendAnswer((*bp)[:0], a)
	if !ok {
		aw.bufs.Put(bp)
		httpserve.WriteJSON(w, status, a)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(buf)
	*bp = buf
	aw.bufs.Put(bp)
}

// appendAnswer appends a's JSON as encoding/json's Encoder writes it, and reports whether it
// could: only when a.Data is compact JSON with nothing encoding/json escapes, and its strings
// need no escaping at all. a.Data must be valid JSON (fetch checks it).
func appendAnswer(buf []byte, a DataAnswer) ([]byte, bool) {
	data, ok := verbatim(a.Data)
	if !ok || !plain(string(a.Source)) || !plain(a.Error) || !plain(string(a.CircuitBreakerState)) {
		return buf, false
	}
	buf = append(buf, `{"source":"`...)
	buf = append(buf, a.Source...)
	buf = append(buf, `","data":`...)
	buf = append(buf, data...)
	buf = append(buf, `,"error":"`...)
	buf = append(buf, a.Error...)
	buf = append(buf, `","attempts":`...)
	buf = strconv.AppendInt(buf, int64(a.Attempts), 10)
	buf = append(buf, `,"circuitBreakerState":"`...)
	buf = append(buf, a.CircuitBreakerState...)
	buf = append(buf, "\"}\n"...)
	return buf, true
}

// verbatim returns data without its leading and trailing white space, and reports whether
// encoding/json would write that as it is: it has no white space between its tokens (it is
// compact) and none of the bytes HTML escaping changes (<, >, &, U+2028, U+2029). nil (JSON
// null, written by encoding/json as null) is not handled here: false.
func verbatim(data []byte) ([]byte, bool) {
	data = bytes.Trim(data, " \t\r\n")
	if len(data) == 0 {
		return nil, false
	}
	inString, escaped := false, false
	for i, c := range data {
		switch {
		case c == '<', c == '>', c == '&':
			return nil, false
		case c == 0xE2 && i+2 < len(data) && data[i+1] == 0x80 && data[i+2]&^1 == 0xA8:
			return nil, false
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		case c == ' ', c == '\t', c == '\r', c == '\n':
			return nil, false
		}
	}
	return data, true
}

// plain reports whether encoding/json writes s between its quotes as it is: printable ASCII
// without the quote, the backslash and the HTML-escaped <, > and &.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
