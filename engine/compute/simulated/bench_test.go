package simulated

import (
	"context"
	"fmt"
	"testing"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
)

// BenchmarkEvacuateHost evacuates every server of a failed host and reads
// each back until it has moved, as the host-failure flow does, on a cloud
// of 100 servers with zero latency.
func BenchmarkEvacuateHost(b *testing.B) {
	f := Fixture{Hosts: []Host{{Name: "compute1", State: "down"}, {Name: "compute2"}, {Name: "compute3"}}}
	for i := 0; i < 100; i++ {
		f.Servers = append(f.Servers, Server{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			Name: fmt.Sprintf("vm%d", i), Host: "compute1", Metadata: map[string]string{"HA_Enabled": "True"}})
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, err := New(f, clock.NewFake(t0))
		if err != nil {
			b.Fatal(err)
		}
		list, err := c.ListServers(ctx, "compute1")
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range list {
			if err := c.Evacuate(ctx, s.ID, ""); err != nil {
				b.Fatal(err)
			}
			if got, _ := c.GetServer(ctx, s.ID); got.Host == "compute1" {
				b.Fatalf("%s did not move", s.Name)
			}
		}
	}
}

// BenchmarkGetServer is one server read on a 100-server cloud.
func BenchmarkGetServer(b *testing.B) {
	f := Fixture{Hosts: []Host{{Name: "compute1"}}}
	for i := 0; i < 100; i++ {
		f.Servers = append(f.Servers, Server{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			Name: fmt.Sprintf("vm%d", i), Host: "compute1", Metadata: map[string]string{"HA_Enabled": "True"}})
	}
	c, err := New(f, clock.NewFake(t0))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.GetServer(ctx, f.Servers[42].ID); err != nil {
			b.Fatal(err)
		}
	}
}
