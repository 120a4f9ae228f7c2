package experiment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

func validateHTTP(p *Object) []string {
	var problems []string
	if u, ok := getString(p, "url"); !ok || u == "" {
		problems = append(problems, "provider.url is required")
	}
	if m, ok := p.Get("method"); ok {
		if s, isStr := m.(string); !isStr || s == "" {
			problems = append(problems, "provider.method must be a string such as GET or POST")
		}
	}
	if h, ok := p.Get("headers"); ok && h != nil && asObject(h) == nil {
		problems = append(problems, "provider.headers must be an object")
	}
	if _, _, problem := timeoutSeconds(p); problem != "" {
		problems = append(problems, problem)
	}
	return problems
}

// runHTTP is chaoslib's http provider: GET sends arguments as the query string; other methods
// send JSON only when the Content-Type header is exactly application/json, otherwise a form
// (object) or the raw text (string). The output is {status, headers, body}; the body is parsed
// only when the response Content-Type is exactly application/json. Connection errors and
// timeouts are ActivityFailed; an unusable URL aborts.
func runHTTP(ctx context.Context, p *Object, env providerEnv) (any, error) {
	rawURL, _ := getString(p, "url")
	method, _ := getString(p, "method")
	method = strings.ToUpper(method)
	if method == "" {
		method = "GET"
	}
	if err := checkURL(rawURL); err != nil {
		return nil, &abortError{err: err}
	}
	secs, hasTimeout, _ := timeoutSeconds(p)
	if hasTimeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(secs*float64(time.Second)))
		defer cancel()
	}
	req, err := buildRequest(ctx, method, rawURL, p)
	if err != nil {
		return nil, &abortError{err: err}
	}
	resp, err := env.client.Do(req)
	if err != nil {
		return nil, httpError(ctx, rawURL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, httpError(ctx, rawURL, err)
	}
	return httpOutput(resp, data), nil
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("invalid URL %q: %w", raw, err)
	}
	if u.Scheme == "" {
		return fmt.Errorf("invalid URL %q: no scheme supplied. Perhaps you meant http://%s?", raw, raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("no connection adapters were found for %q", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("invalid URL %q: no host supplied", raw)
	}
	return nil
}

func httpError(ctx context.Context, rawURL string, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return &activityFailed{msg: fmt.Sprintf("failed to connect to %s: %v", rawURL, err)}
		}
		return &activityFailed{msg: "activity took too long to complete"}
	}
	return &activityFailed{msg: fmt.Sprintf("failed to connect to %s: %v", rawURL, err)}
}

func buildRequest(ctx context.Context, method, rawURL string, p *Object) (*http.Request, error) {
	headers := asObject(mustGet(p, "headers"))
	args, hasArgs := p.Get("arguments")
	hasArgs = hasArgs && args != nil
	var body io.Reader
	contentType := ""
	switch {
	case method == "GET" && hasArgs:
		rawURL = withQuery(rawURL, args)
	case hasArgs && headerValue(headers, "Content-Type") == "application/json":
		body = strings.NewReader(pyJSON(args))
	case hasArgs:
		if s, ok := args.(string); ok {
			body = strings.NewReader(s)
		} else if enc := formEncode(args); enc != "" {
			body = strings.NewReader(enc)
			contentType = "application/x-www-form-urlencoded"
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, k := range headers.Keys() {
		v, _ := headers.Get(k)
		req.Header.Set(k, pyStr(v))
	}
	return req, nil
}

// headerValue returns the value of header name as written in the experiment (exact name
// first, then case-insensitively, as requests' CaseInsensitiveDict does).
func headerValue(headers *Object, name string) string {
	for _, k := range headers.Keys() {
		if strings.EqualFold(k, name) {
			v, _ := headers.Get(k)
			return pyStr(v)
		}
	}
	return ""
}

func withQuery(rawURL string, args any) string {
	q := formEncode(args)
	if q == "" {
		return rawURL
	}
	if strings.Contains(rawURL, "?") {
		return rawURL + "&" + q
	}
	return rawURL + "?" + q
}

// formEncode is Python's urlencode(doseq=True) over an object: values stringified with str(),
// None dropped, lists repeated, keys in order.
func formEncode(args any) string {
	o := asObject(args)
	var parts []string
	for _, k := range o.Keys() {
		v, _ := o.Get(k)
		vals, isList := v.([]any)
		if !isList {
			vals = []any{v}
		}
		for _, e := range vals {
			if e == nil {
				continue
			}
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(pyStr(e)))
		}
	}
	return strings.Join(parts, "&")
}

func httpOutput(resp *http.Response, data []byte) *Object {
	var body any = string(data)
	if resp.Header.Get("Content-Type") == "application/json" {
		if v, err := decodeJSON(data); err == nil {
			body = v
		}
	}
	headers := &Object{}
	for k, vs := range resp.Header {
		headers.Set(k, strings.Join(vs, ", "))
	}
	return NewObject("status", int64(resp.StatusCode), "headers", sortedObject(headers), "body", body)
}

func sortedObject(o *Object) *Object {
	m := map[string]any{}
	for _, k := range o.Keys() {
		m[k], _ = o.Get(k)
	}
	return objectFromMap(m)
}
