package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/daemon"
)

func newServeCmd() *cobra.Command {
	var files []string
	var debug bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Masakari-compatible API and the recovery engine",
		Long: `serve runs kaifuku as a daemon: the Masakari v1 API on [api] listen
(default 127.0.0.1:15868) and the engine that recovers the notifications it
accepts, storing everything in [database] connection (default SQLite in
[DEFAULT] state_dir).

With [api] auth_strategy = token (the default), requests need an X-Auth-Token
listed in [api] token_file; a first start without that file creates one with
a random token and prints a ready-to-paste openstack command line.

Signals: SIGTERM or SIGINT stop accepting requests, let running tasks reach
a task boundary within [api] grace_period, persist and exit 0; SIGHUP reloads
the configuration and the Lua scripts (a configuration that fails validation
is not applied, and the log lists every problem of every file).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), files, debug, cmd.OutOrStdout())
		},
	}
	configFlags(cmd, &files)
	cmd.Flags().BoolVar(&debug, "debug", false, "log at debug level (as [DEFAULT] debug = true)")
	return cmd
}

// serve composes the daemon from the built-in tasks, the operator's scripts
// and the compute backend of [compute], runs it and turns signals into its
// life cycle: SIGHUP reloads, SIGTERM and SIGINT stop it.
func serve(ctx context.Context, files []string, debug bool, out io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg, err := loadRunnableConfig(files)
	if err != nil {
		return exitCode(2, err)
	}
	log, logFile, err := newLogger(cfg.Log, debug, logSink{stderr: os.Stderr})
	if err != nil {
		return exitCode(2, err)
	}
	defer logFile.Close()
	d, err := daemon.New(ctx, cfg, daemon.Deps{
		Log:        log,
		Out:        out,
		LoadConfig: func() (*conf.Config, error) { return loadRunnableConfig(files) },
		Cloud: func(ctx context.Context, cfg *conf.Config) (daemon.Cloud, error) {
			return buildCloud(ctx, cfg, clock.Real{}, log)
		},
		Flows: func(cfg *conf.Config, cloud compute.Cloud) (map[conf.FlowKind]*engine.Flow, error) {
			st, err := buildSetup(cfg, engineParts{Cloud: cloud, Log: log})
			if err != nil {
				return nil, err
			}
			return st.Flows, nil
		},
	})
	var ce *daemon.ConfigError
	if errors.As(err, &ce) {
		return exitCode(2, err)
	}
	if err != nil {
		return exitCode(1, err)
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case sig := <-sigs:
				if sig == syscall.SIGHUP {
					d.Reload() // it logs why a configuration was refused
					continue
				}
				log.Infof("received %s: shutting down", sig)
				stop()
				return
			}
		}
	}()
	if err := d.Run(runCtx); err != nil {
		return exitCode(1, err)
	}
	return nil
}
