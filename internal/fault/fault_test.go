package fault

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"chaoslab/internal/testutil"
)

// changes collects fault transitions; safe for concurrent use.
type changes struct {
	mu  sync.Mutex
	all []Change
}

func (c *changes) add(ch Change) { c.mu.Lock(); c.all = append(c.all, ch); c.mu.Unlock() }
func (c *changes) list() []Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Change(nil), c.all...)
}

// call sends one request to the fault API (or a service): testutil.Call.
func call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	return testutil.Call(t, method, url, body)
}

// get asks through the proxy with a fresh connection and a short timeout.
func get(url string) error {
	c := &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

const blackhole = `{"name":"partition-%s","type":"timeout","stream":"%s","toxicity":1.0,"attributes":{"timeout":0}}`

func toxic(stream string) string {
	return strings.ReplaceAll(strings.Replace(blackhole, "%s", stream, 1), "%s", stream)
}

// startProxyTo starts a backend answering "ok", an embedded Toxiproxy in front of it and the
// fault API, all stopped when the test ends; the returned changes collects the fault transitions.
func startProxyTo(t *testing.T) (*Proxy, *API, *changes) {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(backend.Close)
	ch := &changes{}
	p, err := StartProxy(ProxyConfig{Listen: "127.0.0.1:0", Upstream: strings.TrimPrefix(backend.URL, "http://")})
	if err != nil {
		t.Fatal(err)
	}
	a, err := StartAPI(APIConfig{Addr: "127.0.0.1:0", TCP: p, OnChange: ch.add})
	if err != nil {
		p.Close(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(context.Background()) })
	return p, a, ch
}

func TestProxyPartitionAndHeal(t *testing.T) {
	p, a, ch := startProxyTo(t)
	through := "http://" + p.ListenAddr() + "/"
	if err := get(through); err != nil {
		t.Fatalf("before the fault: %v", err)
	}
	for _, s := range []string{"downstream", "upstream"} {
		if code, body := call(t, "POST", a.URL()+"/proxies/backend/toxics", toxic(s)); code != 200 {
			t.Fatalf("create toxic %s: %d %s", s, code, body)
		}
	}
	if err := get(through); err == nil {
		t.Fatal("during the partition a request went through, want a timeout")
	}
	if on, detail := a.Active(); !on || !strings.Contains(detail, "partition-upstream") {
		t.Errorf("Active() = %v %q, want the two toxics", on, detail)
	}
	for _, s := range []string{"downstream", "upstream"} {
		if code, body := call(t, "DELETE", a.URL()+"/proxies/backend/toxics/partition-"+s, ""); code != 204 {
			t.Fatalf("delete toxic %s: %d %s", s, code, body)
		}
	}
	if err := get(through); err != nil {
		t.Fatalf("after the heal: %v", err)
	}
	got := ch.list()
	if len(got) != 2 || !got[0].Active || got[1].Active || !strings.Contains(got[1].Detail, "removed") || got[0].Kind != KindPartition {
		t.Errorf("changes = %+v, want exactly on then off", got)
	}
}

func TestProxyDisableAndReset(t *testing.T) {
	p, a, ch := startProxyTo(t)
	listen := p.ListenAddr()
	if code, body := call(t, "POST", a.URL()+"/proxies/backend", `{"enabled":false}`); code != 200 {
		t.Fatalf("disable: %d %s", code, body)
	}
	if err := get("http://" + listen + "/"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("disabled proxy: err = %v, want connection refused", err)
	}
	call(t, "POST", a.URL()+"/proxies/backend/toxics", toxic("downstream"))
	if err := p.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	if on, detail := a.Active(); on {
		t.Errorf("after Reset Active() = true (%s)", detail)
	}
	if err := get("http://" + listen + "/"); err != nil {
		t.Errorf("after Reset: %v", err)
	}
	if got := ch.list(); len(got) != 1 || !got[0].Active || got[0].Kind != KindRefuse {
		t.Errorf("changes = %+v, want one: proxy disabled", got)
	}
}

func TestStartProxyAddressInUse(t *testing.T) {
	_, a, _ := startProxyTo(t)
	_, err := StartAPI(APIConfig{Addr: strings.TrimPrefix(a.URL(), "http://"), TCP: NewPartitionAPI(PartitionAPIConfig{Partitioner: &fakePartitioner{}})})
	if err == nil || !strings.Contains(err.Error(), "choose another address") {
		t.Errorf("second API on the same address: err = %v", err)
	}
}

type fakePartitioner struct {
	mu            sync.Mutex
	parts, heals  int
	partitionFail error
}

func (f *fakePartitioner) Partition(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.partitionFail != nil {
		return f.partitionFail
	}
	f.parts++
	return nil
}

func (f *fakePartitioner) Heal(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.heals++
	return nil
}

func TestPartitionAPI(t *testing.T) {
	var fp fakePartitioner
	var ch changes
	a, err := StartAPI(APIConfig{Addr: "127.0.0.1:0", TCP: NewPartitionAPI(PartitionAPIConfig{Partitioner: &fp, Listen: "198.18.0.2:8081", Upstream: "198.18.0.2:8081"}), OnChange: ch.add})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	base := a.URL() + "/proxies/backend/toxics"

	tests := []struct {
		name, method, url, body string
		wantCode                int
		wantParts, wantHeals    int
		wantBody                string
	}{
		{"latency refused", "POST", base, `{"name":"slow","type":"latency","attributes":{"latency":100}}`, 400, 0, 0, "not supported with --stack netns"},
		{"first toxic partitions", "POST", base, toxic("downstream"), 200, 1, 0, "partition-downstream"},
		{"duplicate", "POST", base, toxic("downstream"), 409, 1, 0, "already exists"},
		{"second toxic keeps it", "POST", base, toxic("upstream"), 200, 1, 0, ""},
		{"list", "GET", base, "", 200, 1, 0, "partition-upstream"},
		{"unknown proxy", "GET", a.URL() + "/proxies/nope", "", 404, 1, 0, "proxy not found"},
		{"delete one keeps it", "DELETE", base + "/partition-downstream", "", 204, 1, 0, ""},
		{"delete missing", "DELETE", base + "/partition-downstream", "", 404, 1, 0, "toxic not found"},
		{"delete last heals", "DELETE", base + "/partition-upstream", "", 204, 1, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := call(t, tt.method, tt.url, tt.body)
			if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
				t.Errorf("%s %s = %d %s, want %d containing %q", tt.method, tt.url, code, body, tt.wantCode, tt.wantBody)
			}
			fp.mu.Lock()
			defer fp.mu.Unlock()
			if fp.parts != tt.wantParts || fp.heals != tt.wantHeals {
				t.Errorf("partitions=%d heals=%d, want %d and %d", fp.parts, fp.heals, tt.wantParts, tt.wantHeals)
			}
		})
	}
	if got := ch.list(); len(got) != 2 || !got[0].Active || got[1].Active {
		t.Errorf("changes = %+v, want on then off", got)
	}
}

func TestPartitionAPIFailedPartition(t *testing.T) {
	fp := fakePartitioner{partitionFail: errors.New("the partition did not take effect: a fresh connection to 198.18.0.2:8081 succeeded")}
	var ch changes
	a, err := StartAPI(APIConfig{Addr: "127.0.0.1:0", TCP: NewPartitionAPI(PartitionAPIConfig{Partitioner: &fp}), OnChange: ch.add})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	code, body := call(t, "POST", a.URL()+"/proxies/backend/toxics", toxic("downstream"))
	if code != 500 || !strings.Contains(body, "did not take effect") {
		t.Errorf("create = %d %s, want 500 saying the partition did not take effect", code, body)
	}
	if on, _ := a.Active(); on || len(ch.list()) != 0 {
		t.Errorf("a failed partition is reported active (%v) or as a change (%v)", on, ch.list())
	}
}
