package fault

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A hop's proxy (AddProxy) is one more proxy of the same Toxiproxy: its API addresses it by
// name, a fault on it cuts that hop only and is reported with the proxy's name, and Reset and
// Close clear and stop it with the others.
func TestAddProxyHop(t *testing.T) {
	p, a, ch := startProxyTo(t)
	tier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tier") }))
	t.Cleanup(tier.Close)
	listen, err := p.AddProxy("mid", "127.0.0.1:0", strings.TrimPrefix(tier.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddProxy("mid", "127.0.0.1:0", "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), `proxy "mid"`) {
		t.Errorf("a second proxy mid: err = %v", err)
	}
	if code, body := call(t, "GET", a.URL()+"/proxies", ""); code != 200 || !strings.Contains(body, `"mid"`) || !strings.Contains(body, `"backend"`) {
		t.Fatalf("GET /proxies = %d %s, want backend and mid", code, body)
	}
	for _, s := range []string{"downstream", "upstream"} {
		if code, body := call(t, "POST", a.URL()+"/proxies/mid/toxics", toxic(s)); code != 200 {
			t.Fatalf("toxic on mid: %d %s", code, body)
		}
	}
	if err := get("http://" + listen + "/"); err == nil {
		t.Error("a request crossed the partitioned hop mid")
	}
	if err := get("http://" + p.ListenAddr() + "/"); err != nil {
		t.Errorf("the backend's proxy was cut with mid: %v", err)
	}
	if on, detail := a.Active(); !on || !strings.Contains(detail, "proxy mid: blackhole, downstream (toxic partition-downstream)") {
		t.Errorf("Active() = %t %q, want the hop's partition named after its proxy", on, detail)
	}
	if err := a.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := get("http://" + listen + "/"); err != nil {
		t.Errorf("after Reset: %v", err)
	}
	if got := ch.list(); len(got) != 2 || got[0].Kind != KindPartition || got[1].Active {
		t.Errorf("changes = %+v, want the hop's partition on, then off", got)
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := get("http://" + listen + "/"); err == nil {
		t.Error("the hop's proxy still accepts after Close")
	}
}

// A flapping partition may name a hop's proxy: it cuts that hop only, and its fault names the
// proxy as a toxic on it does. A proxy that does not exist, or a hop on a stack whose partition
// has no hops (network namespaces), is refused.
func TestFlappingAtHop(t *testing.T) {
	p, a, ch := startProxyTo(t)
	tier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tier") }))
	t.Cleanup(tier.Close)
	listen, err := p.AddProxy("mid", "127.0.0.1:0", strings.TrimPrefix(tier.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if code, body := call(t, "POST", a.URL()+"/faults/flapping", `{"name":"flap","proxy":"nope","on":1,"off":1,"cycles":1}`); code != 400 || !strings.Contains(body, `proxy \"nope\": no such proxy`) {
		t.Errorf("flapping at an unknown proxy = %d %s, want 400", code, body)
	}
	if code, body := call(t, "POST", a.URL()+"/faults/flapping", `{"name":"flap","proxy":"mid","on":"10s","off":1,"cycles":1}`); code != 201 || !strings.Contains(body, `"proxy":"mid"`) {
		t.Fatalf("flapping at mid = %d %s", code, body)
	}
	eventually(t, func() bool { on, _ := a.Active(); return on })
	if err := get("http://" + listen + "/"); err == nil {
		t.Error("a request crossed the flapping hop mid")
	}
	if err := get("http://" + p.ListenAddr() + "/"); err != nil {
		t.Errorf("the backend's proxy was cut with mid: %v", err)
	}
	if _, detail := a.Active(); !strings.HasPrefix(detail, "proxy mid: blackhole both ways (flapping flap: cycle 1 of 1") {
		t.Errorf("Active() = %q, want the hop's partition named after its proxy", detail)
	}
	if code, body := call(t, "DELETE", a.URL()+"/faults/flapping/flap", ""); code != 204 {
		t.Fatalf("DELETE = %d %s", code, body)
	}
	if err := get("http://" + listen + "/"); err != nil {
		t.Errorf("after DELETE the hop is still cut: %v", err)
	}
	if got := ch.list(); len(got) != 2 || got[0].Kind != KindPartition || got[1].Active {
		t.Errorf("changes = %+v, want on, then off", got)
	}

	netns, _, _, _ := startAPI(t, nil)
	if code, body := call(t, "POST", netns.URL()+"/faults/flapping", `{"name":"flap","proxy":"mid","on":1,"off":1,"cycles":1}`); code != 400 || !strings.Contains(body, `cuts proxy \"backend\" only`) {
		t.Errorf("flapping at mid without hops = %d %s, want 400", code, body)
	}
}
