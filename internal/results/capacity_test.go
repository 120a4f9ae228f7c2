package results

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCapacityRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC)
	in := []CapacitySample{
		{Time: t0, Workers: 2, QueueLimit: 100, QueueOrder: "fifo", ServiceTime: "5ms", Factor: 1},
		{Time: t0.Add(time.Second), Workers: 2, QueueLimit: 100, QueueOrder: "fifo", ServiceTime: "exp:5ms", Factor: 2.5,
			InService: 2, Queued: 17, Rejected: 3, Expired: 4, Completed: 1234, Wasted: 56},
	}
	var buf bytes.Buffer
	if err := WriteCapacity(&buf, in); err != nil {
		t.Fatal(err)
	}
	const want = "time,workers,queue_limit,queue_order,service_time,factor,in_service,queued,rejected_total,expired_total,completed_total,wasted_total\n" +
		"2026-11-26T10:00:00.123456789Z,2,100,fifo,5ms,1,0,0,0,0,0,0\n" +
		"2026-11-26T10:00:01.123456789Z,2,100,fifo,exp:5ms,2.5,2,17,3,4,1234,56\n"
	if buf.String() != want {
		t.Errorf("capacity.csv =\n%s\nwant\n%s", buf.String(), want)
	}
	out, err := ReadCapacity(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || !out[1].Time.Equal(in[1].Time) {
		t.Fatalf("read %+v", out)
	}
	for i := range in {
		out[i].Time = in[i].Time
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("read back %+v, want %+v", out, in)
	}
}

func TestReadCapacityErrors(t *testing.T) {
	const header = "time,workers,queue_limit,queue_order,service_time,factor,in_service,queued,rejected_total,expired_total,completed_total,wasted_total\n"
	tests := []struct{ name, csv, want string }{
		{"empty", "", "no header"},
		{"other header", strings.Replace(header, "wasted_total", "wasted", 1), "capacity.csv header"},
		{"bad time", header + "x,2,100,fifo,5ms,1,0,0,0,0,0,0\n", "line 2: time"},
		{"negative queue", header + "2026-11-26T10:00:00Z,2,100,fifo,5ms,1,0,-1,0,0,0,0\n", "line 2: queued"},
		{"bad counter", header + "2026-11-26T10:00:00Z,2,100,fifo,5ms,1,0,0,0,0,1.5,0\n", "line 2: completed_total"},
		{"short row", header + "2026-11-26T10:00:00Z,2\n", "wrong number of fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadCapacity(strings.NewReader(tt.csv))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// A sample decodes from GET /api/capacity's answer by the endpoint's own names (the answer of
// backend-service, written out here as its handler encodes it).
func TestCapacitySampleFromTheEndpoint(t *testing.T) {
	body := `{"workers":2,"queueLimit":100,"queueOrder":"lifo","serviceTime":"5ms","factor":3,"inService":2,"queued":7,"rejected":1,"expired":2,"completed":30,"wasted":4}`
	var s CapacitySample
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	want := CapacitySample{Workers: 2, QueueLimit: 100, QueueOrder: "lifo", ServiceTime: "5ms", Factor: 3, InService: 2, Queued: 7,
		Rejected: 1, Expired: 2, Completed: 30, Wasted: 4}
	if s != want {
		t.Errorf("decoded %+v, want %+v", s, want)
	}
}

// A run with samples writes capacity.csv and reads it back; a run without writes no such file,
// and reading its folder notes nothing missing.
func TestRunCapacityFile(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	run := &Run{Info: RunInfo{Title: "t"}, Records: []Record{{ID: 1, Start: t0, Source: SourceBackend, Status: 200, Attempts: 1}}}
	without := t.TempDir()
	if err := run.Write(without); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(without, EventsFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(without, CapacityFile)); !os.IsNotExist(err) {
		t.Errorf("a run without samples wrote %s (stat: %v)", CapacityFile, err)
	}
	back, err := ReadRun(without)
	if err != nil {
		t.Fatal(err)
	}
	if back.Capacity != nil || len(back.Missing) != 2 { // the two observations only
		t.Errorf("read back capacity %v, missing %v; want none, and only the observations missing", back.Capacity, back.Missing)
	}

	with := t.TempDir()
	run.Capacity = []CapacitySample{{Time: t0.Add(time.Second), Workers: 2, QueueOrder: "fifo", Factor: 1, Completed: 5},
		{Time: t0, Workers: 2, QueueOrder: "fifo", Factor: 1}}
	if err := run.Write(with); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(with, EventsFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	back, err = ReadRun(with)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Capacity) != 2 || !back.Capacity[0].Time.Equal(t0) || back.Capacity[1].Completed != 5 {
		t.Errorf("read back capacity %+v, want both samples in time order", back.Capacity)
	}
	if err := os.WriteFile(filepath.Join(with, CapacityFile), []byte("nonsense\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRun(with); err == nil || !strings.Contains(err.Error(), "capacity.csv") {
		t.Errorf("a broken capacity.csv: err = %v, want one naming it", err)
	}
}
