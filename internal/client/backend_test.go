package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestFetchDirectAsClientDo: fetch calls the transport itself (direct) and answers, body and
// error text included (the text is in the fallback's log line and answer), exactly as it did
// through http.Client.Do, for every kind of backend answer and failure.
func TestFetchDirectAsClientDo(t *testing.T) {
	handlers := map[string]http.HandlerFunc{
		"json": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, backendBody)
		},
		"chunked json": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"a":`)
			w.(http.Flusher).Flush()
			io.WriteString(w, `"`+strings.Repeat("y", 3000)+`"}`)
		},
		"not json":  func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello") },
		"503 proxy": func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "upstream connect error", 503) },
		"404":       func(w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) },
		"redirect": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		},
		"redirect, bad location": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Location", "http://[::1")
			w.WriteHeader(http.StatusMovedPermanently)
		},
		"redirect without location": func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusSeeOther) },
		"hang up": func(w http.ResponseWriter, _ *http.Request) {
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
		},
		"short body": func(w http.ResponseWriter, _ *http.Request) {
			c, _, _ := w.(http.Hijacker).Hijack()
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":")
			c.Close()
		},
	}
	for name, h := range handlers {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			defer srv.Close()
			sameAsClientDo(t, srv.URL)
		})
	}
	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String()
		ln.Close()
		sameAsClientDo(t, url)
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
		defer srv.Close()
		defer close(release)
		sameAsClientDo(t, srv.URL, 20*time.Millisecond)
	})
}

// sameAsClientDo fetches from url with the direct path and through http.Client.Do, and wants
// the same body and the same error text; timeout, if given, bounds each fetch.
func sameAsClientDo(t *testing.T, url string, timeout ...time.Duration) {
	t.Helper()
	cfg, err := LoadConfig(envOf(map[string]string{"BACKEND_URL": url}))
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(direct bool) ([]byte, string) {
		b := newBackendClient(cfg, nil)
		defer b.close()
		if !b.direct {
			t.Fatalf("BACKEND_URL %s: fetch does not call the transport itself", url)
		}
		b.direct = direct
		ctx := context.Background()
		if len(timeout) > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout[0])
			defer cancel()
		}
		body, err := b.fetch(ctx)
		if err == nil {
			return body, ""
		}
		return body, err.Error()
	}
	wantBody, wantErr := fetch(false)
	gotBody, gotErr := fetch(true)
	if !bytes.Equal(gotBody, wantBody) || gotErr != wantErr {
		t.Errorf("direct: %q, error %q\nClient.Do: %q, error %q", gotBody, gotErr, wantBody, wantErr)
	}
}

// TestDirectOnlyForPlainHTTP: an https BACKEND_URL goes through http.Client, which explains a
// TLS answer to plain HTTP, and so does one that url.URL.String spells differently (the URL
// in http.Client's errors).
func TestDirectOnlyForPlainHTTP(t *testing.T) {
	for url, direct := range map[string]bool{
		"http://127.0.0.1:8081":         true,
		"http://backend:8081/base":      true,
		"HTTP://backend:8081":           false,
		"https://backend.example:8443":  false,
		"http://backend.example:8081/a": true,
	} {
		cfg, err := LoadConfig(envOf(map[string]string{"BACKEND_URL": url}))
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		if got := newBackendClient(cfg, nil).direct; got != direct {
			t.Errorf("BACKEND_URL %s: direct %v, want %v", url, got, direct)
		}
	}
}

// TestReadBody: readBody reads what io.ReadAll(io.LimitReader(body, limit)) reads, with and
// without a declared length, around the limit and the first buffer's size.
func TestReadBody(t *testing.T) {
	const limit = 1000
	for _, n := range []int{0, 1, 511, 512, 513, 999, 1000, 1001, 5000} {
		for _, declared := range []bool{true, false} {
			body := bytes.Repeat([]byte("z"), n)
			length := int64(-1)
			if declared {
				length = int64(n)
			}
			resp := &http.Response{Body: io.NopCloser(bytes.NewReader(body)), ContentLength: length}
			got, eof, err := readBody(resp, limit)
			want, _ := io.ReadAll(io.LimitReader(bytes.NewReader(body), limit))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%d bytes, declared %v: %d bytes, %v; want %d bytes", n, declared, len(got), err, len(want))
			}
			if rest, _ := io.ReadAll(resp.Body); eof != (n < limit) || eof && len(rest) > 0 {
				t.Errorf("%d bytes, declared %v: eof %v with %d bytes left", n, declared, eof, len(rest))
			}
		}
	}
	failing := &http.Response{Body: io.NopCloser(io.MultiReader(strings.NewReader("ab"), errReader{})), ContentLength: -1}
	if got, _, err := readBody(failing, limit); string(got) != "ab" || !errors.Is(err, errBroken) {
		t.Errorf("broken body: %q, %v; want \"ab\", %v", got, err, errBroken)
	}
}

var errBroken = errors.New("connection reset by peer")

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errBroken }
