// Package daemon is the life cycle of kaifuku serve: it opens the database,
// builds the compute backend and the engine, serves the Masakari API,
// reloads the configuration and stops gracefully. The command line composes
// it with the concrete parts it must not import (the built-in tasks, the
// compute drivers) and turns signals into Reload and the end of Run.
package daemon

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/api"
	"github.com/kaifuku-ha/kaifuku/engine/budget"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
	"github.com/kaifuku-ha/kaifuku/engine/dashboard"
	"github.com/kaifuku-ha/kaifuku/engine/db"
	"github.com/kaifuku-ha/kaifuku/engine/metrics"
	"github.com/kaifuku-ha/kaifuku/engine/recovery"
	"github.com/kaifuku-ha/kaifuku/engine/service"
)

// Cloud is the compute backend [compute] names.
type Cloud struct {
	Compute compute.Cloud
	// Simulated is the simulated cloud itself when [compute] driver is
	// simulated (its counters and host controls feed the debug endpoints);
	// nil otherwise.
	Simulated *simulated.Cloud
	// Describe says which cloud it is, for the start-up log.
	Describe string
}

// Deps are the parts the daemon is composed from.
type Deps struct {
	Log *logrus.Logger
	// Out receives the first start's note on the token file it created
	// (standard output for kaifuku serve); nil discards it.
	Out io.Writer
	// LoadConfig reads the configuration again, for Reload.
	LoadConfig func() (*conf.Config, error)
	// Cloud builds the compute backend of a configuration at start. When it
	// fails because the cloud is unreachable (an error wrapping
	// compute.ErrUnavailable: Keystone or Nova down), the daemon serves
	// anyway and calls it again in the background, with back-off, until it
	// succeeds; the engine recovers notifications only from then on.
	Cloud func(context.Context, *conf.Config) (Cloud, error)
	// CloudBackoff and CloudBackoffMax are the first and the longest wait
	// between those attempts (default 1 s, doubled up to 30 s).
	CloudBackoff, CloudBackoffMax time.Duration
	// Flows builds the four recovery flows of a configuration (the built-in
	// tasks and the operator's Lua scripts) on cloud: at start and on every
	// reload. It returns every problem at once.
	Flows func(*conf.Config, compute.Cloud) (map[conf.FlowKind]*engine.Flow, error)
}

// ConfigError is a start-up failure the operator's input causes: a bad or
// unreadable setting, a state directory that cannot be created, an address
// in use. kaifuku serve exits 2 on it and 1 on other failures.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configError(err error) error { return &ConfigError{Err: err} }

// Daemon is a started kaifuku serve: New opens and listens, Run serves
// until its context ends, Reload applies a new configuration meanwhile.
type Daemon struct {
	deps    Deps
	log     *logrus.Logger
	db      *db.DB
	cloud   Cloud
	svc     *service.Service
	api     *api.Server
	metrics *metrics.Metrics
	ln      net.Listener
	tls     *tls.Config   // nil: plain HTTP
	ks      *keystoneAuth // nil unless auth_strategy is keystone
	// late is the compute backend the engine and the API use: the cloud,
	// or until it is reached, the failure to reach it.
	late        *lateCloud
	slots       *budget.Slots      // [compute] max_concurrent_evacuations
	stopConnect context.CancelFunc // ends the background connection

	// engineMu guards starting the engine, which happens once both Run has
	// begun and the cloud is reached, and never once shutdown has begun.
	engineMu      sync.Mutex
	engineCtx     context.Context // nil before Run
	engineStarted bool
	stopping      bool

	mu    sync.Mutex // serialises Reload and guards cfg and flows
	cfg   *conf.Config
	flows map[conf.FlowKind]*engine.Flow // the running flows, for the dashboard
	// loaded is the outcome of the last configuration load, the start's or
	// a reload's, for /healthz (read without waiting for a reload).
	loaded atomic.Pointer[loadOutcome]

	closeOnce sync.Once
}

// New starts a daemon of cfg: it creates the state directory and the token
// file, opens the database (releasing what a previous single-node start
// left running), builds the cloud and the engine and listens on
// [api] listen. It serves nothing before Run. Start-up problems of the
// configuration are *ConfigError.
func New(ctx context.Context, cfg *conf.Config, deps Deps) (*Daemon, error) {
	if deps.Out == nil {
		deps.Out = io.Discard
	}
	log := deps.Log
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return nil, configError(fmt.Errorf("[DEFAULT] state_dir: %w (run kaifuku serve as a user who may create it, or set [DEFAULT] state_dir in a configuration file)", err))
	}
	createdToken := false
	if cfg.API.AuthStrategy == "noauth" {
		log.Warn("[api] auth_strategy = noauth: the API accepts every request without a token; use it only for tests")
	} else if usesTokenFile(cfg) {
		var err error
		if createdToken, err = ensureTokenFile(cfg.API.TokenFile); err != nil {
			return nil, configError(err)
		}
	}
	settings, ks, err := apiSettings(cfg, nil, log)
	if err != nil {
		return nil, configError(err)
	}
	for _, l := range describeAuth(cfg, settings) {
		log.Info(l)
	}
	d := &Daemon{deps: deps, log: log, cfg: cfg, metrics: metrics.New(), ks: ks}
	if d.tls, err = serverTLS(cfg.API); err != nil {
		return nil, configError(err)
	}
	if d.db, err = db.Open(ctx, cfg.Database.Connection); err != nil {
		return nil, configError(fmt.Errorf("[database] connection: %w", err))
	}
	if err := d.start(ctx, cfg, settings); err != nil {
		d.db.Close()
		return nil, err
	}
	// Say how to use the new token only once the daemon can be used.
	if createdToken {
		fmt.Fprintf(deps.Out, "kaifuku: created %s with a random API token (mode 0600); keep it secret.\n", cfg.API.TokenFile)
		fmt.Fprintf(deps.Out, "kaifuku: try: openstack --os-auth-type admin_token --os-token \"$(head -n1 %s)\" --os-endpoint %s segment list\n",
			shellQuote(cfg.API.TokenFile), d.scheme()+strings.TrimPrefix(endpointURL(cfg.API.Listen), "http"))
	}
	return d, nil
}

// limitText says a [compute] budget option's value, 0 being none.
func limitText(n int) string {
	if n <= 0 {
		return "any number of"
	}
	return strconv.Itoa(n)
}

// start is New once the database is open: on an error the caller closes it.
func (d *Daemon) start(ctx context.Context, cfg *conf.Config, settings api.Settings) error {
	if d.db.Dialect().SingleNode {
		n, err := d.db.ReleaseAll(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			d.log.Infof("%d notification(s) were left running by the previous start; resuming them", n)
		}
	}
	d.late = &lateCloud{}
	cloud, err := d.deps.Cloud(ctx, cfg)
	switch {
	case err == nil:
		d.late.set(cloud.Compute)
		d.cloud.Simulated = cloud.Simulated
		d.log.Infof("compute: %s", cloud.Describe)
		d.metrics.ComputeAvailable(true)
	case unreachable(err):
		d.late.failed(err)
		d.metrics.ComputeAvailable(false)
		d.log.Warnf("compute unavailable: %v; serving the API meanwhile: notifications are accepted and recovered once it answers", err)
		d.connectInBackground(cfg)
	default:
		return configError(err)
	}
	// Every write of a recovery checks its lease first (service.process),
	// once the request budget let it through.
	d.cloud.Compute = budget.Limit(compute.Guarded(d.metrics.Compute(d.late)), clock.Real{}, float64(cfg.Compute.MaxRequestsPerSecond))
	// One bound on evacuations for every recovery, kept across reloads.
	d.slots = budget.NewSlots(clock.Real{}, cfg.Compute.MaxConcurrentEvacuations)
	if n, r := cfg.Compute.MaxConcurrentEvacuations, cfg.Compute.MaxRequestsPerSecond; n > 0 || r > 0 {
		d.log.Infof("compute budget: at most %s evacuations in flight across hosts, %s requests per second", limitText(n), limitText(r))
	}

	d.svc = service.New(d.db, d.log)
	d.svc.Observer = d.metrics
	eng, err := d.buildEngine(cfg)
	if err != nil {
		return configError(err)
	}
	d.svc.SetEngine(eng)
	d.flows = eng.Manager.Flows
	d.reportUnfenced(cfg, d.flows)

	if d.api, err = api.New(d.db, computeChecker(d.cloud.Compute), d.log, settings); err != nil {
		return err
	}
	d.routes()
	d.recordLoad(nil)
	if d.ln, err = net.Listen("tcp", cfg.API.Listen); err != nil {
		return configError(fmt.Errorf("[api] listen: %w", err))
	}
	return nil
}

// connectInBackground builds the cloud of cfg again and again until it
// answers, then hands it to the engine and starts the engine if Run has
// begun. Close ends it.
func (d *Daemon) connectInBackground(cfg *conf.Config) {
	ctx, cancel := context.WithCancel(context.Background())
	d.stopConnect = cancel
	first, longest := d.deps.CloudBackoff, d.deps.CloudBackoffMax
	if first <= 0 {
		first = defaultCloudBackoff
	}
	if longest <= 0 {
		longest = defaultCloudBackoffMax
	}
	go func() {
		c := d.connect(ctx, cfg, first, max(first, longest))
		if c == nil {
			return
		}
		d.late.set(c.Compute)
		d.metrics.ComputeAvailable(true)
		d.log.Infof("compute: %s (connected after %s)", c.Describe, time.Since(d.late.state().since).Round(time.Millisecond))
		d.startEngine()
	}()
}

// startEngine starts the engine once Run has begun and the cloud is
// reached, unless shutdown has begun; it does nothing the second time.
func (d *Daemon) startEngine() {
	d.engineMu.Lock()
	defer d.engineMu.Unlock()
	if d.engineCtx == nil || d.engineStarted || d.stopping || !d.late.state().available {
		return
	}
	d.engineStarted = true
	d.svc.Start(d.engineCtx)
}

// routes adds the endpoints beside the Masakari API.
func (d *Daemon) routes() {
	d.api.Created = func(db.Notification) { d.svc.Wake() }
	d.api.Observe = d.metrics.Request
	d.api.Extra["/healthz"] = http.HandlerFunc(d.healthz)
	d.api.Extra["/metrics"] = d.metrics.Handler()
	d.metrics.CountStored(d.db.NotificationCounts)
	d.api.Extra["/debug/cloud"] = d.api.Protect(http.HandlerFunc(d.debugCloud))
	if d.cloud.Simulated != nil {
		d.api.Extra["/debug/cloud/hosts/"] = d.api.Protect(simHostControl(d.cloud.Simulated))
	}
	d.api.Extra["/debug/pprof/profile"] = d.api.Protect(http.HandlerFunc(pprof.Profile))
	d.api.Extra["/debug/pprof/heap"] = d.api.Protect(pprof.Handler("heap"))
	d.api.Extra[dashboard.Prefix] = dashboard.New(dashboard.Options{API: d.api, Flows: d.runningFlows, Log: d.log})
}

// runningFlows are the flows of the configuration in force.
func (d *Daemon) runningFlows() map[conf.FlowKind]*engine.Flow {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.flows
}

// Addr is the address the API listens on.
func (d *Daemon) Addr() net.Addr { return d.ln.Addr() }

// Run serves the API and runs the engine until ctx ends, then stops
// gracefully: it stops accepting requests, lets running tasks reach a task
// boundary within [api] grace_period and returns nil; runs still going
// after it are cancelled and resume on the next start. It returns an error
// when the API server fails. Run releases everything New opened; call it
// once.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.Close()
	srv := newServer(dashboard.Root(d.api), d.config().API.ClientTimeout)
	srv.TLSConfig = d.tls
	// The engine outlives ctx by the grace period: shutdown ends it.
	engineCtx, hardStop := context.WithCancel(context.WithoutCancel(ctx))
	defer hardStop()
	d.engineMu.Lock()
	d.engineCtx = engineCtx
	d.engineMu.Unlock()
	d.startEngine()

	serveErr := make(chan error, 1)
	go func() {
		if d.tls != nil {
			serveErr <- srv.ServeTLS(d.ln, "", "") // the certificate is in srv.TLSConfig
			return
		}
		serveErr <- srv.Serve(d.ln)
	}()
	d.log.Infof("kaifuku serving the Masakari API on %s://%s/v1 (auth_strategy %s, database %s, engine %s)",
		d.scheme(), d.ln.Addr(), d.config().API.AuthStrategy, d.db.Dialect().Name, d.svc.Owner())
	select {
	case err := <-serveErr:
		hardStop()
		return fmt.Errorf("api server: %w", err)
	case <-ctx.Done():
		d.shutdown(srv, hardStop)
		return nil
	}
}

// newServer is the API's HTTP server. A client has clientTimeout to send a
// request, headers and body (a slow or stalled body is cut off rather than
// held open), and an idle keep-alive connection is closed after it. There is
// no write timeout: the responses are small, except the CPU profile, which
// takes as long as asked.
func newServer(h http.Handler, clientTimeout time.Duration) *http.Server {
	if clientTimeout <= 0 {
		clientTimeout = time.Minute
	}
	return &http.Server{Handler: h, ReadHeaderTimeout: min(10*time.Second, clientTimeout), ReadTimeout: clientTimeout,
		IdleTimeout: clientTimeout, MaxHeaderBytes: 16384}
}

// shutdown stops accepting requests and drains the engine within the grace
// period, cancelling the runs still going after it.
func (d *Daemon) shutdown(srv *http.Server, hardStop context.CancelFunc) {
	grace := d.config().API.GracePeriod
	if grace <= 0 {
		grace = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	d.engineMu.Lock()
	d.stopping = true
	d.engineMu.Unlock()
	if err := srv.Shutdown(ctx); err != nil {
		d.log.Warnf("api shutdown: %v", err)
	}
	if err := d.svc.Stop(ctx); err != nil {
		d.log.Warnf("%v: cancelling them; they resume on the next start", err)
		hardStop()
		d.svc.Wait()
	}
	d.log.Info("kaifuku stopped")
}

// Close releases the listener and the database of a daemon that is not
// running (Run calls it on return).
func (d *Daemon) Close() {
	d.closeOnce.Do(func() {
		if d.stopConnect != nil {
			d.stopConnect()
		}
		d.ln.Close()
		d.db.Close()
	})
}

func (d *Daemon) config() *conf.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// buildEngine builds the flows and the manager of cfg.
func (d *Daemon) buildEngine(cfg *conf.Config) (*service.Engine, error) {
	cloud := d.cloud.Compute
	if d.cloud.Simulated != nil {
		// The port's wrappers (metrics, late start) hide the simulated
		// cloud's BMCs, which fence_host_task uses for a host without a
		// [fencing:HOST] section.
		cloud = withDevices{Cloud: cloud, Devices: d.cloud.Simulated}
	}
	flows, err := d.deps.Flows(cfg, cloud)
	if err != nil {
		return nil, err
	}
	runner := &engine.Runner{Clock: clock.Real{}, Log: d.log, Listener: engine.Listeners{d.svc.Listener(), d.metrics},
		Drain: d.svc.Drain()}
	// Reserved hosts are claimed in the database, shared by every engine
	// using it, with this engine as the owner of its claims.
	// The servers the recoveries lock are recorded there too, so that the
	// engine resuming a notification releases the locks a dead one took.
	mgr := &recovery.Manager{Runner: runner, Flows: flows, Claims: &db.ReservedHostClaims{DB: d.db, Owner: d.svc.Owner()},
		Storm: cfg.StormGuard, VMoves: d.db, ServerLocks: db.ServerLocks{DB: d.db}, Unlocker: d.cloud.Compute,
		Evacuations: d.slots}
	return &service.Engine{Manager: mgr, Options: service.OptionsFrom(cfg)}, nil
}

// Reload applies a new configuration, tasks and scripts (what SIGHUP
// does) unless they fail validation; then the running configuration stays
// and the error says why. The listen address, database and cloud stay as
// started. Reload logs its outcome itself.
func (d *Daemon) Reload() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.log.Info("SIGHUP: reloading the configuration and the scripts")
	err := d.reload()
	d.recordLoad(err)
	if err != nil {
		d.log.Errorf("reload failed; keeping the running configuration: %v", err)
		return err
	}
	d.log.Info("configuration reloaded")
	return nil
}

// loadOutcome is how a configuration load ended.
type loadOutcome struct {
	at          time.Time
	err         error
	lastSuccess time.Time
}

// recordLoad records the outcome of a load, for /healthz and the metrics.
func (d *Daemon) recordLoad(err error) {
	now := time.Now()
	o := &loadOutcome{at: now, err: err, lastSuccess: now}
	if err != nil {
		if prev := d.loaded.Load(); prev != nil {
			o.lastSuccess = prev.lastSuccess
		}
	}
	d.loaded.Store(o)
	d.metrics.Loaded(err == nil, now)
}

func (d *Daemon) reload() error {
	cfg, err := d.deps.LoadConfig()
	if err != nil {
		return err
	}
	eng, err := d.buildEngine(cfg)
	if err != nil {
		return err
	}
	settings, ks, err := apiSettings(cfg, d.ks, d.log)
	if err != nil {
		return err
	}
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
	d.api.SetSettings(settings)
	d.ks = ks
	for _, l := range describeAuth(cfg, settings) {
		d.log.Info(l)
	}
	d.cfg = cfg
	d.flows = eng.Manager.Flows
	d.reportUnfenced(cfg, d.flows)
	return nil
}
