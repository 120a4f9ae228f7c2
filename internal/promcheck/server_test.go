package promcheck

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"chaoslab/internal/testutil"
)

// fakeAPI answers the Prometheus HTTP API routes Server uses with canned data, and records the
// queries it was asked.
func fakeAPI(t *testing.T, asked *atomic.Value) *Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/query", func(w http.ResponseWriter, r *http.Request) {
		asked.Store(r.URL.Query().Get("query") + " @" + r.URL.Query().Get("time"))
		switch r.URL.Query().Get("query") {
		case "bad(":
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"parse error"}`)
		case "scalar(1)":
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"1"]}}`)
		default:
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[
				{"metric":{"__name__":"up","job":"a"},"value":[1700000000,"1"]},
				{"metric":{"job":"b"},"value":[1700000000,"NaN"]}]}}`)
		}
	})
	mux.HandleFunc("GET /api/v1/query_range", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		asked.Store(q.Get("query") + " " + q.Get("start") + ".." + q.Get("end") + " step " + q.Get("step"))
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"matrix","result":[
			{"metric":{"job":"a"},"values":[[1700000000,"NaN"],[1700000001,"2"],[1700000002,"+Inf"],[1700000003,"3"]]},
			{"metric":{"job":"b"},"values":[[1700000000,"NaN"]]}]}}`)
	})
	mux.HandleFunc("GET /api/v1/label/{label}/values", func(w http.ResponseWriter, r *http.Request) {
		asked.Store(r.PathValue("label") + " " + r.URL.Query().Get("match[]"))
		fmt.Fprint(w, `{"status":"success","data":["x","y"]}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &Server{URL: srv.URL, http: srv.Client()}
}

func TestQueryAndLabelValues(t *testing.T) {
	var asked atomic.Value
	s := fakeAPI(t, &asked)
	ctx := context.Background()
	at := time.UnixMilli(1700000000250)
	r, err := s.Query(ctx, "up", at)
	if err != nil {
		t.Fatal(err)
	}
	if asked.Load() != "up @1700000000.250" {
		t.Errorf("asked %v", asked.Load())
	}
	if r.Type != "vector" || len(r.Series) != 2 || r.Series[0].Value != 1 || r.Series[0].Metric["job"] != "a" {
		t.Errorf("result = %+v", r)
	}
	if got := r.String(); got != `up{job="a"} 1; {job="b"} NaN` {
		t.Errorf("String = %q", got)
	}
	if r, err := s.Query(ctx, "scalar(1)", at); err != nil || r.Type != "scalar" || len(r.Series) != 1 || r.Series[0].Value != 1 {
		t.Errorf("scalar = %+v, %v", r, err)
	}
	if _, err := s.Query(ctx, "bad(", at); err == nil || !strings.Contains(err.Error(), `"bad("`) || !strings.Contains(err.Error(), "parse error") {
		t.Errorf("a bad expression: err = %v, want it named with the server's message", err)
	}
	rr, err := s.QueryRange(ctx, "m", at, at.Add(3*time.Second), 1500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if asked.Load() != "m 1700000000.250..1700000003.250 step 1.500" {
		t.Errorf("asked %v", asked.Load())
	}
	if rr.Type != "matrix" || len(rr.Series) != 2 || rr.Series[0].Value != 3 || len(rr.Series[0].Values) != 4 || rr.Finite() != 2 {
		t.Errorf("range result = %+v, finite %d: want the last value 3 and 2 finite points (NaN and +Inf are not drawn)", rr, rr.Finite())
	}
	vals, err := s.LabelValues(ctx, "name", "m{a=\"1\"}")
	if err != nil || strings.Join(vals, ",") != "x,y" || asked.Load() != `name m{a="1"}` {
		t.Errorf("label values = %v, %v (asked %v)", vals, err, asked.Load())
	}
	if (Result{}).String() != "(empty)" {
		t.Error("an empty result does not say so")
	}
}

func TestStartWithoutPrometheus(t *testing.T) {
	_, err := Start(context.Background(), Config{Binary: "no-such-prometheus-binary", Dir: t.TempDir()})
	if !errors.Is(err, ErrNoPrometheus) {
		t.Errorf("err = %v, want ErrNoPrometheus", err)
	}
}

// The real prometheus scrapes a test server and answers a query with the value it served.
func TestStartScrapesAndQueries(t *testing.T) {
	if _, err := exec.LookPath("prometheus"); err != nil {
		t.Skip("prometheus not installed (Debian: apt-get install prometheus): the real server is not checked")
	}
	var served atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "# TYPE promcheck_test_scrapes_total counter\npromcheck_test_scrapes_total %d\n", served.Add(1))
	}))
	defer target.Close()
	conf := fmt.Sprintf("global: {scrape_interval: 100ms, scrape_timeout: 90ms}\nscrape_configs:\n  - job_name: t\n    static_configs: [{targets: [%q]}]\n",
		strings.TrimPrefix(target.URL, "http://"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, Config{Dir: t.TempDir(), ScrapeConfig: []byte(conf)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var r Result
	testutil.WaitFor(t, 20*time.Second, "a third scrape in prometheus", func() bool {
		if r, err = s.Query(ctx, `promcheck_test_scrapes_total{job="t"} >= 3`, time.Now()); err != nil {
			t.Fatal(err)
		}
		return len(r.Series) == 1
	})
	if v := r.Series[0].Value; v < 3 || v > float64(served.Load()) {
		t.Errorf("value %v, served %d: a scraped value must be one the target served", v, served.Load())
	}
	targets, err := s.Targets(ctx)
	if err != nil || len(targets) != 1 || targets[0].Job != "t" || targets[0].Health != "up" {
		t.Errorf("targets = %+v, %v", targets, err)
	}
	s.Close()
	if _, err := s.Query(context.Background(), "up", time.Now()); err == nil {
		t.Error("the server still answers after Close")
	}
	if err := s.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
}
