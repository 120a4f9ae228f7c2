package experiment

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestCancelDuringMethod cancels the run while a background process activity is running and the
// method is in a pause: the status is interrupted, the process group is killed, the rest of the
// method is skipped and the rollbacks still run.
func TestCancelDuringMethod(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	exp := mustParse(t, fmt.Sprintf(`{"title": "t", "description": "d", "method": [
	  {"type": "action", "name": "long-background", "background": true,
	   "provider": {"type": "process", "path": "/bin/sh", "arguments": ["-c", "sleep 300 & echo $! > %[1]s.tmp; mv %[1]s.tmp %[1]s; wait"]}},
	  {"type": "probe", "name": "read-pid",
	   "provider": {"type": "process", "path": "/bin/sh", "arguments": ["-c", "while ! test -s %[1]s; do sleep 0.01; done; cat %[1]s"]}},
	  {"type": "action", "name": "paused", "pauses": {"before": 300},
	   "provider": {"type": "process", "path": "/bin/true"}},
	  {"type": "action", "name": "never-runs", "provider": {"type": "process", "path": "/bin/true"}}
	 ],
	 "rollbacks": [{"type": "action", "name": "undo", "provider": {"type": "process", "path": "/bin/echo", "arguments": ["undone"]}}]}`, pidFile))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var events []string
	var sleepPID int
	observer := func(ev ActivityEvent) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, ev.Phase+"/"+ev.Name+"/"+ev.Action+"/"+ev.Status)
		if ev.Name == "read-pid" && ev.Action == "end" {
			stdout, _ := mustGet(asObject(ev.Output), "stdout").(string)
			sleepPID, _ = strconv.Atoi(strings.TrimSpace(stdout))
			cancel() // the run is about to pause before "paused"
		}
	}
	start := time.Now()
	j, err := Run(ctx, exp, Options{Observer: observer})
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > 30*time.Second {
		t.Errorf("run took %v: the pause or the process was not cut short", elapsed)
	}
	if j.Status != StatusInterrupted || j.ExitCode() != 1 {
		t.Errorf("status %s exit %d, want interrupted 1", j.Status, j.ExitCode())
	}
	var names []string
	for _, e := range j.Run {
		names = append(names, e.Name()+":"+e.Status)
	}
	if got := strings.Join(names, ","); got != "long-background:,read-pid:succeeded" {
		t.Errorf("run entries = %s, want the background one interrupted (no status) and read-pid", got)
	}
	if len(j.Rollbacks) != 1 || j.Rollbacks[0].Status != "succeeded" {
		t.Errorf("rollbacks = %+v, want undo played", j.Rollbacks)
	}
	if sleepPID == 0 {
		t.Fatalf("no pid read; events %q", events)
	}
	waitGone(t, sleepPID)
}

// waitGone waits until pid is dead (gone or a zombie waiting for its new parent to reap it).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || processState(string(stat)) == "Z" {
			return
		}
		if syscall.Kill(pid, 0) != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d (the activity's child) still running: %s", pid, stat)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, not synchronising on time
	}
}

func processState(stat string) string {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return ""
	}
	return stat[i+2 : i+3]
}

// TestObserverEvents checks the start/end events and their phases for a small run.
func TestObserverEvents(t *testing.T) {
	exp := mustParse(t, `{"title": "t", "description": "d",
	 "steady-state-hypothesis": {"title": "h", "probes": [{"type": "probe", "name": "p", "tolerance": 0,
	   "provider": {"type": "process", "path": "/bin/true"}}]},
	 "method": [{"type": "action", "name": "a", "provider": {"type": "process", "path": "/bin/false"}}],
	 "rollbacks": [{"type": "action", "name": "r", "provider": {"type": "process", "path": "/bin/true"}}]}`)
	var got []string
	j, err := Run(context.Background(), exp, Options{Observer: func(ev ActivityEvent) {
		got = append(got, fmt.Sprintf("%s %s %s %s", ev.Phase, ev.Name, ev.Action, ev.Status))
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"steady-state-before p start ", "steady-state-before p end succeeded",
		"method a start ", "method a end succeeded",
		"steady-state-after p start ", "steady-state-after p end succeeded",
		"rollbacks r start ", "rollbacks r end succeeded",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if j.Status != StatusCompleted || j.ExitCode() != 0 {
		t.Errorf("status %s exit %d", j.Status, j.ExitCode())
	}
}

// TestAbortOnTextPause: a pause that is text after substitution aborts the run, as in
// chaostoolkit-lib (Validate only notes it).
func TestAbortOnTextPause(t *testing.T) {
	exp := mustParse(t, `{"title": "t", "description": "d", "configuration": {"pause": "0.1"},
	 "method": [
	  {"type": "action", "name": "first", "provider": {"type": "process", "path": "/bin/true"}, "pauses": {"before": "${pause}"}},
	  {"type": "action", "name": "second", "provider": {"type": "process", "path": "/bin/true"}}],
	 "rollbacks": [{"type": "action", "name": "r", "provider": {"type": "process", "path": "/bin/true"}}]}`)
	j, err := Run(context.Background(), exp, Options{RollbackStrategy: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != StatusAborted || len(j.Run) != 0 || len(j.Rollbacks) != 1 || j.ExitCode() != 1 {
		t.Errorf("status %s, %d run entries, %d rollbacks; want aborted, 0, 1", j.Status, len(j.Run), len(j.Rollbacks))
	}
}
