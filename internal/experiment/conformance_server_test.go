package experiment

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// conformanceJSON is the /json body: Python's json.dumps of the document, 61 bytes.
const conformanceJSON = `{"ok": true, "n": 3, "items": [1, 2, 3], "source": "backend"}`

var (
	statusRoute = regexp.MustCompile(`^/status/([0-9]{3})$`)
	sleepRoute  = regexp.MustCompile(`^/sleep/([0-9]{1,5})$`)
)

// newConformanceServer starts a server that follows shared/conformance/SERVER.md.
func newConformanceServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(conformanceHandler))
	t.Cleanup(srv.Close)
	return srv
}

func conformanceHandler(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	path := r.URL.EscapedPath()
	switch {
	case statusRoute.MatchString(path):
		code, _ := strconv.Atoi(statusRoute.FindStringSubmatch(path)[1])
		if code < 200 || code > 599 {
			reply(w, r, 404, "text/plain", "not found")
			return
		}
		reply(w, r, code, "text/plain", fmt.Sprintf("status %d", code))
	case path == "/json":
		reply(w, r, 200, "application/json", conformanceJSON)
	case path == "/json-charset":
		reply(w, r, 200, "application/json; charset=utf-8", conformanceJSON)
	case sleepRoute.MatchString(path):
		ms, _ := strconv.Atoi(sleepRoute.FindStringSubmatch(path)[1])
		select {
		case <-time.After(time.Duration(min(ms, 60000)) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		reply(w, r, 200, "text/plain", "slept")
	case path == "/echo":
		reply(w, r, 200, "application/json", echoDocument(r, raw))
	default:
		reply(w, r, 404, "text/plain", "not found")
	}
}

func reply(w http.ResponseWriter, r *http.Request, code int, contentType, body string) {
	h := w.Header()
	h["Date"] = nil
	h.Set("Content-Type", contentType)
	if code == 204 || code == 304 {
		w.WriteHeader(code)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		io.WriteString(w, body)
	}
}

// echoDocument is the /echo document, serialized as Python's json.dumps.
func echoDocument(r *http.Request, raw []byte) string {
	query := map[string]any{}
	for _, part := range strings.Split(r.URL.RawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		query[unquotePlus(k)] = unquotePlus(v)
	}
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	q := &Object{}
	for _, k := range keys {
		q.Set(k, query[k])
	}
	var ct any
	if v, ok := r.Header["Content-Type"]; ok {
		ct = v[0]
	}
	body := string(raw)
	if !utf8.ValidString(body) {
		body = strings.ToValidUTF8(body, "\uFFFD")
	}
	return pyJSON(NewObject("method", r.Method, "query", q, "body", body, "content_type", ct))
}

func unquotePlus(s string) string {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return strings.ReplaceAll(s, "+", " ")
	}
	return u
}
