// Package fault holds chaoslab's fault injectors and the HTTP APIs experiments use to drive them.
//
// Every injector is reached the same way: through Toxiproxy's REST API. On the laptop that is a
// real, embedded Toxiproxy server (Proxy) between the client and the backend: a partition is a
// `timeout` toxic with `timeout: 0` on both streams (a blackhole), "refuse" is the proxy
// disabled, latency is a `latency` toxic. With real network namespaces (PartitionAPI) the same
// requests are answered by a small Toxiproxy-compatible API whose only toxic is the partition,
// made with iptables in the kernel. So one experiment file drives both.
//
// Both report every change between "no fault" and "fault active" to a callback, which the lab
// turns into the fault on/off events that delimit the phases of a run. Only this package imports
// Toxiproxy.
package fault

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// Change is a transition of the fault state, reported to the OnChange callback.
type Change struct {
	Time   time.Time
	Active bool   // true: a fault is now in effect; false: none is
	Detail string // what is in effect (toxic names, "proxy disabled"), or what was removed
}

// watch wraps a fault API: after every request that may change state it reads the state and
// reports a transition. Reads never change state and are passed straight through.
func watch(next http.Handler, state func() (bool, string), onChange func(Change)) http.Handler {
	var mu sync.Mutex
	last, lastDetail := state()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A fault takes effect while its request is served (the netns partition is verified
		// before the answer, which takes a while): "on" is dated from the request's start, so
		// no request after it is counted as unaffected; "off" from its end, once it is gone.
		started := time.Now()
		next.ServeHTTP(w, r)
		if r.Method == http.MethodGet || r.Method == http.MethodHead || onChange == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		now, detail := state()
		if now == last {
			lastDetail = detail
			return
		}
		at := started
		if !now {
			detail = "removed: " + lastDetail
			at = time.Now()
		}
		last, lastDetail = now, detail
		onChange(Change{Time: at, Active: now, Detail: detail})
	})
}

func joinNames(names []string) string { return strings.Join(names, ", ") }
