// Package conformance serves the HTTP contract of the Chaos Toolkit conformance vectors
// (testdata/SERVER.md) and finds the vectors, so that the engine's tests and the CLI's tests run
// the same cases against the same server. It is imported by tests only.
//
// The vectors are facts about the real tool (chaostoolkit-lib 1.44.0), copied into testdata/
// from shared/conformance on 2026-11-29 (see testdata/README.md). The tests only read them.
package conformance

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// JSONBody is the /json body: Python's json.dumps of the document, 61 bytes.
const JSONBody = `{"ok": true, "n": 3, "items": [1, 2, 3], "source": "backend"}`

// Dir is the vectors' folder, internal/conformance/testdata, as seen from the directory of any
// package under internal/ (go test runs a package's tests in that package's directory):
// internal/x -> ../conformance/testdata. It is part of the repository, so a fresh clone has it.
const Dir = "../conformance/testdata"

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
	Name     string   // e.g. "01-tol-int-status-and-exit"
	Path     string   // the experiment file, cases/NAME.json
	Args     []string // the extra `chaos run` arguments of NN.args
	Expected string   // what the real tool did, expected/NAME.json
	Journal  string   // the real tool's raw journal, journals/NAME.journal.json; "" when it wrote none
}

// Cases lists the vectors in dir with their arguments, after checking that the set is complete:
// README.md and SERVER.md, at least one case, an expectation for every case and a case for every
// expectation, a case for every NN.args, and a raw journal exactly for the cases whose
// expectation says the real tool wrote one. Anything missing is an error naming it, so a test
// fails instead of silently running nothing.
func Cases(dir string) ([]Case, error) {
	var problems []error
	for _, f := range []string{"README.md", "SERVER.md"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			problems = append(problems, err)
		}
	}
	paths, err := filepath.Glob(filepath.Join(dir, "cases", "*.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		problems = append(problems, fmt.Errorf("no case in %s (want cases/*.json)", filepath.Join(dir, "cases")))
	}
	sort.Strings(paths)
	var out []Case
	names := map[string]bool{} // case names
	nums := map[string]bool{}  // their NN prefixes
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		num, _, _ := strings.Cut(name, "-")
		if nums[num] {
			problems = append(problems, fmt.Errorf("two cases numbered %s", num))
		}
		names[name], nums[num] = true, true
		c := Case{Name: name, Path: p, Expected: filepath.Join(dir, "expected", name+".json")}
		data, err := os.ReadFile(filepath.Join(dir, "cases", num+".args"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read %s.args: %w", num, err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				c.Args = append(c.Args, l)
			}
		}
		out = append(out, c)
		var want struct {
			Journal *bool `json:"journal"`
		}
		data, err = os.ReadFile(c.Expected)
		if err != nil {
			problems = append(problems, fmt.Errorf("case %s has no expectation: %w", name, err))
			continue
		}
		if err := json.Unmarshal(data, &want); err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", c.Expected, err))
			continue
		}
		journal := filepath.Join(dir, "journals", name+".journal.json")
		_, statErr := os.Stat(journal)
		switch {
		case want.Journal != nil && *want.Journal && statErr != nil:
			problems = append(problems, fmt.Errorf("case %s: the real tool wrote a journal, but: %w", name, statErr))
		case want.Journal != nil && *want.Journal:
			out[len(out)-1].Journal = journal
		case statErr == nil:
			problems = append(problems, fmt.Errorf("case %s: the real tool wrote no journal, yet %s exists", name, journal))
		}
	}
	orphans := func(pattern, suffix string, known map[string]bool) {
		extra, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, p := range extra {
			if !known[strings.TrimSuffix(filepath.Base(p), suffix)] {
				problems = append(problems, fmt.Errorf("%s belongs to no case", p))
			}
		}
	}
	orphans(filepath.Join("expected", "*.json"), ".json", names)
	orphans(filepath.Join("journals", "*.journal.json"), ".journal.json", names)
	orphans(filepath.Join("cases", "*.args"), ".args", nums)
	if err := errors.Join(problems...); err != nil {
		abs, _ := filepath.Abs(dir)
		return nil, fmt.Errorf("conformance vectors in %s (%s) are incomplete:\n%w", dir, abs, err)
	}
	return out, nil
}

// CheckUnchanged fails tb if any file under dir differs, once tb and its subtests are done, from
// what it was when CheckUnchanged was called: the conformance tests only read the vectors, and
// every file a run writes goes to t.TempDir().
func CheckUnchanged(tb testing.TB, dir string) {
	tb.Helper()
	before, err := digest(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if after, err := digest(dir); err != nil || after != before {
			tb.Errorf("the run changed the conformance vectors in %s (%v): tests must write only to t.TempDir()", dir, err)
		}
	})
}

// digest is a hash of every file name and content under dir.
func digest(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.ToSlash(rel), len(data))
		h.Write(data)
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
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
