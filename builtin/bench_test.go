package builtin_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
	"github.com/kaifuku-ha/kaifuku/engine/recovery"
)

// swappable lets one built flow run against a fresh cloud each iteration.
type swappable struct{ compute.Cloud }

// benchFlow runs one default flow per iteration through engine.Runner on a
// fresh zero-latency simulated cloud; building the cloud is not measured.
func benchFlow(b *testing.B, kind conf.FlowKind, fx simulated.Fixture, store engine.Store) {
	b.Helper()
	h := newHarness(b, fx)
	cloud := &swappable{h.cloud}
	h.nova = cloud
	flow, err := engine.Build(h.registry(), h.cfg, kind)
	if err != nil {
		b.Fatal(err)
	}
	runner := &engine.Runner{Clock: h.clk, Log: h.log}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		c, err := simulated.New(fx, h.clk)
		if err != nil {
			b.Fatal(err)
		}
		cloud.Cloud = c
		b.StartTimer()
		res := runner.Run(context.Background(), engine.Request{NotificationUUID: notificationUUID, Flow: flow,
			Store: store, Claims: h.claims, Retry: recovery.MainRetry(kind)})
		if res.Status != engine.StatusFinished || res.Err != nil {
			b.Fatalf("status %s: %v", res.Status, res.Err)
		}
	}
}

func BenchmarkInstanceFlow(b *testing.B) {
	fx := simulated.Fixture{Hosts: []simulated.Host{{Name: "compute1"}}, Servers: []simulated.Server{vm("active", true)}}
	benchFlow(b, conf.FlowInstance, fx, vmStore())
}

func BenchmarkHostFlow(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			var servers []simulated.Server
			for i := 1; i <= n; i++ {
				servers = append(servers, haServer(i, "compute1"))
			}
			fx := failedHostCloud(servers...)
			benchFlow(b, conf.FlowHostAuto, fx, engine.Store{"host_name": "compute1", "notification_uuid": notificationUUID})
		})
	}
}
