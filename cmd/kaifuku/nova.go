package main

import (
	"context"
	"fmt"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute/nova"
)

// buildNovaCloud logs in to Keystone (or takes [nova] token) and returns the
// Nova driver; retry back-offs wait on clk.
func buildNovaCloud(ctx context.Context, cfg *conf.Config, clk clock.Clock, log *logrus.Entry) (builtCloud, error) {
	c, err := nova.New(ctx, cfg.Nova, log, nova.WithClock(clk))
	if err != nil {
		return builtCloud{}, fmt.Errorf("[compute] driver nova: %w", err)
	}
	return builtCloud{Cloud: c, Describe: "Nova at " + c.Endpoint() + " (microversion " + nova.Microversion + ")"}, nil
}
