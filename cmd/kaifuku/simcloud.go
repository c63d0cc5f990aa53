package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simcloud"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
)

func newSimcloudCmd() *cobra.Command {
	var (
		listen, fixture, password, logLevel string
		tokens                              []string
	)
	cmd := &cobra.Command{
		Use:   "simcloud --fixture FILE [--listen 127.0.0.1:PORT]",
		Short: "Serve a simulated cloud as a Nova-compatible API with a minimal Keystone",
		Long: `simcloud serves the simulated cloud described by a fixture over HTTP as the
part of Nova's compute API v2.1 that recovery uses (servers, server actions,
os-services, os-aggregates, os-migrations; microversions 2.1 to 2.93), with
version discovery and a minimal Keystone v3, so that unmodified OpenStack
clients (the openstack CLI, novaclient, gophercloud, kaifuku's nova driver)
work against it. It runs on the wall clock with the fixture's latencies.

Endpoints:
  http://ADDR/v3       Keystone v3: POST /v3/auth/tokens returns a token and a
                       catalog whose compute endpoint is http://ADDR/v2.1
  http://ADDR/v2.1     the compute API (X-Auth-Token: a Keystone token or a
                       static --token)
  http://ADDR/sim/     control: fail/restart/recover a host, inject faults,
                       counters of every Nova call, snapshot (GET /sim/ lists them)

Keystone accepts any user name; with --password it checks the password.`,
		Example: `  kaifuku simcloud --listen 127.0.0.1:18774 --fixture conf/examples/demo-cloud.json
  openstack --os-auth-url http://127.0.0.1:18774/v3 --os-username admin --os-password x \
    --os-project-name admin --os-user-domain-name Default --os-project-domain-name Default \
    --os-compute-api-version 2.53 compute service list
  curl -s -X POST http://127.0.0.1:18774/sim/hosts/compute1/fail`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if fixture == "" {
				return exitCode(2, errors.New("simcloud: --fixture is required (a cloud fixture JSON file)"))
			}
			lvl, err := logrus.ParseLevel(logLevel)
			if err != nil {
				return exitCode(2, fmt.Errorf("simcloud: --log-level %q is not one of debug, info, warning, error", logLevel))
			}
			f, err := simulated.LoadFixture(fixture)
			if err != nil {
				return exitCode(2, fmt.Errorf("simcloud: %w", err))
			}
			cloud, err := simulated.New(f, clock.Real{})
			if err != nil {
				return exitCode(2, fmt.Errorf("simcloud: %s: %w", fixture, err))
			}
			log := logrus.New()
			log.SetOutput(cmd.ErrOrStderr())
			log.SetLevel(lvl)
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return exitCode(2, fmt.Errorf("simcloud: --listen: %w", err))
			}
			srv := &http.Server{
				Handler:           simcloud.New(cloud, simcloud.Options{Password: password, Tokens: tokens, Log: logrus.NewEntry(log)}),
				ReadHeaderTimeout: 10 * time.Second,
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			addr := ln.Addr().String()
			fmt.Fprintf(cmd.OutOrStdout(), "simcloud: serving %s on http://%s (keystone http://%s/v3, compute http://%s/v2.1, control http://%s/sim/)\n",
				fixture, addr, addr, addr, addr)
			errc := make(chan error, 1)
			go func() { errc <- srv.Serve(ln) }()
			select {
			case err := <-errc:
				return exitCode(1, fmt.Errorf("simcloud: %w", err))
			case <-ctx.Done():
			}
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				return exitCode(1, fmt.Errorf("simcloud: shutdown: %w", err))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&listen, "listen", "127.0.0.1:18774", "address to listen on (port 0 picks a free port)")
	fl.StringVar(&fixture, "fixture", "", "cloud fixture JSON file (hosts, servers, latencies, faults)")
	fl.StringVar(&password, "password", "", "the only password Keystone accepts (default: any)")
	fl.StringSliceVar(&tokens, "token", []string{"admin:admin"}, "static tokens the compute API accepts without a login (repeatable; \"\" for none)")
	fl.StringVar(&logLevel, "log-level", "info", "log level: debug logs every request")
	return cmd
}
