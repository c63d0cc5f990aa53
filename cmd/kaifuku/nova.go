package main

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute/nova"
	"github.com/kaifuku-ha/kaifuku/engine/daemon"
)

// buildNovaCloud logs in to Keystone (or takes [nova] token) and returns the
// Nova driver; retry back-offs wait on clk.
func buildNovaCloud(ctx context.Context, cfg *conf.Config, clk clock.Clock, log *logrus.Entry) (daemon.Cloud, error) {
	c, err := nova.New(ctx, cfg.Nova, log, nova.WithClock(clk))
	if err != nil {
		return daemon.Cloud{}, fmt.Errorf("[compute] driver nova: %w", err)
	}
	return daemon.Cloud{Compute: c, Describe: "Nova at " + c.Endpoint() + " (microversion " + nova.Microversion + ")"}, nil
}
