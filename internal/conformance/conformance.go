// Package conformance serves the HTTP contract of the Chaos Toolkit conformance vectors
// (shared/conformance/SERVER.md) and finds the vectors, so that the engine's tests and the CLI's
// tests run the same cases against the same server.
package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// JSONBody is the /json body: Python's json.dumps of the document, 61 bytes.
const JSONBody = `{"ok": true, "n": 3, "items": [1, 2, 3], "source": "backend"}`

// Dir is shared/conformance as seen from a package two levels below the repository root
// (repo/internal/x -> ../../../shared/conformance).
const Dir = "../../../shared/conformance"

// Handler answers every route of SERVER.md. It is stateless and safe for concurrent use.
func Handler() http.Handler {
	statusRoute := regexp.MustCompile(`^/status/([0-9]{3})$`)
	sleepRoute := regexp.MustCompile(`^/sleep/([0-9]{1,5})$`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
			reply(w, r, 200, "application/json", JSONBody)
		case path == "/json-charset":
			reply(w, r, 200, "application/json; charset=utf-8", JSONBody)
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
	})
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

// echoDocument is the /echo document with its keys in the contract's order. Its spacing is not
// Python's (clients parse it as JSON, so only the values matter).
func echoDocument(r *http.Request, raw []byte) string {
	query := map[string]string{}
	for _, part := range strings.Split(r.URL.RawQuery, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		query[unquotePlus(k)] = unquotePlus(v)
	}
	var ct any
	if v, ok := r.Header["Content-Type"]; ok {
		ct = v[0]
	}
	enc := func(v any) string {
		b, _ := json.Marshal(v) // map keys come out sorted, as the contract wants
		return string(b)
	}
	return `{"method": ` + enc(r.Method) + `, "query": ` + enc(query) + `, "body": ` +
		enc(strings.ToValidUTF8(string(raw), "\uFFFD")) + `, "content_type": ` + enc(ct) + `}`
}

func unquotePlus(s string) string {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return strings.ReplaceAll(s, "+", " ")
	}
	return u
}

// Case is one conformance vector.
type Case struct {
	Name string   // e.g. "01-tol-int-status-and-exit"
	Path string   // the experiment file
	Args []string // the extra `chaos run` arguments of NN.args
}

// Cases lists the vectors in dir/cases with their arguments; none when dir does not exist.
func Cases(dir string) ([]Case, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "cases", "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []Case
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		num, _, _ := strings.Cut(name, "-")
		c := Case{Name: name, Path: p}
		data, err := os.ReadFile(filepath.Join(dir, "cases", num+".args"))
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("read %s.args: %w", num, err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				c.Args = append(c.Args, l)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// Env gives the two CONFORMANCE_ variables and hides every other CONFORMANCE_ one.
func Env(baseURL, stateDir string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		switch k {
		case "CONFORMANCE_BASE_URL":
			return baseURL, true
		case "CONFORMANCE_STATE_DIR":
			return stateDir, true
		}
		if strings.HasPrefix(k, "CONFORMANCE_") {
			return "", false
		}
		return os.LookupEnv(k)
	}
}
