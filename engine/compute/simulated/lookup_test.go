package simulated

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
)

var lookupStart = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func lookupFixture() Fixture {
	return Fixture{
		Hosts: []Host{
			{Name: "up"},
			{Name: "dead", State: "down"},
			{Name: "maint", Status: "disabled", DisabledReason: "maintenance"},
			{Name: "forced", ForcedDown: true, ServiceID: "C2A3E8A4-77B5-4C4B-9B1E-0F3A52E1D6A0"},
		},
		Servers: []Server{
			{ID: "5B0E8A64-3F1C-4D2B-A9E7-0C6D1F2B3A40", Name: "a", Host: "up"},
			{ID: "6c1f9b75-4a2d-4e3c-b0f8-1d7e2a3c4b51", Name: "b", Host: "dead"},
			{ID: "7d2aac86-5b3e-4f4d-81a9-2e8f3b4d5c62", Name: "c", Host: "maint"},
		},
	}
}

func TestServerPosition(t *testing.T) {
	f := lookupFixture()
	c, err := New(f, clock.NewFake(lookupStart))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range f.Servers {
		for _, id := range []string{s.ID, strings.ToLower(s.ID), strings.ToUpper(s.ID)} {
			if got := c.ServerPosition(id); got != i+1 {
				t.Errorf("ServerPosition(%s) = %d, want %d", id, got, i+1)
			}
		}
	}
	for _, id := range []string{"", "00000000-0000-4000-8000-000000000000", "a"} {
		if got := c.ServerPosition(id); got != 0 {
			t.Errorf("ServerPosition(%q) = %d, want 0", id, got)
		}
	}
	if n := c.Counters().Ops["get_server"]; n != 0 {
		t.Errorf("lookups counted as %d get_server calls", n)
	}
}

func TestServicesAsSnapshot(t *testing.T) {
	clk := clock.NewFake(lookupStart)
	c, err := New(lookupFixture(), clk)
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		got, want := c.Services(), c.Snapshot().Services
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: Services() = %+v, Snapshot().Services = %+v", when, got, want)
		}
	}
	check("at the start")
	got := c.Services()
	if len(got) != 4 || got[1].State != "down" || got[2].Status != "disabled" || got[2].DisabledReason == nil ||
		*got[2].DisabledReason != "maintenance" || !got[3].ForcedDown || got[3].ID != "c2a3e8a4-77b5-4c4b-9b1e-0f3a52e1d6a0" {
		t.Fatalf("services: %+v", got)
	}
	// a host that just failed is reported up until service_down_time, and
	// the lookup brings the state up to now as Snapshot does
	if err := c.FailHost("up"); err != nil {
		t.Fatal(err)
	}
	check("right after the failure")
	if got := c.Services(); got[0].State != "up" || !got[0].Failed {
		t.Fatalf("just failed: %+v", got[0])
	}
	clk.Advance(c.downTime + 1)
	check("after service_down_time")
	if got := c.Services(); got[0].State != "down" {
		t.Fatalf("after service_down_time: %+v", got[0])
	}
	if n := c.Counters().Ops["list_services"]; n != 0 {
		t.Errorf("lookups counted as %d list_services calls", n)
	}
}
