package main

import (
	"encoding/json"
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
