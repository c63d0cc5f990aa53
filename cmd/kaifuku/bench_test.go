package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

func TestBenchPrintsOneRowPerCase(t *testing.T) {
	out, _, err := execute(t, "bench", "--servers", "10,20", "--threads", "3", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []benchRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	if len(rows) != 2 || rows[0].Servers != 10 || rows[1].Servers != 20 || rows[1].Threads != 3 {
		t.Fatalf("rows %+v", rows)
	}
	for _, r := range rows {
		if r.Clock != "virtual" || r.Ratio < 1 || r.IdealSeconds != 60+2*float64((r.Servers+2)/3) || r.RequestsPerServer <= 0 {
			t.Errorf("row %+v", r)
		}
	}
	if _, _, err := execute(t, "bench", "--servers", "0"); err == nil {
		t.Error("0 servers accepted")
	}
}

// With --http the built command drives a `kaifuku simcloud` process of its
// own (os.Executable) through the Nova driver: the row says so, on the
// wall clock, with the simcloud process's CPU apart and the Keystone login
// counted apart from the Nova requests.
func TestBenchOverHTTP(t *testing.T) {
	if _, _, err := execute(t, "bench", "--http", "--servers", "1"); err == nil || !strings.Contains(err.Error(), "--http needs --real-time") {
		t.Fatalf("--http without --real-time: %v", err)
	}
	cmd := exec.Command(kaifukuBinary(t), "bench", "--http", "--real-time", "--servers", "10", "--threads", "4",
		"--api-latency", "1ms", "--evacuation", "20ms", "--service-down-time", "0", "--json")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	dieWithTest(cmd)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	var rows []benchRow
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("%v in %q", err, out)
	}
	if len(rows) != 1 {
		t.Fatalf("rows %+v", rows)
	}
	r := rows[0]
	if !r.HTTP || r.Clock != "wall" || r.Servers != 10 || r.Ratio < 1 || r.RequestsPerServer < 3 || r.KeystoneRequests < 1 ||
		r.CloudCPUSeconds == nil || *r.CloudCPUSeconds <= 0 {
		t.Errorf("row %+v (cloud cpu %v)", r, r.CloudCPUSeconds)
	}
}
