package soak

import (
	"bytes"
	"context"
	"errors"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"chaoslab/internal/results"
)

func TestSoakSchedule(t *testing.T) {
	tests := []struct {
		name                 string
		duration, every, dur time.Duration
		rotation             []string
		want                 []time.Duration
	}{
		{"every 15 s for 5 s in 60 s", 60 * time.Second, 15 * time.Second, 5 * time.Second, []string{"a"},
			[]time.Duration{15 * time.Second, 30 * time.Second, 45 * time.Second}},
		{"the last one fits exactly", 60 * time.Second, 20 * time.Second, 20 * time.Second, []string{"a"},
			[]time.Duration{20 * time.Second, 40 * time.Second}},
		{"no faults", 60 * time.Second, 0, 5 * time.Second, []string{"a"}, nil},
		{"no entries", 60 * time.Second, 15 * time.Second, 5 * time.Second, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Config{Duration: tt.duration, FaultEvery: tt.every, FaultFor: tt.dur, Rotation: tt.rotation}.Schedule()
			if !slices.Equal(got, tt.want) {
				t.Errorf("Schedule() = %v, want %v", got, tt.want)
			}
		})
	}
}

// The warm-up lasts until the first round of the rotation has ended, if that is after 20 %.
func TestSoakWarmupEnd(t *testing.T) {
	r := DefaultRules()
	c := Config{Duration: time.Hour, FaultEvery: time.Minute, FaultFor: 20 * time.Second, Rotation: make([]string, 8)}
	if got := r.WarmupEnd(c); got != 12*time.Minute {
		t.Errorf("1 h, 8 faults a minute apart: warm-up ends at %v, want 12m (20 %%)", got)
	}
	c.Rotation = make([]string, 15)
	if got := r.WarmupEnd(c); got != 15*time.Minute+20*time.Second {
		t.Errorf("15 faults: warm-up ends at %v, want 15m20s (the first round)", got)
	}
	c.Duration = 10 * time.Minute
	if got := r.WarmupEnd(c); got != 2*time.Minute {
		t.Errorf("a round longer than the soak: warm-up ends at %v, want 2m (20 %%)", got)
	}
}

// fakeFaults records what was applied and removed; apply of "bad" fails.
type fakeFaults struct {
	mu  sync.Mutex
	log []string
}

func (f *fakeFaults) Apply(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, "apply "+name)
	if name == "bad" {
		return errors.New("the fault API answered 500")
	}
	return nil
}

func (f *fakeFaults) Remove(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, "remove "+name)
	return nil
}

func self() Target {
	return Target{Name: "chaoslab", Process: func() (int, bool) { return os.Getpid(), true }, Goroutines: runtime.NumGoroutine}
}

// Run samples at 0, every SampleEvery and at Duration, rotates the faults in order and removes
// each; the table and the CSV have a line per sample.
func TestSoakRun(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
	ff := &fakeFaults{}
	var tally Tally
	tally.Record(results.Record{ID: 1, Source: results.SourceBackend})
	var tab, csvOut bytes.Buffer
	table, csv := NewTable(&tab), NewCSV(&csvOut)
	gone := Target{Name: "backend-service", Process: func() (int, bool) { return 0, false }}
	res := Run(context.Background(), Config{Duration: 500 * time.Millisecond, SampleEvery: 100 * time.Millisecond,
		FaultEvery: 150 * time.Millisecond, FaultFor: 50 * time.Millisecond, Rotation: []string{"bad", "b"}, Faults: ff,
		Targets: []Target{self(), gone}, Load: tally.Counts,
		OnSample: func(s Sample) {
			table.Row(s)
			if err := csv.Write(s); err != nil {
				t.Error(err)
			}
		}})
	if len(res.Samples) != 6 || res.Stopped {
		t.Fatalf("%d samples, stopped %t; want 6 (0 to 500 ms), not stopped", len(res.Samples), res.Stopped)
	}
	wantLog := []string{"apply bad", "remove bad", "apply b", "remove b", "apply bad", "remove bad"}
	if !slices.Equal(ff.log, wantLog) {
		t.Errorf("faults %v, want %v", ff.log, wantLog)
	}
	if errs := res.FaultErrors(); len(errs) != 2 || !strings.Contains(errs[0], "apply bad: the fault API answered 500") {
		t.Errorf("fault errors %q, want the two applies of bad", errs)
	}
	s := res.Samples[1]
	if p := s.Procs[0]; !p.OK() || p.RSS <= 0 || p.Tasks <= 0 || p.Kind != KindGoroutines || s.Load.Records != 1 {
		t.Errorf("sample %+v: want chaoslab read, with goroutines, and the load's record", s)
	}
	if p := s.Procs[1]; p.Err != "not running" || p.Kind != KindThreads {
		t.Errorf("a process not running: %+v", p)
	}
	lines := strings.Split(strings.TrimSpace(tab.String()), "\n")
	if len(lines) != 2+6 || !strings.Contains(lines[1], "rss MB   gor  fds") || !strings.Contains(lines[1], "thr") {
		t.Errorf("table: want 2 header lines and 6 rows:\n%s", tab.String())
	}
	rows := strings.Split(strings.TrimSpace(csvOut.String()), "\n")
	if len(rows) != 1+6 || !strings.HasPrefix(rows[0], "elapsed_s,time,arrivals,records,sent,answered,in_flight,dropped,errors,fault,chaoslab_pid,chaoslab_rss_bytes,chaoslab_goroutines,") {
		t.Errorf("csv: want a header and 6 rows:\n%s", csvOut.String())
	}
}

// A cancelled context stops Run early and removes the fault in place.
func TestSoakRunStopped(t *testing.T) {
	ff := &fakeFaults{}
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	res := Run(ctx, Config{Duration: time.Minute, SampleEvery: 20 * time.Millisecond, FaultEvery: 30 * time.Millisecond,
		FaultFor: 20 * time.Second, Rotation: []string{"a"}, Faults: ff,
		OnFault: func(e FaultEvent) { once.Do(cancel) }})
	if !res.Stopped || len(res.Samples) == 0 {
		t.Errorf("stopped %t after %d samples, want stopped after some", res.Stopped, len(res.Samples))
	}
	if want := []string{"apply a", "remove a"}; !slices.Equal(ff.log, want) {
		t.Errorf("faults %v, want %v", ff.log, want)
	}
}

func TestSoakTally(t *testing.T) {
	var tl Tally
	var wg sync.WaitGroup
	for id := uint64(1); id <= 100; id++ {
		wg.Go(func() {
			if id%10 == 0 {
				tl.Record(results.Record{ID: id, Source: results.SourceDropped})
				return
			}
			tl.Sent(id)
			src := results.SourceBackend
			if id%7 == 0 {
				src = results.SourceError
			}
			tl.Record(results.Record{ID: id, Source: src})
		})
	}
	wg.Wait()
	c := tl.Counts()
	want := LoadCounts{Arrivals: 100, Records: 100, Sent: 90, Answered: 90, Dropped: 10, Errors: 13}
	if c != want || c.Lost() != 0 || c.InFlight() != 0 {
		t.Errorf("counts %+v, want %+v", c, want)
	}
}

// The summary names every check and ends with the verdict.
func TestSoakSummary(t *testing.T) {
	s := series(flat(13, 100.0), flat(13, 9), flat(13, 12))
	v := Judge(s, LoadCounts{Arrivals: 10, Records: 9}, nil, 24*time.Second, DefaultRules())
	var b bytes.Buffer
	Summary(&b, Result{Samples: s}, v)
	for _, want := range []string{"13 samples over 2m00s (the first 3 are warm-up)", "client-service   rss 100.0 -> 100.0 MB, threads 9 -> 9, fds 12 -> 12",
		"FAIL       lost requests: 10 arrivals, 9 records", "verdict: FAIL (1 of 5 checks failed)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}
