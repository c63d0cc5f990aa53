// Package daemontest is for tests that need a running kaifuku daemon or
// its API: a configuration on a SQLite file and a simulated cloud, the
// daemon composed as kaifuku serve composes it and run in the test process
// (Env), and a client of the v1 API that speaks as Masakari's clients do
// (API). Tests of the command that drive the built binary use the client
// only.
package daemontest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/kaifuku-ha/kaifuku/builtin"
	"github.com/kaifuku-ha/kaifuku/conf"
	"github.com/kaifuku-ha/kaifuku/engine"
	"github.com/kaifuku-ha/kaifuku/engine/clock"
	"github.com/kaifuku-ha/kaifuku/engine/compute"
	"github.com/kaifuku-ha/kaifuku/engine/compute/simulated"
	"github.com/kaifuku-ha/kaifuku/engine/daemon"
	"github.com/kaifuku-ha/kaifuku/engine/script"
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Buffer collects what is written to it from several goroutines (a
// daemon's log and output).
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Env is a daemon's directory: its configuration file and the simulated
// cloud's fixture, the database, state and scripts directories beside them.
type Env struct {
	Dir    string
	Config string
	// URL is the API's address of the configuration.
	URL string
}

// NewEnv writes the fixture (the simulated cloud's JSON) and a
// configuration that serves the API on a free loopback port, keeps the
// state and a SQLite database in a temporary directory, and ends with
// extra (more sections and options).
func NewEnv(t testing.TB, fixture, extra string) *Env {
	t.Helper()
	dir := t.TempDir()
	fx := filepath.Join(dir, "cloud.json")
	if err := os.WriteFile(fx, []byte(fixture), 0o600); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	e := &Env{Dir: dir, Config: filepath.Join(dir, "kaifuku.conf"), URL: fmt.Sprintf("http://127.0.0.1:%d", port)}
	e.Write(t, fmt.Sprintf(`[DEFAULT]
state_dir = %s
scripts_dir = %s
[api]
listen = 127.0.0.1:%d
grace_period = 10
[compute]
driver = simulated
fixture = %s
[database]
connection = sqlite:///%s
%s`, filepath.Join(dir, "state"), filepath.Join(dir, "scripts"), port, fx, filepath.Join(dir, "kaifuku.db"), extra))
	return e
}

// Write replaces the configuration file.
func (e *Env) Write(t testing.TB, cfg string) {
	t.Helper()
	if err := os.WriteFile(e.Config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Deps composes the daemon as kaifuku serve does: the built-in tasks, the
// Lua scripts of scripts_dir (when it exists) and the simulated cloud of
// the fixture, on the wall clock.
func (e *Env) Deps(log *logrus.Logger, out io.Writer) daemon.Deps {
	return daemon.Deps{
		Log:        log,
		Out:        out,
		LoadConfig: func() (*conf.Config, error) { return conf.Load(e.Config) },
		Cloud: func(_ context.Context, cfg *conf.Config) (daemon.Cloud, error) {
			fx, err := simulated.LoadFixture(cfg.Compute.Fixture)
			if err != nil {
				return daemon.Cloud{}, err
			}
			c, err := simulated.New(fx, clock.Real{})
			return daemon.Cloud{Compute: c, Simulated: c, Describe: "test cloud"}, err
		},
		Flows: func(cfg *conf.Config, cloud compute.Cloud) (map[conf.FlowKind]*engine.Flow, error) {
			reg := engine.NewRegistry()
			builtin.Register(reg, cloud, cfg)
			if _, err := os.Stat(cfg.Lua.ScriptsDir); err == nil {
				if err := script.Register(reg, script.Options{Dir: cfg.Lua.ScriptsDir, Config: cfg, Cloud: cloud}); err != nil {
					return nil, err
				}
			}
			return engine.BuildAll(reg, cfg)
		},
	}
}

// Daemon is a daemon serving in the test process until the test ends, and
// a client of its API holding the token of its token file.
type Daemon struct {
	API
	D   *daemon.Daemon
	Out *Buffer // what the daemon prints for the operator
	Log *Buffer // its log
	t   testing.TB

	stop context.CancelFunc
	done chan error
}

// Start starts the daemon of e, composed by Deps.
func (e *Env) Start(t testing.TB) *Daemon {
	t.Helper()
	return e.StartWith(t, e.Deps)
}

// StartWith starts the daemon of e composed by deps. A failed test logs
// the daemon's log.
func (e *Env) StartWith(t testing.TB, deps func(*logrus.Logger, io.Writer) daemon.Deps) *Daemon {
	t.Helper()
	cfg, err := conf.Load(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	r := &Daemon{t: t, Out: &Buffer{}, Log: &Buffer{}, done: make(chan error, 1)}
	log := logrus.New()
	log.SetOutput(r.Log)
	r.D, err = daemon.New(context.Background(), cfg, deps(log, r.Out))
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	tok, err := os.ReadFile(cfg.API.TokenFile)
	if err != nil {
		t.Fatalf("token file: %v", err)
	}
	r.API = NewAPI(t, "http://"+r.D.Addr().String(), strings.TrimSpace(string(tok)))
	var ctx context.Context
	ctx, r.stop = context.WithCancel(context.Background())
	go func() { r.done <- r.D.Run(ctx) }()
	t.Cleanup(func() {
		r.Shutdown()
		if t.Failed() {
			t.Logf("daemon log:\n%s", r.Log)
		}
	})
	return r
}

// Shutdown ends Run as SIGTERM does and returns what it returned; later
// calls return nil.
func (r *Daemon) Shutdown() error {
	r.stop()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(30 * time.Second):
		r.t.Fatal("Run did not return within 30 s of the stop")
		return nil
	}
}

// WaitLog waits up to 10 s for the daemon's log to contain what.
func (r *Daemon) WaitLog(what string) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(r.Log.String(), what) {
		if time.Now().After(deadline) {
			r.t.Fatalf("the log never said %q", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
