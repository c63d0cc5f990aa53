package nova_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/compute/nova"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simcloud"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

// The cost of one driver call over loopback HTTP to simcloud (gophercloud,
// JSON both ways, simcloud's rendering), with a host of 100 servers.
func BenchmarkDriverThroughSimcloud(b *testing.B) {
	f := simulated.Fixture{Hosts: []simulated.Host{{Name: "compute1"}, {Name: "compute2"}}}
	for i := range 100 {
		f.Servers = append(f.Servers, simulated.Server{
			ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Name: fmt.Sprintf("vm-%d", i), Host: "compute1",
			Metadata: map[string]string{"HA_Enabled": "True"},
		})
	}
	bd := startSimcloud(b, f, simcloud.Options{Tokens: []string{staticToken}})
	ctx := context.Background()
	c, err := nova.New(ctx, conf.Nova{Token: staticToken, Endpoint: bd.url + "/v2.1", Timeout: 10 * time.Second}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("GetServer", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.GetServer(ctx, f.Servers[7].ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ListServers100", func(b *testing.B) {
		for b.Loop() {
			if s, err := c.ListServers(ctx, "compute1"); err != nil || len(s) != 100 {
				b.Fatal(len(s), err)
			}
		}
	})
	b.Run("ListServices", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.ListServices(ctx, "compute1", "nova-compute"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
