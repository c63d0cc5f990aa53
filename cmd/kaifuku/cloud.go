package main

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/conf/examples"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
	"github.com/kaifuku-ha/kaifuku/engine/daemon"
)

// buildCloud builds the cloud [compute] names, logging to log; retry
// back-offs and the simulated cloud's latencies run on clk, and ctx bounds
// the Keystone login.
func buildCloud(ctx context.Context, cfg *conf.Config, clk clock.Clock, log *logrus.Logger) (daemon.Cloud, error) {
	switch cfg.Compute.Driver {
	case "", "simulated":
		var fx simulated.Fixture
		var err error
		what := "the embedded demo cloud (conf/examples/demo-cloud.json)"
		if cfg.Compute.Fixture != "" {
			what = cfg.Compute.Fixture
			fx, err = simulated.LoadFixture(cfg.Compute.Fixture)
		} else {
			fx, err = simulated.ParseFixture("demo-cloud.json", examples.DemoCloud)
		}
		if err != nil {
			return daemon.Cloud{}, fmt.Errorf("[compute] fixture: %w", err)
		}
		c, err := simulated.New(fx, clk)
		if err != nil {
			return daemon.Cloud{}, fmt.Errorf("[compute] fixture %s: %w", what, err)
		}
		return daemon.Cloud{Compute: c, Simulated: c, Describe: "simulated cloud from " + what}, nil
	case "nova":
		return buildNovaCloud(ctx, cfg, clk, logrus.NewEntry(log))
	default:
		return daemon.Cloud{}, fmt.Errorf("[compute] driver: %q is not available in this build (known: simulated, nova)", cfg.Compute.Driver)
	}
}
