package k8s

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"chaoslab/internal/fault"
)

// The run's own faults (a NetworkPolicy in place, apps whose pods it deleted) go to the
// sidecar as the list PUT /faults/external takes; none left is an empty list, not null.
func TestExternalFaultsToTheSidecar(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || r.URL.Path != "/faults/external" {
			http.NotFound(w, r)
			return
		}
		var b json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			t.Error(err)
		}
		got = append(got, string(b))
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	r := &running{policies: map[string]bool{"chaoslab-partition-x": true}, crashed: map[string]bool{"backend-service": true}}
	want := []fault.External{{Kind: fault.KindPartition, Target: fault.ProxyName}, {Kind: fault.KindCrash, Target: "backend-service"}}
	if ex := r.externalFaults(); !reflect.DeepEqual(ex, want) {
		t.Errorf("external faults %+v, want %+v", ex, want)
	}
	if err := putExternal(context.Background(), srv.URL, r.externalFaults()); err != nil {
		t.Fatal(err)
	}
	r.policies, r.crashed = map[string]bool{}, map[string]bool{}
	if err := putExternal(context.Background(), srv.URL, r.externalFaults()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != `[{"kind":"partition","target":"backend"},{"kind":"crash","target":"backend-service"}]` || got[1] != `[]` {
		t.Errorf("the sidecar got %q", got)
	}
	if err := putExternal(context.Background(), srv.URL+"/old", nil); err == nil {
		t.Error("a sidecar without the endpoint: no error")
	}
}
