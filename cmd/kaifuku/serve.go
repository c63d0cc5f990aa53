package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/api"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/db"
	"github.com/kaifuku-ha/kaifuku/engine/metrics"
	"github.com/kaifuku-ha/kaifuku/engine/recovery"
	"github.com/kaifuku-ha/kaifuku/engine/service"
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
is not applied, and the log says why).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), files, debug, cmd.OutOrStdout())
		},
	}
	configFlags(cmd, &files)
	cmd.Flags().BoolVar(&debug, "debug", false, "log at debug level")
	return cmd
}

// daemon is a running kaifuku serve.
type daemon struct {
	files   []string
	log     *logrus.Logger
	cfg     *conf.Config
	db      *db.DB
	cloud   builtCloud
	svc     *service.Service
	api     *api.Server
	metrics *metrics.Metrics
}

func serve(ctx context.Context, files []string, debug bool, out io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	log := logrus.New()
	log.SetOutput(os.Stderr)
	log.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "2006-01-02T15:04:05.000Z07:00"})
	if debug {
		log.SetLevel(logrus.DebugLevel)
	}
	cfg, err := loadConfig(files)
	if err != nil {
		return exitCode(2, err)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return exitCode(2, fmt.Errorf("[DEFAULT] state_dir: %w (run kaifuku serve as a user who may create it, or set [DEFAULT] state_dir in a configuration file)", err))
	}
	d := &daemon{files: files, log: log, cfg: cfg, metrics: metrics.New()}
	createdToken := false

	if cfg.API.AuthStrategy == "noauth" {
		log.Warn("[api] auth_strategy = noauth: the API accepts every request without a token; use it only for tests")
	} else if createdToken, err = ensureTokenFile(cfg.API.TokenFile); err != nil {
		return exitCode(2, err)
	}
	settings, err := apiSettings(cfg)
	if err != nil {
		return exitCode(2, err)
	}

	if d.db, err = db.Open(ctx, cfg.Database.Connection); err != nil {
		return exitCode(2, fmt.Errorf("[database] connection: %w", err))
	}
	defer d.db.Close()
	if d.db.Dialect().SingleNode {
		if n, err := d.db.ReleaseAll(ctx); err != nil {
			return exitCode(1, err)
		} else if n > 0 {
			log.Infof("%d notification(s) were left running by the previous start; resuming them", n)
		}
	}
	if d.cloud, err = buildCloud(cfg, clock.Real{}); err != nil {
		return exitCode(2, err)
	}
	log.Infof("compute: %s", d.cloud.Describe)

	d.svc = service.New(d.db, log)
	d.svc.Observer = d.metrics
	eng, kinds, err := d.buildEngine(cfg)
	if err != nil {
		return exitCode(2, err)
	}
	d.metrics.TaskKind = kinds.kind
	d.svc.SetEngine(eng)

	if d.api, err = api.New(d.db, computeChecker(d.cloud.Cloud), log, settings); err != nil {
		return exitCode(1, err)
	}
	d.api.Created = func(db.Notification) { d.svc.Wake() }
	d.api.Observe = d.metrics.Request
	d.api.Extra["/healthz"] = http.HandlerFunc(d.healthz)
	d.api.Extra["/metrics"] = d.metrics.Handler()
	d.api.Extra["/debug/cloud"] = d.api.Protect(http.HandlerFunc(d.debugCloud))
	if d.cloud.Simulated != nil {
		d.api.Extra["/debug/cloud/hosts/"] = d.api.Protect(simHostControl(d.cloud.Simulated))
	}
	d.api.Extra["/debug/pprof/profile"] = d.api.Protect(http.HandlerFunc(pprof.Profile))
	d.api.Extra["/debug/pprof/heap"] = d.api.Protect(pprof.Handler("heap"))

	ln, err := net.Listen("tcp", cfg.API.Listen)
	if err != nil {
		return exitCode(2, fmt.Errorf("[api] listen: %w", err))
	}
	// Say how to use the new token only once the daemon can be used.
	if createdToken {
		fmt.Fprintf(out, "kaifuku: created %s with a random API token (mode 0600); keep it secret.\n", cfg.API.TokenFile)
		fmt.Fprintf(out, "kaifuku: try: openstack --os-auth-type admin_token --os-token \"$(head -n1 %s)\" --os-endpoint %s segment list\n",
			shellQuote(cfg.API.TokenFile), endpointURL(cfg.API.Listen))
	}
	srv := &http.Server{Handler: d.api, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16384,
		ErrorLog: nil}

	engineCtx, hardStop := context.WithCancel(context.WithoutCancel(ctx))
	defer hardStop()
	d.svc.Start(engineCtx)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Infof("kaifuku serving the Masakari API on http://%s/v1 (auth_strategy %s, database %s, engine %s)", ln.Addr(), cfg.API.AuthStrategy, d.db.Dialect().Name, d.svc.Owner())

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	for {
		select {
		case err := <-serveErr:
			hardStop()
			return exitCode(1, fmt.Errorf("api server: %w", err))
		case <-ctx.Done():
			return d.shutdown(srv, hardStop)
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				d.reload()
				continue
			}
			log.Infof("received %s: shutting down", sig)
			return d.shutdown(srv, hardStop)
		}
	}
}

// shutdown stops accepting requests, drains the engine within the grace
// period and exits 0; runs still going after it are cancelled and resumed
// on the next start.
func (d *daemon) shutdown(srv *http.Server, hardStop context.CancelFunc) error {
	grace := d.cfg.API.GracePeriod
	if grace <= 0 {
		grace = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		d.log.Warnf("api shutdown: %v", err)
	}
	if err := d.svc.Stop(ctx); err != nil {
		d.log.Warnf("%v: cancelling them; they resume on the next start", err)
		hardStop()
		d.svc.Wait()
	}
	d.log.Info("kaifuku stopped")
	return nil
}

// taskKinds maps task names to "go" or "lua".
type taskKinds map[string]string

func (k taskKinds) kind(task string) string { return k[task] }

// buildEngine builds the registry, the flows and the manager of cfg.
func (d *daemon) buildEngine(cfg *conf.Config) (*service.Engine, taskKinds, error) {
	st, err := buildSetup(cfg, engineParts{Cloud: d.cloud.Cloud, Log: d.log})
	if err != nil {
		return nil, nil, err
	}
	kinds := taskKinds{}
	for _, f := range st.Flows {
		for _, t := range f.Tasks() {
			kinds[t.Spec.Name] = t.Spec.Kind
		}
	}
	runner := &engine.Runner{Clock: clock.Real{}, Log: d.log, Listener: engine.Listeners{d.svc.Listener(), d.metrics},
		Drain: d.svc.Drain()}
	// The reserved-host claims live in the database, shared by every engine
	// using it; each is held by a notification this engine runs.
	mgr := &recovery.Manager{Runner: runner, Flows: st.Flows, Claims: &db.ReservedHostClaims{DB: d.db, Owner: d.svc.Owner()}}
	return &service.Engine{Manager: mgr, Options: service.OptionsFrom(cfg)}, kinds, nil
}

// reload applies SIGHUP: a new configuration, tasks and scripts, unless they
// fail validation. The listen address, database and cloud stay as started.
func (d *daemon) reload() {
	d.log.Info("SIGHUP: reloading the configuration and the scripts")
	cfg, err := loadConfig(d.files)
	if err == nil {
		var eng *service.Engine
		var kinds taskKinds
		if eng, kinds, err = d.buildEngine(cfg); err == nil {
			var settings api.Settings
			if settings, err = apiSettings(cfg); err == nil {
				for what, changed := range map[string]bool{
					"[api] listen":          cfg.API.Listen != d.cfg.API.Listen,
					"[database] connection": cfg.Database.Connection != d.cfg.Database.Connection,
					"[compute]":             cfg.Compute != d.cfg.Compute,
				} {
					if changed {
						d.log.Warnf("reload: %s changed; it takes effect at the next start", what)
					}
				}
				d.svc.SetEngine(eng)
				d.metrics.TaskKind = kinds.kind
				d.api.SetSettings(settings)
				d.cfg = cfg
				d.log.Info("configuration reloaded")
				return
			}
		}
	}
	d.log.Errorf("reload failed; keeping the running configuration: %v", err)
}

func apiSettings(cfg *conf.Config) (api.Settings, error) {
	s := api.Settings{AuthStrategy: cfg.API.AuthStrategy, DuplicateWindow: cfg.Engine.DuplicateNotificationDetectionInterval,
		MaxBodyBytes: cfg.API.MaxBodyBytes}
	if cfg.API.AuthStrategy == "noauth" {
		return s, nil
	}
	tokens, err := readTokens(cfg.API.TokenFile)
	if err != nil {
		return s, err
	}
	s.Tokens = tokens
	return s, nil
}

// readTokens reads [api] token_file: one token per line, optionally
// followed by a role (default admin); blank lines and # comments skipped.
func readTokens(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("[api] token_file: %w", err)
	}
	defer f.Close()
	tokens := map[string]string{}
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		fields := strings.Fields(t)
		if len(fields) > 2 {
			return nil, fmt.Errorf("%s:%d: want a token and an optional role, got %d fields", path, line, len(fields))
		}
		role := "admin"
		if len(fields) == 2 {
			role = fields[1]
		}
		tokens[fields[0]] = role
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("[api] token_file %s: %w", path, err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("[api] token_file %s: no token in the file", path)
	}
	return tokens, nil
}

// ensureTokenFile creates the token file with a random token when it does
// not exist; created reports whether it did.
func ensureTokenFile(path string) (created bool, err error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("[api] token_file: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return false, fmt.Errorf("[api] token_file: %w", err)
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return false, fmt.Errorf("random token: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, fmt.Errorf("[api] token_file: %w", err)
	}
	if _, err := fmt.Fprintln(f, hex.EncodeToString(b)); err != nil {
		f.Close()
		return false, fmt.Errorf("[api] token_file: %w", err)
	}
	return true, f.Close()
}

func endpointURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen + "/v1"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/v1"
}

func shellQuote(s string) string {
	if strings.ContainsAny(s, " '\"$`\\") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}

// computeChecker checks a host name against the cloud's nova-compute services.
func computeChecker(c compute.Cloud) api.ComputeChecker {
	return func(ctx context.Context, name string) (bool, error) {
		svcs, err := c.ListServices(ctx, name, "nova-compute")
		if err != nil {
			return false, err
		}
		for _, s := range svcs {
			if s.Host == name {
				return true, nil
			}
		}
		return false, nil
	}
}

func (d *daemon) healthz(w http.ResponseWriter, r *http.Request) {
	n, err := d.db.CountNotifications(r.Context())
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(map[string]any{"status": "unhealthy", "error": "database: " + err.Error()})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"status": "ok", "notifications": n, "running": d.svc.Running()})
}

// debugCloud shows the cloud as the engine sees it: nova-compute services
// and the servers on each host (and, for the simulated cloud, its call
// counters).
func (d *daemon) debugCloud(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	svcs, err := d.cloud.Cloud.ListServices(ctx, "", "nova-compute")
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	servers := []compute.Server{}
	for _, s := range svcs {
		on, err := d.cloud.Cloud.ListServers(ctx, s.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		servers = append(servers, on...)
	}
	body := map[string]any{"services": svcs, "servers": servers}
	if d.cloud.Simulated != nil {
		body["counters"] = d.cloud.Simulated.Counters()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}
